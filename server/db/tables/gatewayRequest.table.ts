import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { GatewayRequestKind, GatewayRequestStatus } from '../../../protocol/gateway.ts'
import type { Numeric } from './numeric.ts'

type NumericColumn = ColumnType<Numeric, string | bigint, string | bigint>

/**
 * `app.gateway_request`: a request the job gateway accepted (protocol/gateway.ts) and what became of it. `payload` is
 * the signed message with its bigints as decimal strings; `amount` is what it holds from the account's balance (a
 * submit's escrow, a withdrawal's amount, 0 for a cancel) unless it FAILED.
 */
export interface GatewayRequestTable {
  /** An unguessable token: whoever holds it may read the request. */
  id: string
  seq: Generated<string>
  /** Lower-case. */
  account: Address
  nonce: NumericColumn
  kind: GatewayRequestKind
  payload: ColumnType<Record<string, unknown>, string, string>
  signature: Hex
  amount: NumericColumn
  status: GatewayRequestStatus
  jobId: ColumnType<Numeric | null, string | bigint | null | undefined, string | bigint | null>
  txHash: Hex | null
  error: string | null
  createdAt: ColumnType<Date, never, never>
  updatedAt: ColumnType<Date, never, Date>
}

export type GatewayRequestRow = Selectable<GatewayRequestTable>
export type NewGatewayRequest = Insertable<GatewayRequestTable>
