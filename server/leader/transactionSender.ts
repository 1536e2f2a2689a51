import type { Logger } from 'pino'
import type { Abi, Account, Address, Chain, Hash, PublicClient, Transport, WalletClient } from 'viem'
import { decodeRevert, formatRevert } from '../../protocol/revert.ts'
import type { ServerMetrics } from '../metrics.ts'

/** How long a mined transaction's key stays blocked while the indexer catches up. */
const settleMs = 30_000
/** How long to wait before retrying a key whose simulation or send failed. */
const retryAfterMs = 5_000

type Entry<Meta> = { hash?: Hash; sentAt: number; minedAt?: number; meta: Meta }

/**
 * Sends the leader's transactions, at most one in flight per key (e.g. `assign:12`): simulates
 * first (a revert costs nothing and is logged with its reason), sends through the nonce-managed
 * wallet, and watches the receipt. A key stays blocked until the caller sees the effect indexed
 * (`settle`), `settleMs` after mining, or at once when the transaction reverted.
 */
export function createTransactionSender<Meta = undefined>(parameters: {
  publicClient: PublicClient
  walletClient: WalletClient<Transport, Chain, Account>
  log: Logger
  metrics?: ServerMetrics
}) {
  const { publicClient, walletClient, log, metrics } = parameters
  const pending = new Map<string, Entry<Meta>>()
  const backoff = new Map<string, number>()

  /** Whether `key` has a transaction in flight (or recently mined and not yet settled), or is backing off. */
  const inFlight = (key: string): boolean => {
    const e = pending.get(key)
    if (!e) return (backoff.get(key) ?? 0) > Date.now()
    if (e.minedAt !== undefined && Date.now() - e.minedAt > settleMs) {
      pending.delete(key)
      return false
    }
    return true
  }

  return {
    inFlight,
    /** Metadata of every in-flight transaction (e.g. collateral an assign will lock). */
    inFlightMeta(): Meta[] {
      return [...pending.values()].map((e) => e.meta)
    },
    /** Drops mined keys the caller no longer needs blocked (their effect is indexed). */
    settle(isStillActionable: (key: string) => boolean): void {
      for (const [key, e] of pending) if (e.minedAt !== undefined && !isStillActionable(key)) pending.delete(key)
    },
    async send(request: {
      key: string
      action: string
      address: Address
      abi: Abi
      functionName: string
      args: readonly unknown[]
      meta: Meta
    }): Promise<Hash | undefined> {
      if (inFlight(request.key)) return undefined
      backoff.delete(request.key)
      const entry: Entry<Meta> = { sentAt: Date.now(), meta: request.meta }
      pending.set(request.key, entry)
      try {
        const { request: prepared } = await publicClient.simulateContract({
          account: walletClient.account,
          address: request.address,
          abi: request.abi,
          functionName: request.functionName,
          args: request.args,
        } as Parameters<PublicClient['simulateContract']>[0])
        const hash = await walletClient.writeContract(prepared as Parameters<typeof walletClient.writeContract>[0])
        entry.hash = hash
        metrics?.leaderTransactions.inc({ action: request.action, outcome: 'sent' })
        log.info({ action: request.action, key: request.key, hash }, 'leader transaction sent')
        publicClient
          .waitForTransactionReceipt({ hash, timeout: 120_000 })
          .then((receipt) => {
            if (receipt.status === 'success') {
              entry.minedAt = Date.now()
              metrics?.leaderTransactions.inc({ action: request.action, outcome: 'mined' })
            } else {
              pending.delete(request.key)
              backoff.set(request.key, Date.now() + retryAfterMs)
              metrics?.leaderTransactions.inc({ action: request.action, outcome: 'reverted' })
              log.warn({ action: request.action, key: request.key, hash }, 'leader transaction reverted')
            }
          })
          .catch((error: unknown) => {
            pending.delete(request.key)
            log.warn({ action: request.action, key: request.key, hash, err: error }, 'no receipt for leader transaction')
          })
        return hash
      } catch (error) {
        pending.delete(request.key)
        backoff.set(request.key, Date.now() + retryAfterMs)
        // A failed send may have consumed a nonce locally; start again from the chain's count.
        walletClient.account.nonceManager?.reset({ address: walletClient.account.address, chainId: walletClient.chain.id })
        const revert = decodeRevert(error)
        metrics?.leaderTransactions.inc({ action: request.action, outcome: 'failed' })
        log.warn(
          { action: request.action, key: request.key, revert: revert && formatRevert(revert), err: error },
          'leader transaction not sent',
        )
        return undefined
      }
    },
  }
}
