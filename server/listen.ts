/**
 * A live stream's second way to hand over its values, beside `next()`. While a consumer listens, each value goes
 * straight to it as it comes, in the publisher's own call: no promise and no step of an async iterator per value. Ten
 * thousand subscribers of one event would otherwise take each step in turn, and the last copy would leave only after
 * all of them had taken every step. A stream offers it only while nothing is queued for `next()`; once it holds
 * something only `next()` hands over (a resync, a replay, its end), it stops listening and says so (`pull`). Values
 * then wait in its queue as they always do, so the two ways never reorder them.
 */
export const listen: unique symbol = Symbol('tessera.listen')

/** What a listening consumer gets from a stream. */
export type Listener<T> = {
  /** The stream's next value, in order. */
  value: (value: T) => void
  /** The stream stopped listening: `next()` hands over what comes next. */
  pull: () => void
}

/**
 * A stream that may be listened to: `[listen]` returns what stops listening, or undefined when the stream can't be
 * listened to now (it has values queued, or is replaying): call `next()`.
 */
export type Listenable<T> = { [listen]?: (listener: Listener<T>) => (() => void) | undefined }

/**
 * Listens to `stream` when it can be listened to now, handing each value to `write`; resolves once the consumer should
 * call `next()` again: the stream asked for it (`pull`), or `write` returned false (the consumer can't take more now, a
 * full socket say). Rejects with what `write` threw, as `next()` would have: the publisher's loop, which called it,
 * goes on to every other subscriber. Undefined when the stream can't be listened to now. A value already on its way
 * when listening stops (a result still being computed) still goes to `write`, before anything `next()` hands over.
 */
export function listenWhileLive<T>(stream: unknown, write: (value: T) => boolean): Promise<void> | undefined {
  const start = (stream as Listenable<T>)[listen]
  if (!start) return undefined
  let resume!: () => void
  let fail!: (error: unknown) => void
  const resumed = new Promise<void>((resolve, reject) => {
    resume = resolve
    fail = reject
  })
  const stop = start.call(stream, {
    value: (value) => {
      try {
        if (write(value)) return
        stop?.()
        resume()
      } catch (error) {
        stop?.()
        fail(error)
      }
    },
    pull: resume,
  })
  return stop && resumed
}

/** Where a transport writes a stream's values (`writeEach`). */
export type Sink<T> = {
  /** Writes one value; false when the connection is full (or gone). */
  write: (value: T) => boolean
  /** What to wait for before the next write, once a write found the connection full; undefined when it is not. */
  writable: () => Promise<void> | undefined
  /** Whether the connection went: nothing more is written. */
  closed?: () => boolean
}

/**
 * Writes each value of `stream` to `sink` until the stream ends (true) or the connection goes (false), as both
 * transports do: listening while the stream can be listened to ({@link listenWhileLive}), `next()` otherwise, and
 * waiting for a full connection to take more before the next value.
 */
export async function writeEach<T>(stream: AsyncIterator<T>, sink: Sink<T>): Promise<boolean> {
  const whenWritable = async () => {
    const writable = sink.writable()
    if (writable) await writable
  }
  for (;;) {
    await listenWhileLive(stream, sink.write)
    await whenWritable()
    if (sink.closed?.()) return false
    const step = await stream.next()
    if (sink.closed?.()) return false
    if (step.done) return true
    if (!sink.write(step.value)) await whenWritable()
  }
}

/**
 * Runs `turn` every `intervalMs`, from a random phase of the interval: connections opened together (agents
 * reconnecting after a restart) would otherwise all be pinged in the same turn of the loop, ten thousand writes at once,
 * every interval. Returns what stops it.
 */
export function everyAtOwnPhase(intervalMs: number, turn: () => void): () => void {
  let timer = setTimeout(() => {
    timer = setInterval(turn, intervalMs)
    turn()
  }, Math.random() * intervalMs)
  // Timeouts and intervals are cleared alike.
  return () => clearTimeout(timer)
}
