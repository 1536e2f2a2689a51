import type { ResultOf } from '../graphql/tada.ts'
import type { PreparedTransactionFields } from './preparedTransaction.ts'

/** One transaction of a `prepare*` mutation's answer, as the API sends it. */
export type PreparedTransaction = ResultOf<typeof PreparedTransactionFields>

/** A connected account the pages sign with: a browser wallet (EIP-1193) or, on the devnet, a dev key. */
export type Wallet = {
  address: `0x${string}`
  kind: 'injected' | 'dev'
  /** For a person: "Browser wallet" or "Dev account #7". */
  label: string
  /**
   * Sends `transactions` in order, each after the one before it is mined; `onSent` hears each hash. Throws naming
   * the transaction when one is refused or reverts; those before it stay sent.
   */
  send: (transactions: PreparedTransaction[], onSent?: (index: number, hash: `0x${string}`) => void) => Promise<`0x${string}`[]>
  /** An EIP-191 `personal_sign` of `message`. */
  signMessage: (message: string) => Promise<`0x${string}`>
}
