import type { ColumnType, Insertable, Selectable } from 'kysely'

/** `app.siwe_nonce`: a Sign-In with Ethereum nonce the server issued; `signIn` uses each once, before it expires. */
export interface SiweNonceTable {
  /** EIP-4361 nonce: at least 8 alphanumerics (viem's `generateSiweNonce`). */
  nonce: string
  expiresAt: Date
  /** When a sign-in used it; null while unused. */
  usedAt: ColumnType<Date | null, Date | null | undefined, Date | null>
  createdAt: ColumnType<Date, never, never>
}

export type SiweNonceRow = Selectable<SiweNonceTable>
export type NewSiweNonce = Insertable<SiweNonceTable>
