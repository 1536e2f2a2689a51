import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { AssignmentOutcome } from '../../../protocol/enums.ts'
import type { Numeric } from './numeric.ts'

/**
 * The indexer's `assignment` table, read through the views schema: one row per (job, provider); a reassignment
 * overwrites it with the new round. (block_number, log_index) orders the change feed.
 */
export interface AssignmentTable {
  /** `${jobId}:${provider}`. */
  id: string
  jobId: Numeric
  /** Lower-case. */
  provider: Address
  round: number
  slot: number
  /** The provider's ask per unit. */
  pricePerUnit: Numeric
  collateral: Numeric
  commitDeadline: Numeric
  assignedAt: Numeric
  blockNumber: Numeric
  logIndex: number
  txHash: Hex
  commitment: Hex | null
  committedAt: Numeric | null
  fingerprint: Hex | null
  outputHash: Hex | null
  revealedAt: Numeric | null
  outcome: AssignmentOutcome
  /** Block timestamp (unix s) of the SlotSettled or NoShow that set `outcome`; null while PENDING. */
  settledAt: Numeric | null
  /** Fee credited to the provider (0 until Completed). */
  paid: Numeric
}

export type AssignmentRow = Selectable<AssignmentTable>
