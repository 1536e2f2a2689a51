import { describe, expect, test } from 'vitest'
import { TesseraError } from './errors.ts'
import { backoff, nextDelay, retry, sleep } from './retry.ts'

class Permanent extends TesseraError {
  override name = 'Permanent'
}

describe('retry', () => {
  test('retries transient failures with the shared backoff until one succeeds', async () => {
    const waits: number[] = []
    let last = Date.now()
    let calls = 0
    const result = await retry(
      async () => {
        const now = Date.now()
        if (calls > 0) waits.push(now - last)
        last = now
        if (++calls < 3) throw new TesseraError('busy', { retryable: true })
        return 'ok'
      },
      { onRetry: (_error, attempt) => expect(attempt).toBe(calls) },
    )
    expect(result).toBe('ok')
    expect(calls).toBe(3)
    expect(waits[0]).toBeGreaterThanOrEqual(backoff.initialMs - 5)
    expect(waits[1]).toBeGreaterThanOrEqual(2 * backoff.initialMs - 5)
  })

  test('throws a non-retryable error at once', async () => {
    let calls = 0
    const error = new Permanent('bad input')
    await expect(
      retry(async () => {
        calls++
        throw error
      }),
    ).rejects.toBe(error)
    expect(calls).toBe(1)
  })

  test('gives up when the next wait would pass the deadline, or once aborted', async () => {
    let calls = 0
    const failing = async () => {
      calls++
      throw new Error('network down')
    }
    await expect(retry(failing, { untilMs: Date.now() + 100 })).rejects.toThrow('network down')
    expect(calls).toBe(1)
    const controller = new AbortController()
    calls = 0
    const attempt = retry(failing, { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await expect(attempt).rejects.toThrow('network down')
    expect(calls).toBe(2)
  })

  test('backoff doubles up to its maximum', () => {
    expect(nextDelay(backoff.initialMs)).toBe(500)
    expect(nextDelay(4000)).toBe(backoff.maxMs)
    expect(nextDelay(backoff.maxMs)).toBe(backoff.maxMs)
  })

  test('sleep ends early when aborted', async () => {
    const controller = new AbortController()
    const started = Date.now()
    setTimeout(() => controller.abort(), 20)
    await sleep(10_000, controller.signal)
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
