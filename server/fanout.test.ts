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
})
