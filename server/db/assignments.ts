import { type QueryCreator, sql } from 'kysely'
import { UserInputError } from '../errors.ts'
import type { AssignmentEvent } from '../pubsub.ts'
import type { Database } from './database.ts'
import type { FeedPosition } from './feedCursors.ts'
import type { AssignmentRow } from './tables/views.table.ts'

/** Opaque cursor of an assignment in the change feed: its (block_number, log_index). */
export function encodeAssignmentCursor(position: FeedPosition): string {
  return Buffer.from(`a:${position.blockNumber}:${position.logIndex}`).toString('base64url')
}

/** Decodes `encodeAssignmentCursor`; throws for anything this server did not issue. */
export function decodeAssignmentCursor(cursor: string): FeedPosition {
  const m = /^a:(\d{1,30}):(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!m) throw new UserInputError(`invalid assignment cursor "${cursor.slice(0, 64)}": pass the cursor of a JobAssignment you received`)
  return { blockNumber: BigInt(m[1]!), logIndex: Number(m[2]) }
}

export function positionOf(row: Pick<AssignmentRow, 'blockNumber' | 'logIndex'>): FeedPosition {
  return { blockNumber: BigInt(row.blockNumber), logIndex: Number(row.logIndex) }
}

/** Strict feed order: is `a` after `b`? */
export function isAfter(a: FeedPosition, b: FeedPosition): boolean {
  return a.blockNumber > b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex > b.logIndex)
}

/**
 * Assignments after `after` in feed order, optionally for one provider (lower-case). A
 * reassignment overwrites the (job, provider) row with a later position, so each round shows once.
 */
export async function findAssignmentsAfter(
  views: QueryCreator<Database>,
  parameters: { after?: FeedPosition; provider?: string; limit: number },
): Promise<AssignmentRow[]> {
  let q = views.selectFrom('assignment').selectAll()
  if (parameters.provider) q = q.where('provider', '=', parameters.provider.toLowerCase())
  if (parameters.after) {
    const { blockNumber, logIndex } = parameters.after
    q = q.where(sql<boolean>`(block_number, log_index) > (${blockNumber.toString()}::numeric, ${logIndex}::integer)`)
  }
  return q.orderBy('blockNumber').orderBy('logIndex').limit(parameters.limit).execute()
}

/** The latest position in the feed, if any assignment exists. */
export async function latestAssignmentPosition(views: QueryCreator<Database>): Promise<FeedPosition | undefined> {
  const row = await views
    .selectFrom('assignment')
    .select(['blockNumber', 'logIndex'])
    .orderBy('blockNumber', 'desc')
    .orderBy('logIndex', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row ? positionOf(row) : undefined
}

/** An assignment row in the shape the pubsub carries and the subscription delivers. */
export function toAssignmentEvent(row: AssignmentRow): AssignmentEvent {
  return {
    id: row.id,
    jobId: String(row.jobId),
    provider: row.provider.toLowerCase(),
    round: Number(row.round),
    slot: Number(row.slot),
    pricePerUnit: String(row.pricePerUnit),
    collateral: String(row.collateral),
    commitDeadline: String(row.commitDeadline),
    blockNumber: String(row.blockNumber),
    logIndex: Number(row.logIndex),
  }
}
