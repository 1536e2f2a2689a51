import { describe, expect, test } from 'vitest'
import { createFanout } from './fanout.ts'

describe('createFanout', () => {
  test('every subscriber of a topic gets the same object; other topics get nothing', async () => {
    const fanout = createFanout<string, { n: number }>()
    const a = fanout.subscribe('x')
    const b = fanout.subscribe('x')
    const other = fanout.subscribe('y')
    const value = { n: 1 }
    expect(fanout.publish('x', value)).toBe(2)
    expect((await a.next()).value).toBe(value)
    expect((await b.next()).value).toBe(value)
    other.close()
    expect(await other.next()).toEqual({ value: undefined, done: true })
  })

  test('an initial value goes to its subscriber only', async () => {
    const fanout = createFanout<string, number>()
    const a = fanout.subscribe('x')
    const b = fanout.subscribe('x', 7)
    fanout.publish('x', 8)
    expect((await a.next()).value).toBe(8)
    expect((await b.next()).value).toBe(7)
    expect((await b.next()).value).toBe(8)
  })

  test('closing the last subscriber drops the topic and tells onEmpty; a pending next() ends at once', async () => {
    const emptied: string[] = []
    const fanout = createFanout<string, number>({ onEmpty: (key) => emptied.push(key) })
    const a = fanout.subscribe('x')
    const b = fanout.subscribe('x')
    const pending = a.next()
    a.close()
    expect(await pending).toEqual({ value: undefined, done: true })
    expect(fanout.has('x')).toBe(true)
    await b.return?.()
    expect(fanout.has('x')).toBe(false)
    expect(fanout.size).toBe(0)
    expect(emptied).toEqual(['x'])
    expect(fanout.publish('x', 1)).toBe(0)
  })

  test('a slow subscriber keeps the newest state (latest) or the newest events (oldest dropped)', async () => {
    const state = createFanout<string, number>({ maxQueued: 1, overflow: 'latest' })
    const events = createFanout<string, number>({ maxQueued: 3, overflow: 'oldest' })
    const s = state.subscribe('k')
    const e = events.subscribe('k')
    for (let i = 1; i <= 5; i++) {
      state.publish('k', i)
      events.publish('k', i)
    }
    expect((await s.next()).value).toBe(5)
    expect([(await e.next()).value, (await e.next()).value, (await e.next()).value]).toEqual([3, 4, 5])
  })

  test('take() hands over what is queued at once; ready() waits for the next value, or says the subscription closed', async () => {
    const fanout = createFanout<string, number>()
    const a = fanout.subscribe('x')
    expect(a.take()).toBeUndefined()
    const waiting = a.ready()
    let woke: boolean | undefined
    void waiting.then((value) => (woke = value))
    await Promise.resolve()
    expect(woke).toBeUndefined()
    fanout.publish('x', 1)
    fanout.publish('x', 2)
    expect(await waiting).toBe(true)
    expect(await a.ready()).toBe(true)
    expect([a.take(), a.take(), a.take()]).toEqual([1, 2, undefined])
    const closing = a.ready()
    fanout.publish('x', 3)
    a.close()
    // Closed: what was queued is gone, and waiting says so.
    expect(await closing).toBe(true)
    expect(a.take()).toBeUndefined()
    expect(await a.ready()).toBe(false)
    const b = fanout.subscribe('y')
    const pending = b.ready()
    b.close()
    expect(await pending).toBe(false)
  })
})
