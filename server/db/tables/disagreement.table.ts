import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `disagreement` table, read through the views schema: one `DisagreementProven` per row. */
export interface DisagreementTable {
  id: string
  jobId: Numeric
  /** Lower-case, as both providers are. */
  a: Address
  b: Address
  elementIndex: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type DisagreementRow = Selectable<DisagreementTable>
