import { isRetryable } from './errors.ts'

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** The backoff every Tessera retry loop uses: 250 ms, doubling, at most 5 s. */
export const backoff = { initialMs: 250, maxMs: 5000 } as const

/** The delay after `delayMs`: doubled, capped at {@link backoff}'s maximum. */
export function nextDelay(delayMs: number): number {
  return Math.min(backoff.maxMs, delayMs * 2)
}

export type RetryParameters = {
  /** Wall clock (ms since the epoch) past which no new attempt starts. Default: no limit. */
  untilMs?: number
  /** Stops retrying (the last error is thrown) once aborted. */
  signal?: AbortSignal
  /** Called before each wait, with the error and the attempt that failed. */
  onRetry?: (error: unknown, attempt: number) => void
}

/**
 * Calls `fn` until it succeeds. Throws the last error when it isn't retryable ({@link isRetryable}), the next wait
 * would end past `untilMs`, or `signal` aborted. Waits back off per {@link backoff}.
 */
export async function retry<T>(fn: () => Promise<T>, parameters: RetryParameters = {}): Promise<T> {
  let delay: number = backoff.initialMs
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (parameters.signal?.aborted || !isRetryable(error) || Date.now() + delay > (parameters.untilMs ?? Number.POSITIVE_INFINITY))
        throw error
      parameters.onRetry?.(error, attempt)
      await sleep(delay, parameters.signal)
      delay = nextDelay(delay)
    }
  }
}
