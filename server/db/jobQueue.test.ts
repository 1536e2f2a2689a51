import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { createDb } from './createDb.ts'
import type { Database } from './database.ts'
import { findJobQueue } from './jobs.ts'

// findJobQueue on Postgres, over a `job` table faked in a views schema of its own with the columns it reads, as Ponder
// writes them: what `quote` judges its ETA by.

const viewsSchema = 'chain_job_queue_test'
const now = 1_000_000n

let database: TestDatabase
let db: Kysely<Database>

type JobRow = { id: number; status: string; redundancy: number; deadline: bigint; submittedAt: bigint; finalizedAt: bigint | null }

async function replaceJobs(rows: JobRow[]) {
  await sql`truncate ${sql.id(viewsSchema, 'job')}`.execute(db)
  if (!rows.length) return
  await db
    .withSchema(viewsSchema)
    .insertInto('job')
    .values(
      rows.map((r) => ({
        ...r,
        deadline: r.deadline.toString(),
        submittedAt: r.submittedAt.toString(),
        finalizedAt: r.finalizedAt?.toString() ?? null,
      })) as never,
    )
    .execute()
}

const completed = (id: number, seconds: bigint): JobRow => ({
  id,
  status: 'COMPLETED',
  redundancy: 2,
  deadline: now + 3_600n,
  submittedAt: now - 100n - seconds,
  finalizedAt: now - 100n,
})

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await sql`create schema ${sql.id(viewsSchema)}`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'job')} (
    id numeric primary key, status text not null, redundancy integer not null, deadline numeric not null,
    submitted_at numeric not null, finalized_at numeric)`.execute(db)
}, 120_000)

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
})

describe('findJobQueue', () => {
  test('counts the waiting jobs and their slots, deadline ahead, OPEN or DISPUTED only', async () => {
    await replaceJobs([
      { id: 1, status: 'OPEN', redundancy: 2, deadline: now + 60n, submittedAt: now - 5n, finalizedAt: null },
      { id: 2, status: 'DISPUTED', redundancy: 3, deadline: now + 60n, submittedAt: now - 5n, finalizedAt: null },
      // Past its deadline (the keeper will expire it), or already assigned: not ahead of a new job.
      { id: 3, status: 'OPEN', redundancy: 2, deadline: now, submittedAt: now - 500n, finalizedAt: null },
      { id: 4, status: 'ASSIGNED', redundancy: 2, deadline: now + 60n, submittedAt: now - 5n, finalizedAt: null },
    ])
    expect(await findJobQueue(db.withSchema(viewsSchema), now)).toEqual({ waitingJobs: 2, waitingSlots: 5, recentJobSeconds: null })
  })

  test('the median duration of the last completed jobs, rounded up', async () => {
    await replaceJobs([completed(1, 3n), completed(2, 4n), completed(3, 8n), completed(4, 9n)])
    expect((await findJobQueue(db.withSchema(viewsSchema), now)).recentJobSeconds).toBe(6)
  })

  test('a job settled in the second it was submitted counts a second, so the ETA still grows with the queue', async () => {
    // On the devnet each transaction is mined at once: submit, assign, commit and the settling reveal can share a
    // timestamp. A median of 0 made every quote's ETA 0 however many jobs waited ahead.
    await replaceJobs([completed(1, 0n), completed(2, 0n), completed(3, 2n)])
    expect((await findJobQueue(db.withSchema(viewsSchema), now)).recentJobSeconds).toBe(1)
  })
})
