import type { Address } from 'viem'
import { assignmentKey, decodeAssignmentCursor, eachAssignmentAfter, isAfter, positionOf } from './db/assignments.ts'
import type { Views } from './db/database.ts'
import type { FeedPosition } from './db/feedCursors.ts'
import { type AssignmentEvent, type AssignmentPubSub, toAssignmentEvent } from './pubsub.ts'
import { inWindow, reorgWindowBlocks, windowStart } from './reorgWindow.ts'

/** Rows replayed from Postgres per query while catching a subscriber up. */
const replayBatch = 500

/**
 * A provider's assignments in feed order: first those after the cursor `after` replayed from Postgres (all of them
 * without it), then live ones from `pubsub`. It listens before replaying, so nothing published meanwhile is lost.
 *
 * Each assignment comes once, told apart by `assignmentKey` (job, provider, commit deadline, position) rather than by
 * position alone, since a chain reorganisation can index one at a position already passed. So an assignment is
 * delivered when it is after the latest one delivered, or when it is in the window below that (`windowBlocks`, by
 * default `reorgWindowBlocks`) and this subscription hasn't delivered it; never at or before `after`, which the
 * subscriber has already. A retraction is delivered only for an assignment this subscription delivered, which it
 * then forgets (should the chain bring it back, it comes again).
 *
 * When the bus says events may have been lost (`resync`: it reconnected, or this subscriber fell behind), it replays
 * from Postgres again: what is after the latest one delivered, and what the window holds that it hasn't delivered. A
 * retraction lost that way stays lost (the agent re-checks the chain anyway). A malformed `after` throws a
 * `UserInputError` at once; `return()` stops listening at once.
 */
export function streamAssignments(parameters: {
  views: Views
  pubsub: AssignmentPubSub
  provider: Address
  after?: string | null
  windowBlocks?: number
}): AsyncGenerator<AssignmentEvent> {
  const { views } = parameters
  const windowBlocks = parameters.windowBlocks ?? reorgWindowBlocks
  const after = parameters.after ? decodeAssignmentCursor(parameters.after) : undefined
  /** The latest position delivered (or `after`). */
  let position: FeedPosition | undefined = after
  /** The positions of the assignments delivered in the window below `position`, by `assignmentKey`. */
  const delivered = new Map<string, FeedPosition>()
  const provider = parameters.provider.toLowerCase()
  const live = parameters.pubsub.subscribe(provider)

  const window = () => position && windowStart(position, windowBlocks)
  const isNew = (event: AssignmentEvent) =>
    !delivered.has(assignmentKey(event)) &&
    (!after || isAfter(event, after)) &&
    (!position || isAfter(event, position) || inWindow(event, window()))
  const deliver = (event: AssignmentEvent) => {
    delivered.set(assignmentKey(event), positionOf(event))
    if (position && !isAfter(event, position)) return
    position = positionOf(event)
    const start = window()
    for (const [key, at] of delivered) if (!inWindow(at, start)) delivered.delete(key)
  }

  async function* replay(): AsyncGenerator<AssignmentEvent> {
    const start = window()
    const from = after && (!start || isAfter(after, start)) ? after : start
    for await (const row of eachAssignmentAfter(views, { provider, after: from, pageSize: replayBatch })) {
      const event = toAssignmentEvent(row)
      if (!isNew(event)) continue
      deliver(event)
      yield event
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
        if (event.retracted) {
          if (delivered.delete(assignmentKey(event))) yield event
        } else if (isNew(event)) {
          deliver(event)
          yield event
        }
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
