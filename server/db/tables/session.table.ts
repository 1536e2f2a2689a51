import type { ColumnType, Insertable, Selectable } from 'kysely'
import type { Address } from 'viem'

/** `app.session`: a signed-in account's session; the token itself is never stored, only its sha256. */
export interface SessionTable {
  /** `0x`-prefixed sha256 of the bearer token. */
  tokenHash: string
  /** Lower-case. */
  address: Address
  expiresAt: Date
  createdAt: ColumnType<Date, never, never>
}

export type SessionRow = Selectable<SessionTable>
export type NewSession = Insertable<SessionTable>
