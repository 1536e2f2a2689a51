import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { fixtureDeployment } from '../test/support/deployment.ts'
import { createQueryWorkers, type QueryWorkers } from './queryWorkers.ts'

// The query thread executes on the server's schema with a context of its own, and masks errors as the request thread
// does: a GraphQL error or a user's mistake keeps its message (and code), anything else is "Unexpected error.".

let database: TestDatabase
let dataDir: string
let workers: QueryWorkers

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-query-thread-'))
  workers = createQueryWorkers({
    // No indexer wrote this schema: a read of the indexed data fails inside a resolver.
    settings: { databaseUrl: database.url, viewsSchema: 'no_such_views', deployment: fixtureDeployment, dataDir },
    size: 2,
    log: pino({ level: 'silent' }),
  })
}, 60_000)

afterAll(async () => {
  await workers?.close()
  await database?.drop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('createQueryWorkers', () => {
  test('answers on its threads, each error masked as the request thread would', async () => {
    const [plain, mistake, broken] = await Promise.all([
      workers.execute({ source: '{ __typename }' }),
      workers.execute({ source: 'query Page($b: String) { jobs(first: 10, before: $b) { totalCount } }', variableValues: { b: 'x' } }),
      workers.execute({ source: '{ jobs(first: 10) { totalCount } }' }),
    ])
    expect(plain).toEqual({ data: { __typename: 'Query' }, errors: undefined })
    expect(mistake.errors?.map((e) => ({ message: e.message, path: e.path, code: e.extensions.code }))).toEqual([
      { message: 'only forward pagination is supported: use first and after', path: ['jobs'], code: 'BAD_USER_INPUT' },
    ])
    // The missing relation's message (and the database's internals with it) stays on the server.
    expect(broken.errors?.map((e) => e.message)).toEqual(['Unexpected error.'])
    expect(workers.executed()).toBe(3)
  })

  test('a thread that dies fails what it had in hand with a retryable error, and a new one takes its place', async () => {
    const [first] = workers.threads()
    if (!first) throw new Error('no query thread')
    const terminated = first.terminate()
    // Sent to the dying thread (the least busy): it never answers, so its exit must.
    const inHand = workers.execute({ source: '{ __typename }' })
    await terminated
    const lost = await inHand
    expect(lost.data).toBeUndefined()
    expect(lost.errors?.map((e) => e.message)).toEqual(['the query thread exited (code 1) with this operation in hand; try again'])
    expect((lost.errors?.[0]?.originalError as { retryable?: boolean } | undefined)?.retryable).toBe(true)
    await expect.poll(() => workers.threads()[0] !== first).toBe(true)
    expect(workers.threads()).toHaveLength(2)
    // Both places answer again, the new thread included.
    const answers = await Promise.all(Array.from({ length: 4 }, () => workers.execute({ source: '{ __typename }' })))
    expect(answers.map((a) => a.data)).toEqual(Array.from({ length: 4 }, () => ({ __typename: 'Query' })))
  })
})
