import { type Listenable, type Listener, listen } from './listen.ts'

/**
 * A subscriber's values, queued from the moment of subscribing; `close()` detaches (so does `return()`). Besides the
 * iterator, `take()` hands over the next queued value at once (undefined when none is), and `ready()` waits until one
 * is queued (true) or the subscription is closed (false): a consumer that filters values takes them without a promise
 * for each. While nothing is queued it may be listened to (`listen`): each value then goes to the listener as it is
 * published, and closing tells it to pull.
 */
export type Subscription<T> = AsyncIterableIterator<T> &
  Required<Listenable<T>> & {
    close: () => void
    take: () => T | undefined
    ready: () => Promise<boolean>
  }

/**
 * What a slow subscriber keeps when its queue is full: `latest` drops everything queued for the newest value (a state
 * such as a job or the indexed head, where only the newest matters), `oldest` drops the oldest (a stream of events).
 */
export type Overflow = 'latest' | 'oldest'

/**
 * Values by topic, handed to every subscriber of the topic as the same object: publishing costs one push per
 * subscriber, whatever they later select. A subscriber holds a queue and one pending promise or its listener, nothing
 * else.
 */
export function createFanout<K, T>(
  options: {
    maxQueued?: number
    overflow?: Overflow
    /** Queues a value its own way instead (`maxQueued` and `overflow` are then unused): returns the queue to keep. */
    enqueue?: (queue: T[], value: T) => T[]
    onEmpty?: (key: K) => void
  } = {},
) {
  const maxQueued = options.maxQueued ?? 1000
  const overflow = options.overflow ?? 'oldest'
  const enqueue =
    options.enqueue ??
    ((queue: T[], value: T) => {
      if (queue.length >= maxQueued) {
        if (overflow === 'latest') queue.length = 0
        else queue.shift()
      }
      queue.push(value)
      return queue
    })
  const topics = new Map<K, Set<(value: T) => void>>()
  return {
    /** Hands `value` to every subscriber of `key`; returns how many. */
    publish(key: K, value: T): number {
      const listeners = topics.get(key)
      if (!listeners) return 0
      for (const push of listeners) push(value)
      return listeners.size
    },
    /** The topics with subscribers. */
    keys: (): K[] => [...topics.keys()],
    has: (key: K): boolean => topics.has(key),
    get size(): number {
      return topics.size
    },
    /** Subscribes to `key`; `initial` (if given) is this subscriber's first value, and only its. */
    subscribe(key: K, initial?: T): Subscription<T> {
      let queue: T[] = initial === undefined ? [] : [initial]
      // The pending `ready()`'s resolve, kept as it is rather than wrapped: tsx names every closure it compiles
      // (esbuild's keepNames), so a closure made per value would cost a `defineProperty` per value and subscriber.
      let waiting: ((ready: boolean) => void) | undefined
      let closed = false
      /** Who listens (`listen`), while nothing is queued. */
      let listener: Listener<T> | undefined
      const wake = () => {
        const resolve = waiting
        waiting = undefined
        resolve?.(!closed)
      }
      const push = (value: T) => {
        if (listener) return listener.value(value)
        queue = enqueue(queue, value)
        wake()
      }
      const listeners = topics.get(key) ?? new Set()
      topics.set(key, listeners.add(push))
      const close = () => {
        if (closed) return
        closed = true
        listeners.delete(push)
        if (!listeners.size && topics.get(key) === listeners) {
          topics.delete(key)
          options.onEmpty?.(key)
        }
        queue = []
        wake()
        const last = listener
        listener = undefined
        last?.pull()
      }
      const ready = (): Promise<boolean> => {
        if (closed || queue.length) return Promise.resolve(!closed)
        return new Promise<boolean>((resolve) => {
          waiting = resolve
        })
      }
      const iterator: Subscription<T> = {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (closed) return { value: undefined, done: true }
            if (queue.length) return { value: queue.shift() as T, done: false }
            await ready()
          }
        },
        // Closing empties the queue, so a closed subscription hands over nothing.
        take: () => queue.shift(),
        ready,
        async return(): Promise<IteratorResult<T>> {
          close()
          return { value: undefined, done: true }
        },
        [Symbol.asyncIterator]() {
          return iterator
        },
        close,
        [listen](next) {
          if (closed || queue.length || listener) return undefined
          listener = next
          return () => {
            if (listener === next) listener = undefined
          }
        },
      }
      return iterator
    },
  }
}
