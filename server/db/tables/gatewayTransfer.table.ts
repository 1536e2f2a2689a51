import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `gateway_transfer` table, read through the views schema: TesseraToken transfers to or from the gateway. */
export interface GatewayTransferTable {
  id: string
  /** Lower-case. */
  from: Address
  /** Lower-case. */
  to: Address
  amount: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type GatewayTransferRow = Selectable<GatewayTransferTable>
