import type { Address } from 'viem'
import { decodeAssignmentCursor, findAssignmentsAfter, isAfter, positionOf } from './db/assignments.ts'
import type { Views } from './db/database.ts'
import type { FeedPosition } from './db/feedCursors.ts'
import type { AssignmentEvent, AssignmentPubSub } from './pubsub.ts'

/** Rows replayed from Postgres per query while catching a subscriber up. */
const replayBatch = 500

/**
 * A provider's assignments in feed order: first those after the cursor `after` replayed from Postgres (all of them
 * without it), then live ones from `pubsub`. It listens before replaying, so nothing published meanwhile is lost,
 * and drops what the replay already delivered, so each (job, provider, round) comes once. A malformed `after` throws
 * a `UserInputError` at once; returning from the iterator stops listening.
 */
export function streamAssignments(parameters: {
  views: Views
  pubsub: AssignmentPubSub
  provider: Address
  after?: string | null
}): AsyncGenerator<AssignmentEvent> {
  const { views } = parameters
  let position: FeedPosition | undefined = parameters.after ? decodeAssignmentCursor(parameters.after) : undefined
  const provider = parameters.provider.toLowerCase()
  const live = parameters.pubsub.subscribe(provider)
  async function* stream(): AsyncGenerator<AssignmentEvent> {
    try {
      for (;;) {
        const replayed = await findAssignmentsAfter(views, { provider, after: position, limit: replayBatch })
        for (const assignment of replayed) {
          position = positionOf(assignment)
          yield assignment
        }
        if (replayed.length < replayBatch) break
      }
      for await (const event of live) {
        if (position && !isAfter(event, position)) continue
        position = positionOf(event)
        yield event
      }
    } finally {
      live.close()
    }
  }
  return stream()
}
