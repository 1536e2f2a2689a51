import type { ColumnType, Insertable, Selectable } from 'kysely'
import type { Address } from 'viem'
import type { Numeric } from './numeric.ts'

type NumericColumn = ColumnType<Numeric, string | bigint, string | bigint>

/**
 * `app.published_assignment`: an assignment a change feed published, kept while it is in the feed's reorg window so
 * that the feed can tell when a reorganisation removed it. Keyed by the feed and the assignment's identity (job,
 * provider, commit deadline, position); the other columns are what a retraction repeats.
 */
export interface PublishedAssignmentTable {
  /** The feed's name (its cursor's, in `app.feed_cursor`). */
  feed: string
  blockNumber: NumericColumn
  logIndex: number
  jobId: NumericColumn
  /** Lower-case. */
  provider: Address
  commitDeadline: NumericColumn
  /** The indexer's row id, `${jobId}:${provider}`. */
  id: string
  round: number
  slot: number
  pricePerUnit: NumericColumn
  collateral: NumericColumn
}

export type PublishedAssignmentRow = Selectable<PublishedAssignmentTable>
export type NewPublishedAssignment = Insertable<PublishedAssignmentTable>
