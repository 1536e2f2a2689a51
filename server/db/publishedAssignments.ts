import type { Kysely } from 'kysely'
import type { Address } from 'viem'
import { type AssignmentDigest, assignmentDigestSql, between } from './assignments.ts'
import { type WithBigInts, withBigInts } from './convert.ts'
import type { Database } from './database.ts'
import type { FeedPosition } from './feedCursors.ts'
import type { PublishedAssignmentRow } from './tables/publishedAssignment.table.ts'

const numericColumns = ['blockNumber', 'jobId', 'commitDeadline', 'pricePerUnit', 'collateral'] as const

/** An assignment as a change feed published it: the event's fields, amounts as bigints. */
export type PublishedAssignment = WithBigInts<Omit<PublishedAssignmentRow, 'feed'>, (typeof numericColumns)[number]>

/** Rows per insert: 11 parameters each, well under Postgres' 65 535. */
const insertBatch = 1000

/**
 * What the change feed `feed` published after `after` and up to `through` (without them, from the first it still
 * records, to the last), in feed order.
 */
export async function findPublishedAssignments(
  db: Kysely<Database>,
  parameters: { feed: string; after?: FeedPosition; through?: FeedPosition },
): Promise<PublishedAssignment[]> {
  const rows = await db
    .selectFrom('app.publishedAssignment')
    .selectAll()
    .where('feed', '=', parameters.feed)
    .where(between(parameters))
    .orderBy('blockNumber')
    .orderBy('logIndex')
    .execute()
  return rows.map(({ feed: _feed, ...row }) => withBigInts(row, numericColumns))
}

/** The digest (`AssignmentDigest`) of what the change feed `feed` published after `after` and up to `through`. */
export async function digestPublishedAssignments(
  db: Kysely<Database>,
  parameters: { feed: string; after?: FeedPosition; through: FeedPosition },
): Promise<AssignmentDigest> {
  return db
    .selectFrom('app.publishedAssignment')
    .select(assignmentDigestSql)
    .where('feed', '=', parameters.feed)
    .where(between(parameters))
    .executeTakeFirstOrThrow()
}

/** Records that the change feed `feed` published `assignments` (again is a no-op). */
export async function recordPublishedAssignments(
  db: Kysely<Database>,
  feed: string,
  assignments: readonly PublishedAssignment[],
): Promise<void> {
  for (let i = 0; i < assignments.length; i += insertBatch) {
    const values = assignments.slice(i, i + insertBatch).map((a) => ({
      feed,
      blockNumber: a.blockNumber,
      logIndex: a.logIndex,
      jobId: a.jobId,
      provider: a.provider.toLowerCase() as Address,
      commitDeadline: a.commitDeadline,
      id: a.id,
      round: a.round,
      slot: a.slot,
      pricePerUnit: a.pricePerUnit,
      collateral: a.collateral,
    }))
    await db
      .insertInto('app.publishedAssignment')
      .values(values)
      .onConflict((oc) => oc.doNothing())
      .execute()
  }
}

/** Forgets that the change feed `feed` published `assignments` (a reorganisation removed them; they were retracted). */
export async function forgetPublishedAssignments(
  db: Kysely<Database>,
  feed: string,
  assignments: readonly PublishedAssignment[],
): Promise<void> {
  if (!assignments.length) return
  await db
    .deleteFrom('app.publishedAssignment')
    .where('feed', '=', feed)
    .where((eb) =>
      eb.or(
        assignments.map((a) =>
          eb.and({
            blockNumber: a.blockNumber.toString(),
            logIndex: a.logIndex,
            jobId: a.jobId.toString(),
            provider: a.provider.toLowerCase() as Address,
            commitDeadline: a.commitDeadline.toString(),
          }),
        ),
      ),
    )
    .execute()
}

/** Forgets what the change feed `feed` published at or before `through`: past its window, nothing is retracted. */
export async function prunePublishedAssignments(db: Kysely<Database>, feed: string, through: FeedPosition): Promise<void> {
  const { blockNumber, logIndex } = through
  await db
    .deleteFrom('app.publishedAssignment')
    .where('feed', '=', feed)
    .where((eb) => eb(eb.refTuple('blockNumber', 'logIndex'), '<=', eb.tuple(blockNumber.toString(), logIndex)))
    .execute()
}
