import type { Address } from 'viem'
import { assignmentKey, decodeAssignmentCursor, eachAssignmentAfter, isAfter } from './db/assignments.ts'
import type { Views } from './db/database.ts'
import type { FeedPosition } from './db/feedCursors.ts'
import { type Listenable, type Listener, listen } from './listen.ts'
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
 * `UserInputError` at once; `return()` stops listening at once. Caught up and with nothing queued, it may be listened
 * to (server/listen.ts): live events then go to the listener in the bus's own call.
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
  /** The latest position delivered (or `after`), and where its window starts. */
  let position: FeedPosition | undefined = after
  let window = position && windowStart(position, windowBlocks)
  /** The positions of the assignments delivered in the window below `position`, by `assignmentKey`, oldest first. */
  const delivered = new Map<string, FeedPosition>()
  const provider = parameters.provider.toLowerCase()
  const live = parameters.pubsub.subscribe(provider)

  const isNew = (event: AssignmentEvent) =>
    !delivered.has(keyOf(event)) && (!after || isAfter(event, after)) && (!position || isAfter(event, position) || inWindow(event, window))
  // An event is its own position: the bus hands every subscriber of a provider the same event object, so keeping it
  // costs a subscriber no copy.
  const deliver = (event: AssignmentEvent) => {
    delivered.set(keyOf(event), event)
    if (position && !isAfter(event, position)) return
    position = event
    window = windowStart(position, windowBlocks)
    // Oldest first, so the ones the window left are at the front. One delivered late (in the window, below the
    // latest) may sit behind a newer one and go a little later: out of the window it can't be delivered again anyway,
    // and a retraction of it is still one of an assignment this subscription delivered.
    for (const [key, at] of delivered) {
      if (inWindow(at, window)) break
      delivered.delete(key)
    }
  }

  async function* replay(): AsyncGenerator<AssignmentEvent> {
    const from = after && (!window || isAfter(after, window)) ? after : window
    for await (const row of eachAssignmentAfter(views, { provider, after: from, pageSize: replayBatch })) {
      const event = toAssignmentEvent(row)
      if (!isNew(event)) continue
      deliver(event)
      yield event
    }
  }

  // By hand rather than an async generator: a live event is one step from the bus to the caller (a generator and its
  // `for await` over the bus would be several), and ten thousand agents of one provider take each step in turn.
  let replaying: AsyncGenerator<AssignmentEvent> | undefined = replay()
  let finished = false
  const finish = () => {
    finished = true
    live.close()
    void replaying?.return(undefined).catch(() => {})
    replaying = undefined
  }
  const done: IteratorReturnResult<undefined> = { value: undefined, done: true }
  /** What a live event hands over: itself, the retraction of one delivered, or nothing (one delivered already). */
  const liveEvent = (event: AssignmentEvent): AssignmentEvent | undefined => {
    if (event.retracted) return delivered.delete(keyOf(event)) ? event : undefined
    if (!isNew(event)) return undefined
    deliver(event)
    return event
  }
  /** The next assignment to deliver; one call at a time, as every consumer of an async iterator makes them. */
  async function next(): Promise<IteratorResult<AssignmentEvent, undefined>> {
    try {
      for (;;) {
        if (finished) return done
        if (replaying) {
          const step = await replaying.next()
          if (finished) return done
          if (!step.done) return step
          replaying = undefined
          continue
        }
        const message = live.take()
        if (message === undefined) {
          // A pending call waits on the bus; `return()` closes that, so a closed connection's subscription ends now
          // rather than at the provider's next assignment.
          if (!(await live.ready())) finish()
          continue
        }
        if (message.type === 'resync') {
          replaying = replay()
          continue
        }
        const event = liveEvent(message.assignment)
        if (event) return { value: event, done: false }
      }
    } catch (error) {
      finish()
      throw error
    }
  }
  /**
   * Live events straight from the bus while caught up (`listen`): each goes to the listener in the bus's own call. A
   * resync stops listening and replays through `next()`.
   */
  const listenLive = (listener: Listener<AssignmentEvent>) => {
    if (finished || replaying) return undefined
    const stop = live[listen]({
      value: (message) => {
        if (message.type === 'resync') {
          stop?.()
          replaying = replay()
          return listener.pull()
        }
        const event = liveEvent(message.assignment)
        if (event) listener.value(event)
      },
      pull: listener.pull,
    })
    return stop
  }
  const stream: AsyncGenerator<AssignmentEvent, undefined> & Listenable<AssignmentEvent> = {
    next,
    [listen]: listenLive,
    async return() {
      finish()
      return done
    },
    async throw(error) {
      finish()
      throw error
    },
    [Symbol.asyncIterator]: () => stream,
    async [Symbol.asyncDispose]() {
      finish()
    },
  }
  return stream
}

/** Keys by event: the bus hands every subscriber of a provider the same event object, so its key is made once. */
const keys = new WeakMap<AssignmentEvent, string>()
function keyOf(event: AssignmentEvent): string {
  let key = keys.get(event)
  if (key === undefined) {
    key = assignmentKey(event)
    keys.set(event, key)
  }
  return key
}
