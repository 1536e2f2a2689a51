import type { Selectable } from 'kysely'
import type { Address } from 'viem'
import type { Numeric } from './numeric.ts'

/**
 * The indexer's `audit` table, read through the views schema: one row per optimistic job that was challenged, audited
 * or settled (JobMarket `Challenged`, `AuditStarted`, `AuditSettled`), keyed by the job.
 */
export interface AuditTable {
  jobId: Numeric
  /** JobMarket's `AuditKind` (protocol/spotCheck.ts): 0 None (settled unaudited), 1 Spot, 2 Threshold, 3 Challenge. */
  kind: number
  /** Fresh providers the last `AuditStarted` asked for: 1, 2 once the auditor disagreed; 0 unaudited. */
  auditors: number
  /** Lower-case; null unless challenged. */
  challenger: Address | null
  /** The challenge bond posted; 0 unless challenged. */
  bond: Numeric
  /** Unix seconds of the first `AuditStarted`; null unaudited. */
  startedAt: Numeric | null
  /** Unix seconds of the `AuditSettled`; null until the job settles. */
  settledAt: Numeric | null
  /** Paid into the audit fund by an unaudited job. The money columns are null until `AuditSettled`. */
  premium: Numeric | null
  /** Paid back to the requester from the audit fund for a spot-checked or challenged job's audit. */
  reimbursed: Numeric | null
  bondToProvider: Numeric | null
  bondBurned: Numeric | null
  bondReturned: Numeric | null
  updatedBlock: Numeric
}

export type AuditRow = Selectable<AuditTable>
