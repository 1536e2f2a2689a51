import type { Selectable } from 'kysely'

/**
 * Rows of the indexer's tables as read through the views schema (read-only, camel-cased by
 * `CamelCasePlugin`). `numeric(78,0)` columns arrive as decimal strings; `toBigInt` turns them
 * into `bigint` at the edge. Addresses and hashes are lower-case hex.
 */
type Numeric = string

export interface ProviderTable {
  address: string
  gpuModel: number | Numeric
  gpuCount: number | Numeric
  vramMib: number | Numeric
  cpuCores: number | Numeric
  memoryMib: number | Numeric
  benchmarkScore: number | Numeric
  pricePerUnit: Numeric
  region: string
  encryptionPubKey: string | null
  registered: boolean
  paused: boolean
  stake: Numeric
  locked: Numeric
  pendingUnstake: Numeric
  unstakeAvailableAt: Numeric | number | null
  slashedTotal: Numeric
  earnedTotal: Numeric
  jobsCompleted: number | Numeric
  jobsFailed: number | Numeric
  slashCount: number | Numeric
  noShowCount: number | Numeric
  registeredAt: Numeric | number | null
  registeredBlock: Numeric | number | null
  updatedBlock: Numeric | number
}

export interface JobTable {
  id: Numeric
  requester: string
  modelHash: string
  inputHash: string
  units: Numeric
  maxPricePerUnit: Numeric
  minVramMib: number | Numeric
  gpuModel: number | Numeric
  regions: unknown
  redundancy: number | Numeric
  verification: number | Numeric
  deadline: Numeric | number
  outputTolerance: number | Numeric
  escrow: Numeric
  status: string
  round: number
  providers: unknown
  commitDeadline: Numeric | number | null
  revealDeadline: Numeric | number | null
  fingerprint: string | null
  fees: Numeric | null
  burned: Numeric | null
  refunded: Numeric | null
  submittedAt: Numeric | number
  submittedBlock: Numeric | number
  updatedBlock: Numeric | number
  finalizedAt: Numeric | number | null
  txHash: string
}

export interface AssignmentTable {
  id: string
  jobId: Numeric
  provider: string
  round: number | Numeric
  slot: number | Numeric
  pricePerUnit: Numeric
  collateral: Numeric
  commitDeadline: Numeric | number
  assignedAt: Numeric | number
  blockNumber: Numeric | number
  logIndex: number | Numeric
  txHash: string
  commitment: string | null
  committedAt: Numeric | number | null
  fingerprint: string | null
  outputHash: string | null
  revealedAt: Numeric | number | null
  outcome: string
  paid: Numeric | null
}

export interface PaymentTable {
  id: string
  jobId: Numeric | null
  account: string
  kind: string
  amount: Numeric
  blockNumber: Numeric | number
  timestamp: Numeric | number
}

export interface FeeBurnTable {
  id: string
  jobId: Numeric
  amount: Numeric
  blockNumber: Numeric | number
  timestamp: Numeric | number
}

export interface EpochTable {
  id: Numeric
  fees: Numeric
  units: Numeric
  utilisation: Numeric
  feeEma: Numeric
  utilisationEma: Numeric
  phi: Numeric
  baseAvailability: Numeric
  usageEmission: Numeric
  availabilityEmission: Numeric
  forfeited: Numeric
  cap: Numeric
  limiter: number | Numeric
  blockNumber: Numeric | number
  timestamp: Numeric | number
  claimed: Numeric | null
}

/** Ponder's own checkpoint table, exposed in the views schema next to the user tables. */
export interface PonderCheckpointTable {
  chainName: string
  chainId: Numeric | number
  latestCheckpoint: string
  safeCheckpoint: string
  finalizedCheckpoint: string
}

export type ProviderRow = Selectable<ProviderTable>
export type JobRow = Selectable<JobTable>
export type AssignmentRow = Selectable<AssignmentTable>
export type PaymentRow = Selectable<PaymentTable>
export type EpochRow = Selectable<EpochTable>
