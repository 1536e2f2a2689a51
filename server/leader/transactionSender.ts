import type { Logger } from 'pino'
import {
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hash,
  type PublicClient,
  TransactionNotFoundError,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  type Transport,
  type WalletClient,
} from 'viem'
import { decodeRevert, formatRevert } from '../../protocol/revert.ts'
import type { ServerMetrics } from '../metrics.ts'

/** How long a mined transaction's key stays blocked while the indexer catches up. */
const settleMs = 30_000
/** How long to wait before retrying a key whose simulation or send failed. */
const retryAfterMs = 5_000

/** One call the matcher or keeper wants on chain, at most one in flight per `key`. */
export type TransactionRequest<Meta> = {
  key: string
  action: string
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
  meta: Meta
}

/** A key's transaction in flight (or mined and not yet settled by the caller). */
type Entry<Meta> = { hash?: Hash; sentAt: number; minedAt?: number; meta: Meta }

/**
 * A transaction the sender watches until it is `confirmations` deep: what it was for (none for a nonce filler), its
 * nonce and hash, whether the node ever showed it, and the outcome of the receipt last seen.
 */
type Sent<Meta> = {
  request?: TransactionRequest<Meta>
  nonce: number
  hash: Hash
  sentAt: number
  seen: boolean
  outcome?: TransactionReceipt['status']
}

/** `undefined` for a transaction or receipt the node doesn't have; other errors are thrown. */
export const unlessNotFound = (error: unknown): undefined => {
  if (error instanceof TransactionNotFoundError || error instanceof TransactionReceiptNotFoundError) return undefined
  throw error
}

/**
 * Sends the leader's transactions, at most one in flight per key (e.g. `assign:12`): simulates first (a revert costs
 * nothing and is logged with its reason), picks the nonce itself and sends, and watches every transaction until it is
 * `confirmations` blocks deep. A key stays blocked until the caller sees the effect indexed (`settle`), `settleMs`
 * after mining, or at once when the transaction reverted.
 *
 * Reorgs: the chain, not a local counter, says which nonce comes next (the node's pending count, skipping nonces of
 * transactions still watched), so a transaction a reorg dropped never leaves later ones queued behind a gap. A watched
 * transaction that vanished (no receipt and unknown to the node, or its nonce taken by another) is simulated again
 * and re-sent, or dropped (its key freed) when it no longer applies; a nonce gap below transactions still queued is
 * filled with an empty self-transfer. Reconciling runs before sends and whenever the caller settles, at most once per
 * `reconcileIntervalMs`; a reorg deeper than `confirmations` is left to the matcher and keeper, which redo work from
 * the index.
 */
export function createTransactionSender<Meta = undefined>(parameters: {
  publicClient: PublicClient
  walletClient: WalletClient<Transport, Chain, Account>
  log: Logger
  metrics?: ServerMetrics
  /** Blocks a mined transaction must be deep before it is no longer watched (1: its own block). Default 12. */
  confirmations?: number
  /**
   * How long a sent transaction the node never showed may stay missing before it counts as dropped (a node behind a
   * load balancer may lag). Counting it dropped too early costs at most a duplicate at the same nonce. Default 3000.
   */
  droppedAfterMs?: number
  /** Least time between two reconciliations with the chain. Default 1000. */
  reconcileIntervalMs?: number
}) {
  const { publicClient, walletClient, log, metrics } = parameters
  const confirmations = BigInt(Math.max(1, parameters.confirmations ?? 12))
  const droppedAfterMs = parameters.droppedAfterMs ?? 3000
  const reconcileIntervalMs = parameters.reconcileIntervalMs ?? 1000
  const { address } = walletClient.account
  const pending = new Map<string, Entry<Meta>>()
  const backoff = new Map<string, number>()
  /** Watched transactions by nonce. */
  const watched = new Map<number, Sent<Meta>>()
  let lastReconciled = 0
  let queue: Promise<unknown> = Promise.resolve()

  /** Runs `fn` after everything queued before it: nonces are picked and used one send at a time. */
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn)
    queue = run.catch(() => {})
    return run
  }

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

  const release = (key: string, hash: Hash) => {
    if (pending.get(key)?.hash !== hash) return
    pending.delete(key)
    backoff.set(key, Date.now() + retryAfterMs)
  }

  /** The lowest nonce at or above the node's pending count that no watched transaction holds. */
  const nextNonce = async (): Promise<number> => {
    let nonce = await publicClient.getTransactionCount({ address, blockTag: 'pending' })
    while (watched.has(nonce)) nonce++
    return nonce
  }

  const simulate = async (request: TransactionRequest<Meta>) => {
    const { request: prepared } = await publicClient.simulateContract({
      account: walletClient.account,
      address: request.address,
      abi: request.abi,
      functionName: request.functionName,
      args: request.args,
    } as Parameters<PublicClient['simulateContract']>[0])
    return prepared
  }

  /** Sends what `simulate` prepared at the next free nonce and starts watching it. */
  const write = async (request: TransactionRequest<Meta>, prepared: Awaited<ReturnType<typeof simulate>>): Promise<Hash> => {
    const nonce = await nextNonce()
    const hash = await walletClient.writeContract({ ...prepared, nonce } as Parameters<typeof walletClient.writeContract>[0])
    watched.set(nonce, { request, nonce, hash, sentAt: Date.now(), seen: false })
    return hash
  }

  /** Records a watched transaction's receipt: its key counts as mined, or is freed (after a back-off) when it reverted. */
  const observe = (sent: Sent<Meta>, receipt: TransactionReceipt) => {
    const { request } = sent
    if (receipt.status === sent.outcome || !request) {
      sent.outcome = receipt.status
      return
    }
    sent.outcome = receipt.status
    if (receipt.status === 'success') {
      const entry = pending.get(request.key)
      if (entry?.hash === sent.hash) entry.minedAt ??= Date.now()
      metrics?.leaderTransactions.inc({ action: request.action, outcome: 'mined' })
    } else {
      release(request.key, sent.hash)
      metrics?.leaderTransactions.inc({ action: request.action, outcome: 'reverted' })
      log.warn({ action: request.action, key: request.key, hash: sent.hash }, 'leader transaction reverted')
    }
  }

  /** A watched transaction that vanished: simulated again and re-sent, or dropped when it no longer applies. */
  const resend = async (sent: Sent<Meta>) => {
    const { request } = sent
    if (!request) return // a nonce filler: the gap check fills its nonce again if that is still needed
    const { key, action } = request
    const entry = pending.get(key)
    if (entry && entry.hash !== sent.hash) return // the caller has already sent this key again
    try {
      // Simulated against the chain as it is now: the job may have moved on while the transaction was gone.
      const hash = await write(request, await simulate(request))
      pending.set(key, { hash, sentAt: Date.now(), meta: request.meta })
      metrics?.leaderTransactions.inc({ action, outcome: 'resent' })
      log.warn({ action, key, hash, vanished: sent.hash }, 'leader transaction vanished from the chain; re-sent')
    } catch (error) {
      if (entry) release(key, sent.hash)
      const revert = decodeRevert(error)
      metrics?.leaderTransactions.inc({ action, outcome: 'dropped' })
      log.info(
        { action, key, vanished: sent.hash, revert: revert && formatRevert(revert), err: error },
        'leader transaction vanished from the chain and no longer applies; dropped',
      )
    }
  }

  /**
   * Fills the node's first missing nonce with an empty self-transfer when watched transactions wait above it: the
   * transaction that held it vanished and was not re-sent, and nothing else would ever take it.
   */
  const fillGap = async () => {
    const nonce = await publicClient.getTransactionCount({ address, blockTag: 'pending' })
    if (watched.has(nonce) || ![...watched.keys()].some((n) => n > nonce)) return
    const hash = await walletClient.sendTransaction({ to: address, value: 0n, nonce } as Parameters<typeof walletClient.sendTransaction>[0])
    watched.set(nonce, { nonce, hash, sentAt: Date.now(), seen: false })
    metrics?.leaderTransactions.inc({ action: 'fillNonce', outcome: 'sent' })
    log.warn({ nonce, hash }, 'nonce gap filled with an empty transaction')
  }

  /** Checks every watched transaction against the chain, re-sends what vanished and closes any nonce gap. */
  const reconcileNow = async () => {
    lastReconciled = Date.now()
    if (!watched.size) return
    const [head, mined] = await Promise.all([
      publicClient.getBlockNumber({ cacheTime: 0 }),
      publicClient.getTransactionCount({ address, blockTag: 'latest' }),
    ])
    const vanished: Sent<Meta>[] = []
    for (const sent of [...watched.values()].sort((a, b) => a.nonce - b.nonce)) {
      const receipt = await publicClient.getTransactionReceipt({ hash: sent.hash }).catch(unlessNotFound)
      if (receipt) {
        sent.seen = true
        observe(sent, receipt)
        if (head - receipt.blockNumber + 1n >= confirmations) watched.delete(sent.nonce)
        continue
      }
      // Not in the chain (any more). Its nonce taken by another transaction means it is gone for good.
      const replaced = sent.nonce < mined
      if (!replaced && (await publicClient.getTransaction({ hash: sent.hash }).catch(unlessNotFound))) {
        sent.seen = true // waiting in the pool (a reorg may have put it back there)
        continue
      }
      // A node behind a load balancer may not show a transaction it just accepted: give it time, unless it was seen.
      if (!replaced && !sent.seen && Date.now() - sent.sentAt < droppedAfterMs) continue
      watched.delete(sent.nonce)
      vanished.push(sent)
    }
    for (const sent of vanished) await resend(sent)
    await fillGap()
  }

  /** Whether the node's pending count is at or below a nonce the sender used: something it sent is not counted. */
  const behind = async () =>
    watched.size > 0 && (await publicClient.getTransactionCount({ address, blockTag: 'pending' })) <= Math.max(...watched.keys())

  /** Reconciles when `reconcileIntervalMs` passed since the last time, or at once when the node is behind. Never rejects. */
  const reconcileIfDue = async () => {
    try {
      if (Date.now() - lastReconciled < reconcileIntervalMs && !(await behind())) return
      await reconcileNow()
    } catch (error) {
      log.warn({ err: error }, 'leader transaction reconciliation failed')
    }
  }

  return {
    inFlight,
    /** Metadata of every in-flight transaction (e.g. collateral an assign will lock). */
    inFlightMeta(): Meta[] {
      return [...pending.values()].map((e) => e.meta)
    },
    /** Drops mined keys the caller no longer needs blocked (their effect is indexed), and reconciles when due. */
    settle(isStillActionable: (key: string) => boolean): void {
      for (const [key, e] of pending) if (e.minedAt !== undefined && !isStillActionable(key)) pending.delete(key)
      void exclusive(reconcileIfDue)
    },
    /** Reconciles with the chain now (see the summary); never rejects. */
    reconcile(): Promise<void> {
      return exclusive(async () => {
        lastReconciled = 0
        await reconcileIfDue()
      })
    },
    /** Transactions sent and not yet `confirmations` deep. */
    unconfirmed(): number {
      return watched.size
    },
    async send(request: TransactionRequest<Meta>): Promise<Hash | undefined> {
      if (inFlight(request.key)) return undefined
      backoff.delete(request.key)
      const entry: Entry<Meta> = { sentAt: Date.now(), meta: request.meta }
      pending.set(request.key, entry)
      return exclusive(async () => {
        await reconcileIfDue()
        try {
          const hash = await write(request, await simulate(request))
          entry.hash = hash
          metrics?.leaderTransactions.inc({ action: request.action, outcome: 'sent' })
          log.info({ action: request.action, key: request.key, hash }, 'leader transaction sent')
          return hash
        } catch (error) {
          if (pending.get(request.key) === entry) pending.delete(request.key)
          backoff.set(request.key, Date.now() + retryAfterMs)
          const revert = decodeRevert(error)
          metrics?.leaderTransactions.inc({ action: request.action, outcome: 'failed' })
          log.warn(
            { action: request.action, key: request.key, revert: revert && formatRevert(revert), err: error },
            'leader transaction not sent',
          )
          return undefined
        }
      })
    },
  }
}
