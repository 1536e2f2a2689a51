import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `slash` table, read through the views schema: one ProviderRegistry `Slashed` per row. */
export interface SlashTable {
  id: string
  /** Lower-case. */
  provider: Address
  jobId: Numeric
  amount: Numeric
  /** Lower-case. */
  beneficiary: Address
  toBeneficiary: Numeric
  /** The part of `amount` burned. */
  burned: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type SlashRow = Selectable<SlashTable>
