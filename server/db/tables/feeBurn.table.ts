import type { Selectable } from 'kysely'
import type { Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `fee_burn` table, read through the views schema: the take burned at each job's settlement. */
export interface FeeBurnTable {
  id: string
  jobId: Numeric
  amount: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type FeeBurnRow = Selectable<FeeBurnTable>
