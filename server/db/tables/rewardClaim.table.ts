import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `reward_claim` table, read through the views schema: one EmissionController `RewardClaimed` per row. */
export interface RewardClaimTable {
  id: string
  /** The epoch the reward was earned in (not the one it was claimed in: see `timestamp`). */
  epoch: Numeric
  /** Lower-case. */
  provider: Address
  usage: Numeric
  availability: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type RewardClaimRow = Selectable<RewardClaimTable>
