import type { Logger } from 'pino'
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hash,
  type PublicClient,
  TransactionNotFoundError,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  type WalletClient,
} from 'viem'
import { TesseraError, type TesseraErrorParameters } from '../protocol/errors.ts'
import { sleep } from '../protocol/retry.ts'
import { decodeRevert, formatRevert, type Revert } from '../protocol/revert.ts'
import { createFeeReader, type Fees, gasOfOneRun, sendContractCall, sendEmptyTransfer } from '../protocol/signedSend.ts'
import type { HeadWatch } from './headWatch.ts'

/**
 * A transaction that reverted or could not be sent, the viem error as its `cause`. A revert is not retryable, a
 * transaction that could not be sent (node down, nonce race) is.
 */
export class TransactionError extends TesseraError {
  override name = 'TransactionError'
  readonly #revert: Revert | undefined

  /** `revert`: the custom error, where no viem error carries it (a call that failed inside a batch). */
  constructor(shortMessage: string, parameters: TesseraErrorParameters & { revert?: Revert } = {}) {
    super(shortMessage, parameters)
    this.#revert = parameters.revert
  }

  /** The contract's custom error, when the cause is a revert that gave one. */
  get revert(): Revert | undefined {
    return this.#revert ?? decodeRevert(this.cause)
  }
}

export type SendParameters<abi extends Abi, name extends ContractFunctionName<abi, 'nonpayable' | 'payable'>> = {
  address: Address
  abi: abi
  functionName: name
  args: ContractFunctionArgs<abi, 'nonpayable' | 'payable', name>
}

/**
 * What the node knows of a transaction: mined (with its receipt), waiting in its pool (`queued` when a lower nonce is
 * missing, so it can't be mined until something takes that nonce), or nothing (dropped, reorged).
 */
export type TransactionState =
  | { state: 'mined'; receipt: TransactionReceipt }
  | { state: 'pending'; nonce: number; queued: boolean; fees: Fees }
  | { state: 'unknown' }

/**
 * How a send queues for the lock. `normal` (commits, reveals, job claims, stake): first come, first served. `low`
 * (payouts): only once no normal send is waiting for the lock, so work whose deadline slashes never queues behind one;
 * a normal send that comes while a low one holds the lock waits for that one's simulate and send, not its receipt.
 */
export type SendPriority = 'normal' | 'low'

/**
 * Sends the agent's transactions from one account, pipelined: each is checked (its gas estimated, which throws the
 * contract's revert) and priced beside the sends ahead of it; then, holding the lock only to take the next nonce and
 * sign (a local account) or hand it to the node, it goes out without waiting for the ones before it to be answered,
 * and its receipt is awaited outside the lock. A send with none of ours in flight reads its nonce from the node's
 * pending count; one beside others counts on from theirs. Whenever the node shows a gap no send of ours is filling
 * (a send that failed, a transaction a reorg dropped, another sender on the key), the count is read again, so the next
 * send takes the missing nonce.
 */
export class TxSender {
  private lock: Promise<unknown> = Promise.resolve()
  /** Normal-priority sends waiting for the lock or holding it: low-priority ones wait until there are none. */
  private normalQueued = 0
  /** The nonce the next send takes; undefined: read the node's pending count first. */
  private nextNonce: number | undefined
  /** Nonces taken by sends of ours not yet mined or given up: a gap at one of them is filling. */
  private readonly outstanding = new Set<number>()
  /**
   * Nonces above a gap where an empty transaction of ours replaced one given up ({@link TxSender.withdraw}): the next
   * sends fill the gap and pass over these. Forgotten once the node's pending count reaches them.
   */
  private readonly withdrawn = new Set<number>()
  /** The node's fees, read once per polling interval (one read serves a burst of sends). */
  private readonly currentFees: () => Promise<Fees>
  /** The gas of functions sent with `reuseGasEstimate`, by contract and function: their estimate, half again. */
  private readonly gasLimits = new Map<string, bigint>()
  /** Set once a send on one run's gas (`oneRunGas`) ran out of it: those are estimated from then on. */
  private oneRunShort = false
  private readonly droppedAfterMs: number
  private readonly pollIntervalMs: number
  private readonly heads: HeadWatch | undefined
  constructor(
    private readonly publicClient: PublicClient,
    private readonly walletClient: WalletClient,
    private readonly account: Account,
    private readonly log: Logger,
    private readonly onResult?: (functionName: string, result: 'success' | 'reverted' | 'error' | 'vanished') => void,
    options: {
      /** How long a sent transaction the node never showed may stay missing before it counts as dropped. Default 3000. */
      droppedAfterMs?: number
      /** How often to look for the receipt. Default the public client's polling interval. */
      pollIntervalMs?: number
      /**
       * The agent's head (`createHeadWatch`): the receipt is then looked for at each new block it reads (and at least
       * every `pollIntervalMs`), rather than on a timer of each transaction's own.
       */
      heads?: HeadWatch
    } = {},
  ) {
    this.droppedAfterMs = options.droppedAfterMs ?? 3000
    this.pollIntervalMs = options.pollIntervalMs ?? publicClient.pollingInterval
    this.heads = options.heads
    this.currentFees = createFeeReader(publicClient, this.pollIntervalMs)
  }

  /**
   * Sends and resolves with the receipt once mined. Throws a {@link TransactionError}: not retryable for a revert,
   * retryable when it could not be sent or vanished before it was mined (a reorg took the block it was in, the node
   * dropped it) — the caller re-checks the chain and sends again if still needed. `priority: 'low'` lets every normal
   * send that is waiting go first ({@link SendPriority}).
   */
  async send<const abi extends Abi, name extends ContractFunctionName<abi, 'nonpayable' | 'payable'>>(
    parameters: SendParameters<abi, name>,
    options: {
      priority?: SendPriority
      /**
       * The function costs about the same every time (a commit, a reveal): after its first estimate, its gas is that
       * estimate with half again to spare, and a simulation (one execution, where an estimate takes
       * several) checks that it would succeed. A send that then runs out of gas forgets it and is retryable.
       */
      reuseGasEstimate?: boolean
      /**
       * Already simulated (a batch): its gas is half again what one run of it used ({@link gasOfOneRun}), not an
       * estimate, which runs it a dozen times. A send that then runs out of gas is retryable, and such sends are
       * estimated from then on.
       */
      oneRunGas?: boolean
      /**
       * Gas on top of the limit those give: what the transaction may cost beyond what it costs now, when the chain may
       * change under it before it is mined (a reveal that turns out to settle its job: `settlementGasAllowance`).
       */
      extraGas?: bigint
      /** Called with the hash once the node has the transaction, before its receipt. */
      onSent?: (hash: Hash) => void
    } = {},
  ): Promise<{ hash: Hash; receipt: TransactionReceipt }> {
    const functionName = String(parameters.functionName)
    const normal = options.priority !== 'low'
    // The lock's tail settles once every send queued so far is through it; normal ones may have joined meanwhile.
    if (normal) this.normalQueued++
    else while (this.normalQueued > 0) await this.lock
    // Checked and priced at once, beside the sends ahead of it: the lock is held for the nonce and the hand-off alone.
    const prepared = this.prepare(functionName, parameters, {
      reuseGas: options.reuseGasEstimate ?? false,
      oneRun: options.oneRunGas ?? false,
      extraGas: options.extraGas ?? 0n,
    })
    // Its failure is thrown where the lock reaches it; until then it must not count as unhandled.
    prepared.catch(() => {})
    let nonce: number | undefined
    const handedOff = this.lock.then(async () => {
      const request = await prepared
      // Counted on from the last while sends of ours are in flight (the node may not have them yet); read from the node
      // when none is, so a transaction a reorg took out since frees its nonce for this one rather than leaving a gap.
      nonce = this.nextNonce !== undefined && this.outstanding.size > 0 ? this.nextNonce : await this.pendingCount()
      while (this.outstanding.has(nonce) || this.withdrawn.has(nonce)) nonce++
      this.nextNonce = nonce + 1
      this.outstanding.add(nonce)
      // Started in nonce order; answered whenever (the node holds a later nonce until the earlier one arrives).
      return { hash: this.handOff(request, nonce) }
    })
    const leave = () => {
      if (normal) this.normalQueued--
    }
    this.lock = handedOff.then(leave, leave)
    let hash: Hash
    try {
      hash = await (await handedOff).hash
    } catch (error) {
      if (nonce !== undefined) this.release(nonce, { resync: true })
      const revert = decodeRevert(error)
      this.onResult?.(functionName, revert ? 'reverted' : 'error')
      throw new TransactionError(revert ? `${functionName} reverted with ${formatRevert(revert)}` : `${functionName} could not be sent`, {
        retryable: !revert,
        cause: error,
        details: error instanceof BaseError ? error.shortMessage : String(error),
      })
    }
    options.onSent?.(hash)
    let receipt: TransactionReceipt
    try {
      receipt = await this.receiptOf(functionName, hash)
      this.release(nonce as number, { resync: false })
    } catch (error) {
      this.release(nonce as number, { resync: true })
      throw error
    }
    if (receipt.status !== 'success') {
      this.onResult?.(functionName, 'reverted')
      const { gas, gasKey, oneRun } = await prepared
      if ((gasKey || oneRun) && receipt.gasUsed * 100n >= gas * 95n) {
        // Short of gas on the reused estimate or one run's: the next send of it estimates again.
        if (gasKey) this.gasLimits.delete(gasKey)
        if (oneRun) this.oneRunShort = true
        throw new TransactionError(`${functionName} ran out of gas`, {
          retryable: true,
          details: `tx ${hash} used ${receipt.gasUsed} of ${gas}`,
        })
      }
      throw new TransactionError(`${functionName} reverted on chain`, { details: `tx ${hash}` })
    }
    this.onResult?.(functionName, 'success')
    this.log.debug({ functionName, txHash: hash, block: Number(receipt.blockNumber) }, 'transaction mined')
    return { hash, receipt }
  }

  /**
   * A nonce's send is over: mined, or given up on. `resync` (it failed or vanished): the nonce may now be a gap, so the
   * next send reads the node's pending count, which stops at the first gap.
   */
  private release(nonce: number, options: { resync: boolean }): void {
    this.outstanding.delete(nonce)
    if (options.resync) this.nextNonce = undefined
  }

  /**
   * The node's pending count for the account, which stops at the first gap. A withdrawn nonce below it is done with; one
   * at it lost its empty transaction (the node would count it otherwise), so the next send takes it instead.
   */
  private async pendingCount(): Promise<number> {
    const count = await this.publicClient.getTransactionCount({ address: this.account.address, blockTag: 'pending' })
    for (const nonce of this.withdrawn) if (nonce <= count) this.withdrawn.delete(nonce)
    return count
  }

  /** Signs `request` at `nonce` and sends it raw (a local account), or has the node sign it. */
  private handOff(request: Awaited<ReturnType<TxSender['prepare']>>, nonce: number): Promise<Hash> {
    const { call, gas, fees } = request
    return sendContractCall({
      publicClient: this.publicClient,
      sendTransaction: (t) => this.walletClient.sendTransaction(t as Parameters<WalletClient['sendTransaction']>[0]),
      ...call,
      gas,
      fees,
      nonce,
    })
  }

  /**
   * Estimates the call's gas with a quarter to spare (a transaction mined after others of the same job, the k-th commit
   * say, costs more than it did alone), which throws the contract's revert, and reads the fees: all but the nonce. With
   * `reuseGas`, a function estimated before is only simulated (which throws its revert too) and given its estimate
   * with half again to spare (`gasKey` names it then). With `oneRun`, a call its caller simulated is given half again
   * the gas one run of it used (`oneRun` in the result), until one such send ran out of it. `extraGas` is added to
   * whichever limit that gives.
   */
  private async prepare<const abi extends Abi, name extends ContractFunctionName<abi, 'nonpayable' | 'payable'>>(
    functionName: string,
    parameters: SendParameters<abi, name>,
    how: { reuseGas: boolean; oneRun: boolean; extraGas: bigint },
  ) {
    const { reuseGas, extraGas } = how
    // Widened to any ABI: the parameters were type-checked against theirs at the call site.
    const call = {
      address: parameters.address,
      abi: parameters.abi as Abi,
      functionName,
      args: parameters.args as readonly unknown[],
      account: this.account,
    }
    if (how.oneRun && !this.oneRunShort) {
      const [gas, fees] = await Promise.all([gasOfOneRun({ publicClient: this.publicClient, ...call }), this.currentFees()])
      return { call, gas: gas + extraGas, fees, gasKey: undefined, oneRun: true }
    }
    const gasKey = reuseGas ? `${parameters.address.toLowerCase()}:${functionName}` : undefined
    const known = gasKey && this.gasLimits.get(gasKey)
    if (known) {
      const [, fees] = await Promise.all([this.publicClient.simulateContract(call), this.currentFees()])
      return { call, gas: known + extraGas, fees, gasKey, oneRun: false }
    }
    const [gas, fees] = await Promise.all([this.publicClient.estimateContractGas(call), this.currentFees()])
    if (gasKey) this.gasLimits.set(gasKey, (gas * 3n) / 2n)
    return { call, gas: (gas * 5n) / 4n + extraGas, fees, gasKey: undefined, oneRun: false }
  }

  /** Where `hash` stands on the node now. */
  async transactionState(hash: Hash): Promise<TransactionState> {
    const receipt = await this.publicClient.getTransactionReceipt({ hash }).catch(unlessNotFound)
    if (receipt) return { state: 'mined', receipt }
    const transaction = await this.publicClient.getTransaction({ hash }).catch(unlessNotFound)
    if (!transaction) return { state: 'unknown' }
    // The node's pending count stops at the first missing nonce: a transaction at or above it is queued, unless the
    // missing one is a send of ours on its way.
    const next = await this.publicClient.getTransactionCount({ address: transaction.from, blockTag: 'pending' })
    const filling = transaction.from.toLowerCase() === this.account.address.toLowerCase() && this.outstanding.has(next)
    // Every transaction this sender signs prices by EIP-1559; a legacy one's price stands for both fees.
    const fees = {
      maxFeePerGas: transaction.maxFeePerGas ?? transaction.gasPrice ?? 0n,
      maxPriorityFeePerGas: transaction.maxPriorityFeePerGas ?? transaction.gasPrice ?? 0n,
    }
    return { state: 'pending', nonce: transaction.nonce, queued: transaction.nonce >= next && !filling, fees }
  }

  /**
   * Takes a transaction of ours that is queued behind a missing nonce out of the node's pool, for a caller that gives it
   * up: an empty transfer to the account itself, priced a quarter higher, replaces it at its nonce. Left there, it would
   * be mined whenever anything filled the gap, long after its caller stopped counting on it: a commit for a job that a
   * reorg took out, say, paying for a revert on the new job that a later submission gave the same id (JobMarket refuses a
   * commit naming another input). The next sends fill the gap
   * and pass over that nonce. Does nothing for a transaction that isn't queued (mined, gone, or about to be mined: the
   * caller sees it land). Resolves with the replacement's hash, or undefined when there was none (a failed replacement
   * is logged: the node may have mined the original meanwhile). `known`: its state, when the caller just read it.
   */
  async withdraw(hash: Hash, known?: TransactionState): Promise<Hash | undefined> {
    known ??= await this.transactionState(hash)
    if (known.state !== 'pending' || !known.queued) return undefined
    const { nonce, fees } = known
    const current = await this.currentFees()
    // A quarter above the original (a node takes a replacement only when it pays more: geth wants a tenth more), or
    // the node's fees now, whichever is higher.
    const higher = (a: bigint, b: bigint) => (a > b ? a : b)
    const maxPriorityFeePerGas = higher((fees.maxPriorityFeePerGas * 5n) / 4n + 1n, current.maxPriorityFeePerGas)
    const maxFeePerGas = higher(higher((fees.maxFeePerGas * 5n) / 4n + 1n, current.maxFeePerGas), maxPriorityFeePerGas)
    try {
      const replacement = await sendEmptyTransfer({
        publicClient: this.publicClient,
        sendTransaction: (t) => this.walletClient.sendTransaction(t as Parameters<WalletClient['sendTransaction']>[0]),
        account: this.account,
        fees: { maxFeePerGas, maxPriorityFeePerGas },
        nonce,
      })
      this.withdrawn.add(nonce)
      this.log.warn({ txHash: hash, nonce, replacement }, 'transaction queued behind a missing nonce withdrawn: an empty one replaces it')
      return replacement
    } catch (error) {
      this.log.warn({ err: error, txHash: hash, nonce }, 'could not withdraw a queued transaction')
      return undefined
    }
  }

  /**
   * Polls for the receipt. Gives up when the node no longer knows the transaction after it once showed it (a reorg
   * dropped it), never showed it for `droppedAfterMs` (a node behind a load balancer may lag for a moment), or holds
   * it queued behind a nonce no transaction fills (a reorg dropped an earlier one; it is withdrawn then): the caller
   * re-checks the chain, and what it sends next takes the missing nonce.
   */
  private async receiptOf(functionName: string, hash: Hash): Promise<TransactionReceipt> {
    let seen = false
    const since = Date.now()
    let head: bigint | undefined
    for (;;) {
      const known = await this.transactionState(hash)
      if (known.state === 'mined') return known.receipt
      if (known.state === 'pending') {
        seen = true
        if (known.queued) {
          await this.withdraw(hash, known)
          this.onResult?.(functionName, 'vanished')
          throw new TransactionError(`${functionName} is queued behind a nonce no transaction holds`, {
            retryable: true,
            details: `tx ${hash} has nonce ${known.nonce}`,
          })
        }
      } else if (seen || Date.now() - since > this.droppedAfterMs) {
        this.onResult?.(functionName, 'vanished')
        throw new TransactionError(`${functionName} vanished before it was mined`, { retryable: true, details: `tx ${hash}` })
      }
      if (this.heads) head = (await this.heads.after(head, this.pollIntervalMs)) ?? head
      else await sleep(this.pollIntervalMs)
    }
  }
}

/** `undefined` for a transaction or receipt the node doesn't have; other errors are thrown. */
function unlessNotFound(error: unknown): undefined {
  if (error instanceof TransactionNotFoundError || error instanceof TransactionReceiptNotFoundError) return undefined
  throw error
}
