import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { fixtureDeployment } from '../../test/support/deployment.ts'
import { createYoga } from '../createYoga.ts'
import type { Database } from './database.ts'

// Cursors are checked before any SQL: every statement the server sends is recorded, and a refused cursor sends none.
// The views schema doesn't exist here, so a cursor that passes reaches Postgres and fails there ("Unexpected error.").

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']
const statements: string[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  const pool = new pg.Pool({ connectionString: database.url, max: 2 })
  db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    plugins: [new CamelCasePlugin()],
    log: (event) => {
      statements.push(event.query.sql)
    },
  })
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-cursors-'))
  yoga = createYoga({ db, viewsSchema: 'chain', deployment: fixtureDeployment, dataDir }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

type Answer = { errors?: { message: string; extensions?: { code?: string } }[] }

/** Runs `query` with `$a` = `after`; returns the first error and how many statements it sent. */
async function run(query: string, after: string, accept = 'application/json') {
  const mark = statements.length
  const res = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify({ query, variables: { a: after } }),
  })
  const text = await res.text()
  const json =
    accept === 'text/event-stream'
      ? (text
          .split('\n')
          .find((l) => l.startsWith('data:'))
          ?.slice(5) ?? '{}')
      : text
  return { error: (JSON.parse(json) as Answer).errors?.[0], sql: statements.length - mark, size: text.length }
}

/** A cursor as the lists encode it: `[order value, id]` as JSON, in base64url. */
const cursor = (v: string, id: string) => Buffer.from(JSON.stringify([v, id])).toString('base64url')
const assignmentCursor = (text: string) => Buffer.from(text).toString('base64url')
const address = `0x${'ab'.repeat(20)}`

const lists = {
  jobs: 'query($a: String) { jobs(first: 1, after: $a) { edges { cursor } } }',
  providers: 'query($a: String) { providers(first: 1, after: $a) { edges { cursor } } }',
  epochs: 'query($a: String) { epochs(first: 1, after: $a) { edges { cursor } } }',
  challengeRounds: 'query($a: String) { challengeRounds(first: 1, after: $a) { edges { cursor } } }',
}

describe('list cursors', () => {
  const refused: [string, string][] = [
    ['not base64url JSON', 'bogus'],
    ['letters in the order value', cursor('12abc', '1')],
    ['letters in a numeric id', cursor('1', 'abc')],
    ['a hex id where a number goes', cursor('1', '0x1f')],
    ['a negative order value', cursor('-5', '1')],
    ['a negative id', cursor('5', '-1')],
    ['a fraction', cursor('1.5', '1')],
    ['leading zeros', cursor('007', '1')],
    ['an order value past uint256', cursor('1'.repeat(79), '1')],
    ['base64 padding', `${cursor('1', '12')}==`],
    ['10,000 characters', 'A'.repeat(10_000)],
    ['an empty array', Buffer.from('[]').toString('base64url')],
    ['numbers, not strings', Buffer.from('[1,2]').toString('base64url')],
  ]

  for (const [list, query] of Object.entries(lists))
    test.each(refused)(`${list}: %s is refused as bad input naming "after", before any SQL`, async (_what, after) => {
      const { error, sql, size } = await run(query, after)
      expect(error?.extensions?.code).toBe('BAD_USER_INPUT')
      expect(error?.message).toMatch(/^argument "after": invalid cursor ".{1,65}": pass the endCursor/)
      expect(sql).toBe(0)
      expect(size).toBeLessThan(400)
    })

  test('providers, keyed by address, refuse a numeric id, and numeric lists an address', async () => {
    const numeric = await run(lists.providers, cursor('5', '17'))
    expect(numeric.error?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(numeric.sql).toBe(0)
    const upper = await run(lists.providers, cursor('5', address.toUpperCase().replace('0X', '0x')))
    expect(upper.error?.extensions?.code).toBe('BAD_USER_INPUT')
    const onJobs = await run(lists.jobs, cursor('5', address))
    expect(onJobs.error?.message).toMatch(/^argument "after": invalid cursor/)
    expect(onJobs.sql).toBe(0)
  })

  test('a cursor of the right shape reaches Postgres', async () => {
    for (const [query, after] of [
      [lists.jobs, cursor('5', '1')],
      [lists.jobs, cursor('0', '0')],
      [lists.epochs, cursor(`1${'0'.repeat(77)}`, '3')],
      [lists.providers, cursor('1700000000', address)],
    ] as const) {
      const { error, sql } = await run(query, after)
      expect(sql).toBe(1)
      expect(error?.message).toBe('Unexpected error.')
    }
  })
})

describe('jobAssignments cursors', () => {
  const subscription =
    'subscription($a: String) { jobAssignments(provider: "0x0000000000000000000000000000000000000001", after: $a) { cursor } }'

  test.each([
    ['letters', assignmentCursor('a:12x:3')],
    ['a negative block', assignmentCursor('a:-1:0')],
    ['a negative log index', assignmentCursor('a:1:-1')],
    ['an overlong block number', assignmentCursor(`a:${'9'.repeat(31)}:0`)],
    ['a log index past int4', assignmentCursor('a:1:2147483648')],
    ['leading zeros', assignmentCursor('a:01:0')],
    ['10,000 characters', 'A'.repeat(10_000)],
  ])('%s is refused as bad input naming "after", before any SQL', async (_what, after) => {
    const { error, sql } = await run(subscription, after, 'text/event-stream')
    expect(error?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(error?.message).toMatch(/^argument "after": invalid assignment cursor ".{1,65}": pass the cursor of a JobAssignment/)
    expect(sql).toBe(0)
  })
})
