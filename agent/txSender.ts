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
  type TransactionReceipt,
  type WalletClient,
} from 'viem'
import { TesseraError } from '../protocol/errors.ts'
import { decodeRevert, formatRevert, type Revert } from '../protocol/revert.ts'

/**
 * A transaction that reverted or could not be sent, the viem error as its `cause`. A revert is not retryable, a
 * transaction that could not be sent (node down, nonce race) is.
 */
export class TransactionError extends TesseraError {
  override name = 'TransactionError'

  /** The contract's custom error, when the cause is a revert that gave one. */
  get revert(): Revert | undefined {
    return decodeRevert(this.cause)
  }
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
      // Widened to any ABI: the parameters were type-checked against theirs at the call site.
      const { request } = await this.publicClient.simulateContract({
        address: parameters.address,
        abi: parameters.abi as Abi,
        functionName: functionName,
        args: parameters.args as readonly unknown[],
        account: this.account,
      })
      return this.walletClient.writeContract(request)
    })
    this.lock = sent.catch(() => {})
    try {
      hash = await sent
    } catch (error) {
      const revert = decodeRevert(error)
      this.onResult?.(functionName, revert ? 'reverted' : 'error')
      throw new TransactionError(revert ? `${functionName} reverted with ${formatRevert(revert)}` : `${functionName} could not be sent`, {
        retryable: !revert,
        cause: error,
        details: error instanceof BaseError ? error.shortMessage : String(error),
      })
    }
    const receipt = await this.publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') {
      this.onResult?.(functionName, 'reverted')
      throw new TransactionError(`${functionName} reverted on chain`, { details: `tx ${hash}` })
    }
    this.onResult?.(functionName, 'success')
    this.log.debug({ functionName, txHash: hash, block: Number(receipt.blockNumber) }, 'transaction mined')
    return { hash, receipt }
  }
}
