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
})
