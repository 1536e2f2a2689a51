import type { Logger } from 'pino'
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type ContractFunctionArgs,
  type ContractFunctionName,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hash,
  http,
  type PublicClient,
  type TransactionReceipt,
  type WalletClient,
} from 'viem'

/** JobMarket's `Status` enum, in contract order. */
export const JobStatus = {
  None: 0,
  Open: 1,
  Assigned: 2,
  Committed: 3,
  Revealed: 4,
  Completed: 5,
  Failed: 6,
  Cancelled: 7,
  Expired: 8,
} as const
export const jobStatusName = (s: number) =>
  Object.keys(JobStatus).find((k) => JobStatus[k as keyof typeof JobStatus] === s) ?? `Unknown(${s})`

/** A transaction that reverted or could not be sent. `revert` is the custom error's name when the contract gave one. */
export class TransactionError extends Error {
  override name = 'TransactionError' as const
  readonly details: string
  readonly revert?: string
  readonly retryable: boolean
  constructor(message: string, options: { revert?: string; retryable: boolean; details?: string; cause?: unknown }) {
    super(message, { cause: options.cause })
    this.revert = options.revert
    this.retryable = options.retryable
    this.details = options.details ?? message
  }
}

/** The custom error name of a contract revert inside a viem error, if any. */
export function revertName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null
  return revert?.data?.errorName ?? (revert ? (revert.reason ?? 'Reverted') : undefined)
}

/** Public and wallet clients for the deployment's chain. */
export function createClients(parameters: { rpcUrl: string; chainId: number; account: Account; pollingInterval?: number }) {
  const chain = defineChain({
    id: parameters.chainId,
    name: `tessera-${parameters.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [parameters.rpcUrl] } },
  })
  const transport = http(parameters.rpcUrl, { retryCount: 3 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: parameters.pollingInterval ?? 500 })
  const walletClient = createWalletClient({
    chain,
    transport,
    account: parameters.account,
    pollingInterval: parameters.pollingInterval ?? 500,
  })
  return { chain, publicClient: publicClient as PublicClient, walletClient: walletClient as WalletClient }
}

export type SendParameters<abi extends Abi, name extends ContractFunctionName<abi, 'nonpayable' | 'payable'>> = {
  address: Address
  abi: abi
  functionName: name
  args: ContractFunctionArgs<abi, 'nonpayable' | 'payable', name>
}

/**
 * Sends the agent's transactions one at a time from one account: simulate (for a clean revert reason),
 * send, then wait for the receipt outside the lock so concurrent jobs only queue for their nonce.
 */
export class TxSender {
  private lock: Promise<unknown> = Promise.resolve()
  constructor(
    private readonly publicClient: PublicClient,
    private readonly walletClient: WalletClient,
    private readonly account: Account,
    private readonly log: Logger,
    private readonly onResult?: (functionName: string, result: 'success' | 'reverted' | 'error') => void,
  ) {}

  async send<const abi extends Abi, name extends ContractFunctionName<abi, 'nonpayable' | 'payable'>>(
    parameters: SendParameters<abi, name>,
  ): Promise<{ hash: Hash; receipt: TransactionReceipt }> {
    const functionName = String(parameters.functionName)
    let hash: Hash
    const sent = this.lock.then(async () => {
      const { request } = await this.publicClient.simulateContract({ ...(parameters as any), account: this.account })
      return this.walletClient.writeContract(request as any)
    })
    this.lock = sent.catch(() => {})
    try {
      hash = await sent
    } catch (error) {
      const revert = revertName(error)
      this.onResult?.(functionName, revert ? 'reverted' : 'error')
      throw new TransactionError(revert ? `${functionName} reverted with ${revert}` : `${functionName} could not be sent`, {
        revert,
        retryable: !revert,
        cause: error,
        details: error instanceof BaseError ? error.shortMessage : String(error),
      })
    }
    const receipt = await this.publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') {
      this.onResult?.(functionName, 'reverted')
      throw new TransactionError(`${functionName} reverted on chain`, { retryable: false, details: `tx ${hash}` })
    }
    this.onResult?.(functionName, 'success')
    this.log.debug({ functionName, txHash: hash, block: Number(receipt.blockNumber) }, 'transaction mined')
    return { hash, receipt }
  }
}
