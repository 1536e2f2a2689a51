import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `provider` table, read through the views schema: one row per provider that ever registered or staked. */
export interface ProviderTable {
  /** Lower-case. */
  address: Address
  /** uint32 columns are `numeric` (indexer/ponder.schema.ts, `uint`); uint16 ones `integer`. */
  gpuModel: Numeric
  gpuCount: number
  vramMib: Numeric
  cpuCores: number
  memoryMib: Numeric
  benchmarkScore: Numeric
  pricePerUnit: Numeric
  /** bytes32, lower-case. */
  region: Hex
  encryptionPubKey: string | null
  registered: boolean
  paused: boolean
  stake: Numeric
  locked: Numeric
  pendingUnstake: Numeric
  unstakeAvailableAt: Numeric | null
  slashedTotal: Numeric
  earnedTotal: Numeric
  jobsCompleted: number
  jobsFailed: number
  slashCount: number
  noShowCount: number
  challengesPassed: number
  challengesFailed: number
  /** uint64 units per hour of its latest challenge if passed; 0 after a failed one or before any. */
  attestedCapacity: Numeric
  /** Unix seconds of its latest recorded challenge; null while never challenged. */
  lastChallengedAt: Numeric | null
  registeredAt: Numeric | null
  registeredBlock: Numeric | null
  updatedBlock: Numeric
}

export type ProviderRow = Selectable<ProviderTable>
