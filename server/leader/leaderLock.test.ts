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
