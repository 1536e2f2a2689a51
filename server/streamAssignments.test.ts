import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import pino from 'pino'
import type { Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { assignmentEvent } from '../test/support/assignments.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { waitFor } from '../test/support/graphql.ts'
import { encodeAssignmentCursor } from './db/assignments.ts'
import { createDb } from './db/createDb.ts'
import type { Database, Views } from './db/database.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'
import { createChangeFeed } from './leader/changeFeed.ts'
import { listenWhileLive } from './listen.ts'
import { type AssignmentEvent, type AssignmentPubSub, connectAssignmentPubSub, createAssignmentPubSub } from './pubsub.ts'
import { retractionResumePosition } from './reorgWindow.ts'
import { streamAssignments } from './streamAssignments.ts'

// Subscriptions on Postgres (the indexer's `assignment` table faked in a views schema of its own, as Ponder would
// write it): replay, live events over the Postgres bus and the catch-up after its listening connection drops; and,
// fed by the real change feed, what a chain reorganisation does to them (retractions, assignments indexed late).

const alice = '0x00000000000000000000000000000000000000a1' as Address
const bob = '0x00000000000000000000000000000000000000b0' as Address
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
let database: TestDatabase
let db: Kysely<Database>
const replicas: AssignmentPubSub[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
})
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()))
  await db?.destroy()
  await database?.drop()
})

/** A views schema `name` holding an `assignment` table as Ponder writes it, and what indexing does to it. */
async function fakeViews(name: string) {
  await sql`create schema ${sql.id(name)}`.execute(db)
  await sql`create table ${sql.id(name, 'assignment')} (
    id text primary key, job_id numeric not null, provider text not null, round integer not null, slot integer not null,
    price_per_unit numeric not null, collateral numeric not null, commit_deadline numeric not null, assigned_at numeric not null,
    block_number numeric not null, log_index integer not null, tx_hash text not null, commitment text, committed_at numeric,
    fingerprint text, output_hash text, revealed_at numeric, outcome text not null, settled_at numeric, paid numeric not null)`.execute(db)
  const views: Views = db.withSchema(name)
  return {
    views,
    /** Indexes `e` (over the row of its job and provider, as a later round does) and returns it as the bus delivers it. */
    async index(e: AssignmentEvent): Promise<AssignmentEvent> {
      const row = {
        id: e.id,
        jobId: e.jobId.toString(),
        provider: e.provider,
        round: e.round,
        slot: e.slot,
        pricePerUnit: e.pricePerUnit.toString(),
        collateral: e.collateral.toString(),
        commitDeadline: e.commitDeadline.toString(),
        assignedAt: '0',
        blockNumber: e.blockNumber.toString(),
        logIndex: e.logIndex,
        txHash: '0x00' as const,
        outcome: 'PENDING' as const,
        paid: '0',
      }
      await views
        .insertInto('assignment')
        .values(row)
        .onConflict((oc) => oc.column('id').doUpdateSet(row))
        .execute()
      return { ...e, retracted: false }
    },
    /** Rolls `e` back, as Ponder does to the rows of an orphaned block. */
    async unindex(e: AssignmentEvent): Promise<void> {
      await views.deleteFrom('assignment').where('id', '=', e.id).execute()
    },
  }
}

/**
 * How a test reads its streams: `next()` alone (`for await`), or as the transports do, listening while the stream can
 * be listened to (server/listen.ts) and `next()` otherwise.
 */
type ReadBy = 'next' | 'listen'

/** Collects what `stream` yields until `stop()`; `listened`: how many came by listening. */
function collect(stream: AsyncGenerator<AssignmentEvent>, by: ReadBy) {
  const events: AssignmentEvent[] = []
  let listened = 0
  const take = (e: AssignmentEvent) => {
    listened++
    events.push(e)
    return true
  }
  const reading = (async () => {
    if (by === 'next') {
      for await (const e of stream) events.push(e)
      return
    }
    for (;;) {
      await listenWhileLive(stream, take)
      const step = await stream.next()
      if (step.done) return
      events.push(step.value)
    }
  })()
  return {
    events,
    listened: () => listened,
    /** Waits until `n` events came, then a little longer for any that shouldn't. */
    async settle(n: number) {
      await waitFor(`${n} events`, async () => (events.length >= n ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 })
      await new Promise((r) => setTimeout(r, 100))
    },
    async stop() {
      await stream.return(undefined)
      await reading
    },
  }
}

/** An event as compared: which job, where, whether retracted. */
const summary = (e: AssignmentEvent) => `${e.retracted ? 'retract ' : ''}${e.jobId}@${e.blockNumber}:${e.logIndex}/${e.commitDeadline}`

describe.each(['next', 'listen'] as const)('read by %s', (by) => {
  test('replays, streams live, and after a lost NOTIFY catches up from Postgres: each assignment once, in order', async () => {
    const { views, index: indexEvent } = await fakeViews(`chain_stream_test_${by}`)
    /** Indexes an assignment of job `jobId` at (jobId, 0 for alice, 1 for bob). */
    const index = (provider: Address, jobId: number) =>
      indexEvent(assignmentEvent(provider, BigInt(jobId), BigInt(jobId), provider === alice ? 0 : 1))
    const scope = `31337:0x${randomBytes(20).toString('hex')}`
    const leader = await connectAssignmentPubSub({ databaseUrl: database.url, scope, log })
    const follower = await connectAssignmentPubSub({ databaseUrl: database.url, scope, log })
    replicas.push(leader, follower)
    const first = await index(alice, 1)
    await index(bob, 1)
    const second = await index(alice, 2)

    const stream = collect(streamAssignments({ views, pubsub: follower, provider: alice }), by)
    const jobs = () => stream.events.map((e) => e.jobId)
    const received = (n: number) => waitFor(`${n} assignments`, async () => (jobs().length >= n ? true : undefined), { timeoutMs: 10_000 })
    await received(2)

    // A new leader resuming from an older cursor publishes `second` again: dropped.
    const third = await index(alice, 3)
    await leader.publish([first, second, third])
    await received(3)

    // The follower's listening connection drops; the NOTIFYs for the fourth, and for job 7 indexed late (a reorganisation
    // put it at block 2, below the third but in the window), go out while it is away.
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
    where datname = current_database() and application_name like 'tessera-bus:%'`.execute(db)
    const late = await indexEvent(assignmentEvent(alice, 7n, 2n, 5))
    await leader.publish([late, await index(alice, 4)])
    await received(5)

    await leader.publish([await index(bob, 5), await index(alice, 6)])
    await received(6)
    // Two more, one at a time: read by listening, these come so. (The first live one after a replay comes through the
    // `next()` the reader was waiting in once the replay ended: 3, and 6 after the catch-up.)
    await leader.publish([await index(alice, 8)])
    await received(7)
    await leader.publish([await index(alice, 9), second])
    await received(8)
    await new Promise((r) => setTimeout(r, 300))
    expect(jobs()).toEqual([1n, 2n, 3n, 7n, 4n, 6n, 8n, 9n])
    expect(stream.listened()).toBe(by === 'listen' ? 2 : 0)
    await stream.stop()
  })

  describe('after a chain reorganisation, fed by the change feed', () => {
    const windowBlocks = 10
    /** `provider`'s assignment of job `jobId` at (`blockNumber`, `logIndex`), with its commit deadline and round. */
    const at = (provider: Address, jobId: number, blockNumber: bigint, logIndex: number, commitDeadline = 1_700_000_000n, round = 1) => ({
      ...assignmentEvent(provider, BigInt(jobId), blockNumber, logIndex),
      commitDeadline,
      round,
    })
    const retraction = (e: AssignmentEvent) => ({ ...e, retracted: true })

    test('retracts what a reorganisation removed and delivers what it put below the position, once, to whom it concerns', async () => {
      const { views, index, unindex } = await fakeViews(`chain_reorg_test_${by}`)
      const pubsub = createAssignmentPubSub()
      const feedParameters = { db, views, pubsub, log, resolveFeedName: async () => `assignments:reorg-test:${by}`, windowBlocks }
      const feed = createChangeFeed(feedParameters)
      const subscribe = (after?: AssignmentEvent) =>
        collect(streamAssignments({ views, pubsub, provider: alice, after: after && encodeAssignmentCursor(after), windowBlocks }), by)
      const a0 = await index(at(alice, 10, 900n, 0))
      const a1 = await index(at(alice, 1, 1100n, 0))
      await index(at(bob, 1, 1100n, 1))
      const a2 = await index(at(alice, 2, 1101n, 0))
      const a3 = await index(at(alice, 3, 1103n, 0))
      const live = subscribe()
      await live.settle(4)
      expect(await feed.tick()).toBe(5)
      expect(await feed.tick()).toBe(0)
      await live.settle(4)
      const resumed = subscribe(a3)

      // Block 1101 is orphaned, and block 1100 with it: job 2's assign is mined again in block 1100, after job 1's, below
      // the feed's position and before the retracted one's, with another deadline.
      await unindex(a2)
      const a2b = await index(at(alice, 2, 1100n, 2, 1_700_000_009n))
      expect(await feed.tick()).toBe(2)
      expect(await feed.tick()).toBe(0)
      await live.settle(6)
      expect(live.events.map(summary)).toEqual([a0, a1, a2, a3, retraction(a2), a2b].map(summary))
      // Resuming from the retraction's cursor replays what replaced it: the window below the retracted one.
      const fromRetraction = collect(
        streamAssignments({ views, pubsub, provider: alice, after: encodeAssignmentCursor(retractionResumePosition(a2)), windowBlocks }),
        by,
      )
      await fromRetraction.settle(3)
      expect(fromRetraction.events.map(summary)).toEqual([a1, a2b, a3].map(summary))

      // A later round of job 1 overwrites its row: a new assignment, not a retraction of the first round.
      const a1r2 = await index(at(alice, 1, 1104n, 0, 1_700_000_020n, 2))
      expect(await feed.tick()).toBe(1)

      // Another leader takes over and knows what its predecessor published: block 1103 orphaned, job 3 is retracted.
      await unindex(a3)
      const successor = createChangeFeed(feedParameters)
      expect(await successor.tick()).toBe(1)
      // Indexed late below the window: too deep to notice.
      await index(at(alice, 9, 1090n, 0))
      expect(await successor.tick()).toBe(0)

      await live.settle(8)
      expect(live.events.map(summary)).toEqual([a0, a1, a2, a3, retraction(a2), a2b, a1r2, retraction(a3)].map(summary))
      await fromRetraction.settle(5)
      expect(fromRetraction.events.map(summary)).toEqual([a1, a2b, a3, a1r2, retraction(a3)].map(summary))
      // Resumed after job 3, it had everything before: no retraction of what it never got here, no repeat, job 1's round 2.
      expect(resumed.events.map(summary)).toEqual([a1r2].map(summary))
      await Promise.all([live.stop(), fromRetraction.stop(), resumed.stop()])
    })

    test('a cursor left by a feed from before retractions takes its window as published: nothing twice, retractions from then on', async () => {
      const { views, index, unindex } = await fakeViews(`chain_legacy_test_${by}`)
      const pubsub = createAssignmentPubSub()
      const a1 = await index(at(alice, 1, 50n, 0))
      const a2 = await index(at(alice, 2, 51n, 0))
      await db
        .insertInto('app.feedCursor')
        .values({ name: `assignments:legacy:${by}`, blockNumber: '51', logIndex: 0, recordsPublished: false })
        .execute()
      const feed = createChangeFeed({ db, views, pubsub, log, resolveFeedName: async () => `assignments:legacy:${by}`, windowBlocks })
      const live = collect(streamAssignments({ views, pubsub, provider: alice, windowBlocks }), by)
      await live.settle(2)
      expect(await feed.tick()).toBe(0)
      await unindex(a1)
      expect(await feed.tick()).toBe(1)
      await live.settle(3)
      expect(live.events.map(summary)).toEqual([a1, a2, retraction(a1)].map(summary))
      await live.stop()
    })
  })
})
