import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { PaymentKind } from '../../../protocol/enums.ts'
import type { Numeric } from './numeric.ts'

/** The indexer's `payment` table, read through the views schema: JobMarket credits and withdrawals, one per event. */
export interface PaymentTable {
  id: string
  jobId: Numeric | null
  /** Lower-case. */
  account: Address
  kind: PaymentKind
  amount: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type PaymentRow = Selectable<PaymentTable>
