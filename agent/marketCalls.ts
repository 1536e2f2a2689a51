import type { Logger } from 'pino'
import {
  type Address,
  BaseError,
  concat,
  encodeFunctionData,
  type Hash,
  type Hex,
  type LocalAccount,
  type PublicClient,
  parseEventLogs,
  type TransactionReceipt,
  type WalletClient,
} from 'viem'
import { jobMarketAbi, providerBatcherAbi } from '../contracts/generated/index.ts'
import { decodeRevert, decodeRevertData, formatRevert } from '../protocol/revert.ts'
import { TransactionError, type TxSender } from './txSender.ts'

/** The JobMarket calls an agent makes for each assignment. */
export type MarketCall =
  | { functionName: 'commitResult'; args: readonly [jobId: bigint, inputHash: Hex, commitment: Hex] }
  | { functionName: 'revealResult'; args: readonly [jobId: bigint, fingerprint: Hex, outputHash: Hex, salt: Hex] }

/**
 * How the agent sends its commits and reveals. `send` resolves with the transaction that carried the call once it is
 * mined with the call done, and throws a {@link TransactionError} as `TxSender.send` does: its `revert` the call's own
 * custom error when the call reverted (alone or inside a batch).
 */
export type MarketCalls = {
  send: (call: MarketCall, options?: MarketCallOptions) => Promise<{ hash: Hash; receipt: TransactionReceipt }>
}

export type MarketCallOptions = {
  /**
   * Gas the call may need beyond what it costs when sent (TxSender's `extraGas`): a reveal's
   * `settlementGasAllowance`, should another's reveal be mined ahead of it and make it the one that settles.
   */
  extraGas?: bigint
}

/** Each call its own transaction. */
export function directMarketCalls(parameters: { sender: TxSender; jobMarket: Address }): MarketCalls {
  const { sender, jobMarket } = parameters
  return {
    send: (call, options = {}) =>
      sender.send({ address: jobMarket, abi: jobMarketAbi, ...call }, { reuseGasEstimate: true, extraGas: options.extraGas }),
  }
}

/** The code an account delegated to `contract` holds (EIP-7702): `0xef0100` and the address. */
const delegationTo = (contract: Address): Hex => concat(['0xef0100', contract]).toLowerCase() as Hex

/**
 * Makes the provider's account run ProviderBatcher's code (an EIP-7702 authorization, signed by the account and sent
 * by it in a transaction to itself that makes an empty batch), unless it already does. Returns whether it does now.
 * An account that already runs other code (the provider delegated it elsewhere) is left as it is: false, and the
 * agent sends each call alone. Call it before anything else sends from the account: the transaction takes a nonce.
 */
export async function delegateToBatcher(parameters: {
  publicClient: PublicClient
  walletClient: WalletClient
  account: LocalAccount
  batcher: Address
  log: Logger
}): Promise<boolean> {
  const { publicClient, walletClient, account, batcher, log } = parameters
  const delegated = async () => (await publicClient.getCode({ address: account.address }))?.toLowerCase()
  const code = await delegated()
  if (code === delegationTo(batcher)) return true
  if (code && code !== '0x') {
    log.warn({ code: code.slice(0, 48) }, 'the provider account already runs other code: sending each commit and reveal alone')
    return false
  }
  const authorization = await walletClient.signAuthorization({ account, contractAddress: batcher, executor: 'self' })
  const hash = await walletClient.sendTransaction({
    account,
    chain: walletClient.chain,
    to: account.address,
    data: encodeFunctionData({ abi: providerBatcherAbi, functionName: 'callMany', args: [[]] }),
    authorizationList: [authorization],
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if ((await delegated()) !== delegationTo(batcher))
    throw new TransactionError('the provider account did not take up the batcher’s code', {
      details: `tx ${hash} (${receipt.status}) to delegate ${account.address} to ${batcher}`,
    })
  log.info({ batcher, txHash: hash }, 'provider account delegated to the batcher: commits and reveals go many per transaction')
  return true
}

type Waiting = {
  call: MarketCall
  extraGas: bigint
  data: Hex
  resolve: (sent: { hash: Hash; receipt: TransactionReceipt }) => void
  reject: (error: unknown) => void
}

/**
 * Sends the agent's commits and reveals many per transaction: through ProviderBatcher's `callMany`, as the provider's
 * account delegated to it ({@link delegateToBatcher}), in a transaction the account sends to itself. JobMarket sees
 * each call made by the provider, as if sent alone.
 *
 * Group commit: calls that come while none is being sent go out on the next turn of the event loop; those that come
 * while a batch is being simulated and handed to the node wait for that, then go out together. So a quiet agent
 * sends each call at once, and a busy one (the commits of every job that finished, the reveals of every job the last
 * block completed) sends a few transactions a block instead of one per call.
 *
 * A call that goes out alone goes as it would without the batcher (JobMarket called directly, its gas estimate reused):
 * cheaper alone, and without a batch's simulation and estimate in front of it, so a quiet agent is as quick as before.
 * A batch is first simulated: a call that would revert is refused at once with its own custom error (as a direct
 * send's gas estimate would), and the rest are sent with half again the gas one run of them used (no estimate: it
 * would run the batch a dozen times more), plus each call's `extraGas` (a reveal's settlement allowance: a batch
 * simulated before the other providers' reveals were mined may settle every job in it). A call that reverts on chain
 * all the same (the chain moved between the simulation and the block) is refused from the transaction's `CallFailed`
 * log; the others resolve with the transaction. A batch that can't be sent, or vanishes, fails each of its calls with
 * the sender's error.
 */
export class BatchedMarketCalls implements MarketCalls {
  private readonly queue: Waiting[] = []
  private draining = false
  private readonly maxCalls: number
  private readonly maxExtraGas: bigint

  constructor(
    private readonly parameters: {
      sender: TxSender
      publicClient: PublicClient
      account: LocalAccount
      jobMarket: Address
      log: Logger
      /** The most calls per transaction; default 64 (ProviderBatcher takes up to 256). */
      maxCalls?: number
      /**
       * The most `extraGas` one transaction carries, its calls' together; default 12M, well inside a 30M-gas block. A
       * batch ends before the call that would take it past (a call alone carries its own, whatever it is).
       */
      maxExtraGas?: bigint
      /** Called with each batch's size (two calls or more) as it is handed to the node. */
      onBatch?: (calls: number) => void
    },
  ) {
    this.maxCalls = parameters.maxCalls ?? 64
    this.maxExtraGas = parameters.maxExtraGas ?? 12_000_000n
  }

  send(call: MarketCall, options: MarketCallOptions = {}): Promise<{ hash: Hash; receipt: TransactionReceipt }> {
    return new Promise((resolve, reject) => {
      const data = encodeFunctionData({ abi: jobMarketAbi, ...call } as Parameters<typeof encodeFunctionData<typeof jobMarketAbi>>[0])
      this.queue.push({ call, extraGas: options.extraGas ?? 0n, data, resolve, reject })
      if (!this.draining) {
        this.draining = true
        setImmediate(() => void this.drain())
      }
    })
  }

  /** Sends batches until no call waits; each goes once the one before it is with the node. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.sendBatch(this.nextBatch())
    } finally {
      this.draining = false
    }
  }

  /** The calls the next transaction takes, in order: up to `maxCalls`, their `extraGas` up to `maxExtraGas` together. */
  private nextBatch(): Waiting[] {
    let [count, extraGas] = [0, 0n]
    for (const waiting of this.queue) {
      if (count === this.maxCalls || (count > 0 && extraGas + waiting.extraGas > this.maxExtraGas)) break
      count++
      extraGas += waiting.extraGas
    }
    return this.queue.splice(0, count)
  }

  /** Simulates `batch`, refuses the calls that would revert and sends the rest; resolves once the node has them. */
  private async sendBatch(batch: Waiting[]): Promise<void> {
    const { sender, publicClient, account, jobMarket } = this.parameters
    const [only] = batch
    if (only && batch.length === 1) {
      const mined = untilHandedOff((onSent) =>
        sender.send({ address: jobMarket, abi: jobMarketAbi, ...only.call }, { reuseGasEstimate: true, extraGas: only.extraGas, onSent }),
      )
      mined.then(only.resolve, only.reject)
      return mined.handedOff
    }
    const request = { address: account.address, abi: providerBatcherAbi, functionName: 'callMany' } as const
    const started = performance.now()
    let ok: readonly boolean[]
    let reasons: readonly Hex[]
    try {
      ;[ok, reasons] = (await publicClient.simulateContract({ ...request, account, args: [batch.map((w) => w.data)] })).result
    } catch (error) {
      const revert = decodeRevert(error)
      const failure = new TransactionError(revert ? `callMany reverted with ${formatRevert(revert)}` : 'callMany could not be simulated', {
        retryable: !revert,
        cause: error,
        details: error instanceof BaseError ? error.shortMessage : String(error),
      })
      for (const w of batch) w.reject(failure)
      return
    }
    const going: Waiting[] = []
    for (const [i, w] of batch.entries()) {
      if (ok[i]) going.push(w)
      else w.reject(callReverted(w.call, reasons[i] ?? '0x', 'reverted'))
    }
    if (going.length === 0) return
    this.parameters.onBatch?.(going.length)
    const simulatedMs = Math.round(performance.now() - started)
    let handedOffMs: number | undefined
    const mined = untilHandedOff((onSent) =>
      sender.send(
        { ...request, args: [going.map((w) => w.data)] },
        {
          oneRunGas: true,
          extraGas: going.reduce((sum, w) => sum + w.extraGas, 0n),
          onSent: () => {
            handedOffMs = Math.round(performance.now() - started)
            onSent()
          },
        },
      ),
    )
    mined.then(
      ({ hash, receipt }) => {
        const minedMs = Math.round(performance.now() - started)
        this.parameters.log.debug({ calls: going.length, txHash: hash, simulatedMs, handedOffMs, minedMs }, 'batch mined')
        const failed = new Map(
          parseEventLogs({ abi: providerBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })
            .filter((log) => log.address.toLowerCase() === account.address.toLowerCase())
            .map((log) => [Number(log.args.index), log.args.reason]),
        )
        for (const [i, w] of going.entries()) {
          const reason = failed.get(i)
          if (reason === undefined) w.resolve({ hash, receipt })
          else w.reject(callReverted(w.call, reason, `reverted on chain in tx ${hash}`))
        }
      },
      (error) => {
        for (const w of going) w.reject(error)
      },
    )
    return mined.handedOff
  }
}

/** `send`'s promise, with `handedOff`: settled once the node has the transaction, or once the send failed. */
function untilHandedOff<T>(send: (onSent: () => void) => Promise<T>): Promise<T> & { handedOff: Promise<void> } {
  let sent!: () => void
  const onSent = new Promise<void>((resolve) => {
    sent = resolve
  })
  const mined = send(() => sent())
  return Object.assign(mined, {
    handedOff: Promise.race([
      onSent,
      mined.then(
        () => {},
        () => {},
      ),
    ]),
  })
}

/** A call of a batch that reverted with `reason` (JobMarket's revert data): not retryable, its custom error attached. */
function callReverted(call: MarketCall, reason: Hex, how: string): TransactionError {
  const revert = decodeRevertData(reason)
  return new TransactionError(`${call.functionName} ${how}${revert ? ` with ${formatRevert(revert)}` : ''}`, {
    revert,
    details: `job ${call.args[0]}, revert data ${reason}`,
  })
}
