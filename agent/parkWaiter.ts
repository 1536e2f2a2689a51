/** One caller waiting in a set until whoever holds the set resolves it (and takes it out). */
export type Waiter<T> = { resolve: (value: T) => void }

/**
 * Puts a waiter made of `fields` into `waiters` and resolves with what it is resolved with: by whoever holds the set
 * (which deletes it first), or, once `maxWaitMs` passed, with what `timeUp` answers (it must not reject), or, when
 * `signal` aborts, with `aborted()`. Each way takes it out of the set, and only the first counts.
 */
export function parkWaiter<T, W extends Waiter<T>>(
  waiters: Set<W>,
  fields: Omit<W, 'resolve'>,
  options: { maxWaitMs: number; signal?: AbortSignal; timeUp: () => Promise<T>; aborted: () => T },
): Promise<T> {
  const { signal } = options
  return new Promise((resolve) => {
    const waiter = {
      ...fields,
      resolve: (value: T) => {
        clearTimeout(expiry)
        signal?.removeEventListener('abort', giveUp)
        resolve(value)
      },
    } as W
    function giveUp() {
      if (waiters.delete(waiter)) waiter.resolve(options.aborted())
    }
    waiters.add(waiter)
    const expiry = setTimeout(() => {
      if (waiters.delete(waiter)) void options.timeUp().then(waiter.resolve)
    }, options.maxWaitMs)
    signal?.addEventListener('abort', giveUp, { once: true })
  })
}
