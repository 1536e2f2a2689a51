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
 * and drops what it already delivered, so each (job, provider, round) comes once. When the bus says events may have
 * been lost (`resync`: it reconnected, or this subscriber fell behind), it replays from Postgres again after the last
 * one delivered. A malformed `after` throws a `UserInputError` at once; `return()` stops listening at once.
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
  async function* replay(): AsyncGenerator<AssignmentEvent> {
    for (;;) {
      const replayed = await findAssignmentsAfter(views, { provider, after: position, limit: replayBatch })
      for (const assignment of replayed) {
        position = positionOf(assignment)
        yield assignment
      }
      if (replayed.length < replayBatch) return
    }
  }
  async function* stream(): AsyncGenerator<AssignmentEvent> {
    try {
      yield* replay()
      for await (const message of live) {
        if (message.type === 'resync') {
          yield* replay()
          continue
        }
        const event = message.assignment
        if (position && !isAfter(event, position)) continue
        position = positionOf(event)
        yield event
      }
    } finally {
      live.close()
    }
  }
  const generator = stream()
  const finish = generator.return.bind(generator)
  // A pending `next()` waits on the bus: close that first, or `return()` would queue behind it until the provider's
  // next assignment came (a closed connection's subscription lingering till then).
  generator.return = (value) => {
    live.close()
    return finish(value)
  }
  return generator
}
