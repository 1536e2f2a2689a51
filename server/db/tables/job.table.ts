import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { JobStatusName } from '../../../protocol/enums.ts'
import type { Numeric } from './numeric.ts'

/** The indexer's `job` table, read through the views schema: a job's spec as submitted plus its lifecycle. */
export interface JobTable {
  id: Numeric
  /** Lower-case. */
  requester: Address
  /** sha256 of the ONNX model blob. */
  modelHash: Hex
  /** sha256 of the input tensor blob. */
  inputHash: Hex
  units: Numeric
  maxPricePerUnit: Numeric
  /** uint32, so `numeric` (indexer/ponder.schema.ts, `uint`). */
  minVramMib: Numeric
  /** uint32; 0 = any. */
  gpuModel: Numeric
  /** json: allowed regions (bytes32), empty = any. */
  regions: Hex[]
  /** k: how many providers run the current round; an optimistic job's audit asks 1, then 2 (`AuditStarted`). */
  redundancy: number
  /** JobMarket's `Verification` value. */
  verification: number
  /** Unix seconds (chain time); pushed out when an optimistic job's audit starts. */
  deadline: Numeric
  outputTolerance: number
  escrow: Numeric
  status: JobStatusName
  /** Assignment rounds so far (0 while never assigned). */
  round: number
  /** json: the assigned providers (of the current or last round; empty while DISPUTED). */
  providers: Address[]
  /**
   * json: the first round of a job that went to a tie-break (JobDisputed), or an optimistic job's audited provider
   * (`[original, auditor]` once the audit escalated); empty otherwise.
   */
  disputedProviders: Address[]
  /** json: providers holding a slot claimed (`claimJob`) while the job still waits, in claim order. */
  claimers: Address[]
  /** Unix seconds of the first of the current claimers' claims; null without claimers. */
  firstClaimedAt: Numeric | null
  /** Whether the current (or last) round was filled by claims rather than the matcher. */
  claimed: boolean
  /** JobMarket's `openedAt`: unix seconds of the submit, the last reopen or the dispute. Claimable from `openedAt + claimGrace`. */
  openedAt: Numeric
  commitDeadline: Numeric | null
  revealDeadline: Numeric | null
  /** Block of the round's `JobRevealed`: the hash of the next one decides an optimistic job's spot check. */
  revealBlock: Numeric | null
  /** The winning fingerprint once finalized: a result, or a failure code (FAILED_INVALID, a resource failure's FAILED). */
  fingerprint: Hex | null
  fees: Numeric | null
  burned: Numeric | null
  refunded: Numeric | null
  submittedAt: Numeric
  submittedBlock: Numeric
  updatedBlock: Numeric
  finalizedAt: Numeric | null
  txHash: Hex
}

export type JobRow = Selectable<JobTable>
