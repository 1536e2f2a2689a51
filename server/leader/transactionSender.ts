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
import { createFeeReader, gasOfOneRun, oneRunGasMargin, sendContractCall, sendEmptyTransfer } from '../../protocol/signedSend.ts'
import type { ServerMetrics } from '../metrics.ts'

/** How long a mined transaction's key stays blocked while the indexer catches up. */
const settleMs = 30_000
/** How long to wait before retrying a key whose simulation or send failed. */
const retryAfterMs = 5_000

/**
 * Several calls in one transaction (JobBatcher's `…Many`), each under its own key: the sender sends only those a
 * simulation says will succeed, and frees the key of each that fails on chain.
 */
export type Batch = {
  /** One per call, in the batch's order. */
  calls: { key: string; call: unknown }[]
  /** The transaction's arguments for these calls. */
  encode: (calls: unknown[]) => readonly unknown[]
  /** From a simulation's return value: per call, undefined when it would succeed, else why not. */
  refusals: (result: unknown) => (string | undefined)[]
  /** The positions of the calls that reverted inside a mined transaction, from its receipt. */
  failed: (receipt: TransactionReceipt) => { index: number; reason: string }[]
}

/** One call the matcher or keeper wants on chain, at most one in flight per key (each of a batch's keys). */
export type TransactionRequest<Meta> = {
  key: string
  action: string
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
  meta: Meta
  /** Present for a batch: its calls' keys take the place of `key` (which then only names it in logs). */
  batch?: Batch
}

/** The keys a request holds in flight. */
const keysOf = (request: TransactionRequest<unknown>): string[] => request.batch?.calls.map((c) => c.key) ?? [request.key]

/** `request` with only the batch's calls at `indexes`. */
function narrowed<Meta>(request: TransactionRequest<Meta>, indexes: number[]): TransactionRequest<Meta> {
  const { batch } = request
  if (!batch || indexes.length === batch.calls.length) return request
  const calls = indexes.map((i) => batch.calls[i] as Batch['calls'][number])
  return { ...request, args: batch.encode(calls.map((c) => c.call)), batch: { ...batch, calls } }
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
  /** The gas limit it was sent with, and whether that came from one run of it ({@link gasOfOneRun}). */
  gas?: { limit: bigint; oneRun: boolean }
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
  /** A batch's gas over what one run of it used ({@link gasOfOneRun}; default half again). Tests make it short. */
  oneRunGasMargin?: { numerator: bigint; denominator: bigint }
}) {
  const { publicClient, walletClient, log, metrics } = parameters
  const currentFees = createFeeReader(publicClient, 500)
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
  /** Set once a batch ran out of the gas one run of it gave: every batch is estimated from then on. */
  let estimateBatches = false

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

  /** Frees `key` after a back-off: its call won't be made now (`refused`), e.g. the chain already did it. */
  const refuse = (key: string, action: string, reason: string) => {
    pending.delete(key)
    backoff.set(key, Date.now() + retryAfterMs)
    metrics?.leaderTransactions.inc({ action, outcome: 'refused' })
    log.info({ action, key, revert: reason }, 'leader call left out of its batch: it would revert')
  }

  /** The lowest nonce at or above the node's pending count that no watched transaction holds. */
  const nextNonce = async (): Promise<number> => {
    let nonce = await publicClient.getTransactionCount({ address, blockTag: 'pending' })
    while (watched.has(nonce)) nonce++
    return nonce
  }

  /**
   * Simulates `request` (throwing its revert). A batch comes back with only the calls that would succeed, or undefined
   * when none would; the keys of the others are freed (`refuse`).
   */
  const simulate = async (request: TransactionRequest<Meta>): Promise<TransactionRequest<Meta> | undefined> => {
    const { batch } = request
    const result = await publicClient
      .simulateContract({
        account: walletClient.account,
        address: request.address,
        abi: request.abi,
        functionName: request.functionName,
        args: request.args,
      } as Parameters<PublicClient['simulateContract']>[0])
      .then((simulated) => simulated.result)
      .catch((error: unknown) => {
        // With a simulation's ample gas, a batch call "out of gas" is one that reverts without data: leave it out.
        const revert = decodeRevert(error)
        if (!batch || revert?.errorName !== 'BatchOutOfGas') throw error
        return { outOfGas: Number(revert.args[0]) }
      })
    if (!batch) return request
    if (result && typeof result === 'object' && 'outOfGas' in result) {
      const index = result.outOfGas as number
      refuse((batch.calls[index] as Batch['calls'][number]).key, request.action, 'BatchOutOfGas: it reverts without data')
      const rest = batch.calls.flatMap((_, i) => (i === index ? [] : [i]))
      return rest.length ? simulate(narrowed(request, rest)) : undefined
    }
    const kept: number[] = []
    for (const [i, reason] of batch.refusals(result).entries()) {
      if (reason === undefined) kept.push(i)
      else refuse((batch.calls[i] as Batch['calls'][number]).key, request.action, reason)
    }
    return kept.length ? narrowed(request, kept) : undefined
  }

  const callOf = (request: TransactionRequest<Meta>) =>
    ({
      account: walletClient.account,
      address: request.address,
      abi: request.abi,
      functionName: request.functionName,
      args: request.args,
    }) as Parameters<PublicClient['estimateContractGas']>[0]

  /**
   * `request`'s gas. A batch's from one run of it with half again to spare ({@link gasOfOneRun}: an estimate of a
   * batch of 64 cost anvil a dozen runs of it, each assign and finalize of the leader), or, once one ran out of that,
   * its estimate with a quarter more (calls ahead of it in the block may make its jobs dearer). A single call's estimate.
   */
  const gasOf = async (request: TransactionRequest<Meta>): Promise<{ limit: bigint; oneRun: boolean }> => {
    if (request.batch && !estimateBatches) {
      const { address: to, abi, functionName, args } = request
      const margin = parameters.oneRunGasMargin ?? oneRunGasMargin
      const limit = await gasOfOneRun({ publicClient, account: walletClient.account, address: to, abi, functionName, args, margin })
      return { limit, oneRun: true }
    }
    const gas = await publicClient.estimateContractGas(callOf(request))
    return { limit: request.batch ? (gas * 5n) / 4n : gas, oneRun: false }
  }

  /**
   * Sends a simulated request at the next free nonce and starts watching it: signed here with its gas (`gas`, when
   * estimated beside the simulation, else now) and the fees of the last half second, one request to the node.
   */
  const write = async (request: TransactionRequest<Meta>, gas?: Promise<{ limit: bigint; oneRun: boolean }>): Promise<Hash> => {
    const [gasLimit, fees, nonce] = await Promise.all([gas ?? gasOf(request), currentFees(), nextNonce()])
    const hash = await sendContractCall({
      publicClient,
      sendTransaction: (t) => walletClient.sendTransaction(t as Parameters<typeof walletClient.sendTransaction>[0]),
      account: walletClient.account,
      address: request.address,
      abi: request.abi as Abi,
      functionName: request.functionName,
      args: request.args as readonly unknown[],
      gas: gasLimit.limit,
      fees,
      nonce,
    })
    watched.set(nonce, { request, nonce, hash, sentAt: Date.now(), seen: false, gas: gasLimit })
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
      for (const key of keysOf(request)) {
        const entry = pending.get(key)
        if (entry?.hash === sent.hash) entry.minedAt ??= Date.now()
      }
      metrics?.leaderTransactions.inc({ action: request.action, outcome: 'mined' })
      // A batch's call that reverted on chain (its job moved on after the simulation) is free to be redone at once.
      for (const { index, reason } of request.batch?.failed(receipt) ?? []) {
        const key = request.batch?.calls[index]?.key
        if (key === undefined) continue
        release(key, sent.hash)
        metrics?.leaderTransactions.inc({ action: request.action, outcome: 'callReverted' })
        log.info({ action: request.action, key, hash: sent.hash, revert: reason }, 'leader call reverted inside its batch')
      }
    } else {
      for (const key of keysOf(request)) release(key, sent.hash)
      metrics?.leaderTransactions.inc({ action: request.action, outcome: 'reverted' })
      // All but a sliver of its gas burnt: short of gas, which a batch's calls are not when it is estimated.
      const outOfGas = sent.gas?.oneRun === true && receipt.gasUsed * 100n >= sent.gas.limit * 95n
      if (outOfGas) estimateBatches = true
      log.warn(
        { action: request.action, key: request.key, hash: sent.hash, gasUsed: receipt.gasUsed, gasLimit: sent.gas?.limit, outOfGas },
        outOfGas
          ? 'leader transaction ran out of the gas one run of it gave; estimating batches from now on'
          : 'leader transaction reverted',
      )
    }
  }

  /** A watched transaction that vanished: simulated again and re-sent, or dropped when it no longer applies. */
  const resend = async (sent: Sent<Meta>) => {
    const { request } = sent
    if (!request) return // a nonce filler: the gap check fills its nonce again if that is still needed
    const { key, action } = request
    const keys = keysOf(request)
    // Not what the caller has already sent again under another transaction.
    const mine = keys.flatMap((k, i) => {
      const entry = pending.get(k)
      return entry && entry.hash !== sent.hash ? [] : [i]
    })
    if (!mine.length) return
    const owned = keys.filter((k) => pending.get(k)?.hash === sent.hash)
    try {
      // Simulated against the chain as it is now: the job may have moved on while the transaction was gone.
      const again = await simulate(narrowed(request, request.batch ? mine : [0]))
      if (!again) return
      const hash = await write(again)
      const entry: Entry<Meta> = { hash, sentAt: Date.now(), meta: again.meta }
      for (const k of keysOf(again)) pending.set(k, entry)
      metrics?.leaderTransactions.inc({ action, outcome: 'resent' })
      log.warn({ action, key, hash, vanished: sent.hash }, 'leader transaction vanished from the chain; re-sent')
    } catch (error) {
      for (const k of owned) release(k, sent.hash)
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
    const hash = await sendEmptyTransfer({
      publicClient,
      sendTransaction: (t) => walletClient.sendTransaction(t as Parameters<typeof walletClient.sendTransaction>[0]),
      account: walletClient.account,
      fees: await currentFees(),
      nonce,
    })
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
    /** Metadata of every in-flight transaction (e.g. collateral an assign will lock), once per transaction. */
    inFlightMeta(): Meta[] {
      return [...new Set(pending.values())].map((e) => e.meta)
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
    /**
     * Simulates and sends `request` unless one of its keys is in flight; resolves to its hash, or undefined when it
     * wasn't sent (a key in flight, its simulation reverted, or none of a batch's calls would succeed).
     */
    async send(request: TransactionRequest<Meta>): Promise<Hash | undefined> {
      const keys = keysOf(request)
      if (keys.some(inFlight)) return undefined
      const entry: Entry<Meta> = { sentAt: Date.now(), meta: request.meta }
      for (const key of keys) {
        backoff.delete(key)
        pending.set(key, entry)
      }
      return exclusive(async () => {
        const started = performance.now()
        await reconcileIfDue()
        try {
          // Estimated beside the simulation: it holds when the simulation leaves every call in, as it mostly does.
          const gas = gasOf(request)
          gas.catch(() => {})
          const simulated = await simulate(request)
          if (!simulated) return undefined
          const simulatedMs = Math.round(performance.now() - started)
          const whole = simulated.batch?.calls.length === request.batch?.calls.length
          const hash = await write(simulated, whole ? gas : undefined)
          entry.hash = hash
          metrics?.leaderTransactions.inc({ action: request.action, outcome: 'sent' })
          const tookMs = Math.round(performance.now() - started)
          log.info(
            { action: request.action, key: request.key, calls: simulated.batch?.calls.length, hash, simulatedMs, tookMs },
            'leader transaction sent',
          )
          return hash
        } catch (error) {
          for (const key of keys) {
            if (pending.get(key) === entry) pending.delete(key)
            backoff.set(key, Date.now() + retryAfterMs)
          }
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
