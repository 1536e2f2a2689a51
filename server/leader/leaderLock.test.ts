import { afterAll, beforeAll, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { createLeaderLock } from './leaderLock.ts'

let database: TestDatabase
beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(async () => {
  await database?.drop()
})

test('exactly one replica holds the lock; another takes over when it lets go', async () => {
  const a = createLeaderLock({ databaseUrl: database.url, name: 'tessera-leader:test' })
  const b = createLeaderLock({ databaseUrl: database.url, name: 'tessera-leader:test' })
  expect(await a.acquire()).toBe(true)
  expect(await b.acquire()).toBe(false)
  expect(await a.acquire()).toBe(true)
  await a.release()
  expect(await b.acquire()).toBe(true)
  expect(await a.acquire()).toBe(false)
  await b.release()
  await a.release()
})

test('a leader gone silent (frozen, cut off) loses the lock to Postgres after its session timeout; a live one keeps it', async () => {
  const name = 'tessera-leader:silent'
  const lost: Error[] = []
  // keepAliveMs far beyond the timeout: the session idles as a frozen process's would.
  const silent = createLeaderLock({
    databaseUrl: database.url,
    name,
    sessionTimeoutMs: 1000,
    keepAliveMs: 60_000,
    onLost: (e) => lost.push(e),
  })
  const live = createLeaderLock({ databaseUrl: database.url, name: 'tessera-leader:live', sessionTimeoutMs: 1000, keepAliveMs: 200 })
  const other = createLeaderLock({ databaseUrl: database.url, name })
  const rival = createLeaderLock({ databaseUrl: database.url, name: 'tessera-leader:live' })
  expect(await silent.acquire()).toBe(true)
  expect(await live.acquire()).toBe(true)
  expect(await other.acquire()).toBe(false)
  const started = Date.now()
  while (!(await other.acquire())) {
    expect(Date.now() - started).toBeLessThan(5000)
    await new Promise((r) => setTimeout(r, 100))
  }
  expect(Date.now() - started).toBeGreaterThanOrEqual(800)
  expect(silent.held()).toBe(false)
  expect(lost).toHaveLength(1)
  expect(await silent.acquire()).toBe(false)
  // Twice the timeout since it was taken: the pinging session is still there.
  await new Promise((r) => setTimeout(r, 1000))
  expect(await rival.acquire()).toBe(false)
  expect(live.held()).toBe(true)
  for (const lock of [silent, live, other, rival]) await lock.release()
})
