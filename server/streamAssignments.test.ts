import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import pino from 'pino'
import type { Address } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { assignmentEvent } from '../test/support/assignments.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { waitFor } from '../test/support/graphql.ts'
import { createDb } from './db/createDb.ts'
import type { Database } from './db/database.ts'
import { type AssignmentEvent, type AssignmentPubSub, connectAssignmentPubSub } from './pubsub.ts'
import { streamAssignments } from './streamAssignments.ts'

// A subscription on a replica that is not the leader, over the Postgres bus: replay, live events, and the catch-up
// after its listening connection drops (a NOTIFY sent meanwhile is lost; the resync replays it from Postgres).

const alice = '0x00000000000000000000000000000000000000a1' as Address
const bob = '0x00000000000000000000000000000000000000b0' as Address
const viewsSchema = 'chain_stream_test'
let database: TestDatabase
let db: Kysely<Database>
const replicas: AssignmentPubSub[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await sql`create schema ${sql.id(viewsSchema)}`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'assignment')} (
    id text primary key, job_id numeric not null, provider text not null, round integer not null, slot integer not null,
    price_per_unit numeric not null, collateral numeric not null, commit_deadline numeric not null, assigned_at numeric not null,
    block_number numeric not null, log_index integer not null, tx_hash text not null, commitment text, committed_at numeric,
    fingerprint text, output_hash text, revealed_at numeric, outcome text not null, paid numeric not null)`.execute(db)
})
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()))
  await db?.destroy()
  await database?.drop()
})

/** Indexes an assignment of job `jobId` at (block, 0), as Ponder would, and returns it as the change feed publishes it. */
async function index(provider: Address, jobId: number): Promise<AssignmentEvent> {
  const e = assignmentEvent(provider, BigInt(jobId), BigInt(jobId), provider === alice ? 0 : 1)
  await db
    .withSchema(viewsSchema)
    .insertInto('assignment')
    .values({
      ...e,
      jobId: e.jobId.toString(),
      pricePerUnit: '10',
      collateral: '100',
      commitDeadline: '1700000000',
      assignedAt: '0',
      blockNumber: e.blockNumber.toString(),
      txHash: '0x00',
      outcome: 'PENDING',
      paid: '0',
    })
    .execute()
  return e
}

test('replays, streams live, and after a lost NOTIFY catches up from Postgres: each assignment once, in order', async () => {
  const scope = `31337:0x${randomBytes(20).toString('hex')}`
  const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
  const leader = await connectAssignmentPubSub({ databaseUrl: database.url, scope, log })
  const follower = await connectAssignmentPubSub({ databaseUrl: database.url, scope, log })
  replicas.push(leader, follower)
  const first = await index(alice, 1)
  await index(bob, 1)
  const second = await index(alice, 2)

  const stream = streamAssignments({ views: db.withSchema(viewsSchema), pubsub: follower, provider: alice })
  const jobs: bigint[] = []
  const reading = (async () => {
    for await (const e of stream) jobs.push(e.jobId)
  })()
  const received = (n: number) => waitFor(`${n} assignments`, async () => (jobs.length >= n ? true : undefined), { timeoutMs: 10_000 })
  await received(2)

  // A new leader resuming from an older cursor publishes `second` again: dropped.
  const third = await index(alice, 3)
  await leader.publish([first, second, third])
  await received(3)

  // The follower's listening connection drops; the NOTIFY for the fourth goes out while it is away.
  await sql`select pg_terminate_backend(pid) from pg_stat_activity
    where datname = current_database() and application_name like 'tessera-bus:%'`.execute(db)
  await leader.publish([await index(alice, 4)])
  await received(4)

  await leader.publish([await index(bob, 5), await index(alice, 6)])
  await received(5)
  await new Promise((r) => setTimeout(r, 300))
  expect(jobs).toEqual([1n, 2n, 3n, 4n, 6n])
  await stream.return(undefined)
  await reading
})
