import { describe, expect, test } from 'vitest'
import { createFanout } from './fanout.ts'
import { type Listener, listen, listenWhileLive } from './listen.ts'

// Listening to a fan-out subscription (server/listen.ts): values in the publisher's own call while nothing is queued,
// queued for `next()` otherwise, never reordered between the two ways.

/** A listener that notes what it gets, and how often it was told to pull. */
function noting() {
  const values: number[] = []
  let pulls = 0
  const listener: Listener<number> = { value: (v) => void values.push(v), pull: () => void pulls++ }
  return { listener, values, pulls: () => pulls }
}

describe('a fan-out subscription listened to', () => {
  test('gets each value in the publisher’s call while nothing is queued; stopped, values queue for next() again', async () => {
    const fanout = createFanout<string, number>()
    const sub = fanout.subscribe('x', 1)
    const { listener, values } = noting()
    // Its initial value is queued: next() first.
    expect(sub[listen](listener)).toBeUndefined()
    expect((await sub.next()).value).toBe(1)
    const stop = sub[listen](listener)
    expect(stop).toBeTypeOf('function')
    // One listener at a time.
    expect(sub[listen](noting().listener)).toBeUndefined()
    fanout.publish('x', 2)
    expect(values).toEqual([2])
    stop?.()
    fanout.publish('x', 3)
    fanout.publish('x', 4)
    expect(values).toEqual([2])
    // Queued again: no listening until next() has taken them, in order.
    expect(sub[listen](listener)).toBeUndefined()
    expect((await sub.next()).value).toBe(3)
    expect(sub.take()).toBe(4)
    expect(sub[listen](listener)).toBeTypeOf('function')
    fanout.publish('x', 5)
    expect(values).toEqual([2, 5])
  })

  test('closing tells the listener to pull, and next() then ends', async () => {
    const fanout = createFanout<string, number>({ onEmpty: () => {} })
    const sub = fanout.subscribe('x')
    const { listener, pulls } = noting()
    sub[listen](listener)
    sub.close()
    expect(pulls()).toBe(1)
    expect(await sub.next()).toEqual({ value: undefined, done: true })
    expect(sub[listen](listener)).toBeUndefined()
    expect(fanout.has('x')).toBe(false)
  })
})

describe('listenWhileLive', () => {
  test('is undefined for a stream that cannot be listened to: an async generator, a subscription with values queued', async () => {
    async function* numbers() {
      yield 1
    }
    expect(listenWhileLive(numbers(), () => true)).toBeUndefined()
    const fanout = createFanout<string, number>()
    const sub = fanout.subscribe('x', 1)
    expect(listenWhileLive(sub, () => true)).toBeUndefined()
  })

  test('resolves once the writer is full, and rejects with what it threw; the publisher goes on to every other subscriber', async () => {
    const fanout = createFanout<string, number>()
    const failing = fanout.subscribe('x')
    const filling = fanout.subscribe('x')
    const written: number[] = []
    const failed = listenWhileLive<number>(failing, () => {
      throw new Error('the socket broke')
    })
    const full = listenWhileLive<number>(filling, (v) => {
      written.push(v)
      return v < 2
    })
    // The first subscriber's writer throws: the second still gets the value, in the same call.
    fanout.publish('x', 1)
    expect(written).toEqual([1])
    await expect(failed).rejects.toThrow('the socket broke')
    let settled = false
    void full?.then(() => {
      settled = true
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(settled).toBe(false)
    // Full after 2: it stops listening, so 3 waits for next(). The failed one stopped at 1, so 2 and 3 wait for its.
    fanout.publish('x', 2)
    fanout.publish('x', 3)
    await full
    expect(written).toEqual([1, 2])
    expect((await filling.next()).value).toBe(3)
    expect((await failing.next()).value).toBe(2)
    expect((await failing.next()).value).toBe(3)
  })

  test('resolves when the stream asks to pull (it closed), so the reader’s next() sees the end', async () => {
    const fanout = createFanout<string, number>()
    const sub = fanout.subscribe('x')
    const listening = listenWhileLive<number>(sub, () => true)
    sub.close()
    await listening
    expect(await sub.next()).toEqual({ value: undefined, done: true })
  })
})
