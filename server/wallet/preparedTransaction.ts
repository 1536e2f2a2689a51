import { type Address, encodeFunctionData, formatUnits, type Hex, type PublicClient } from 'viem'
import { tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { ContractName, Deployment } from '../../protocol/deployment.ts'
import { decodeRevert, formatRevert } from '../../protocol/revert.ts'
import type { ServerContext } from '../context.ts'
import { UserInputError } from '../errors.ts'

/**
 * An unsigned transaction for the caller's wallet: sign it as `from` and send it as is (`eth_sendTransaction` with
 * `to`, `data`, `value` on `chainId`). `gas` is the node's estimate when the server could make one now; null when the
 * transaction depends on an earlier one of the same list (a `submitJob` after its `approve`): the wallet estimates it
 * once that one is mined.
 */
export type PreparedTransaction = {
  from: Address
  to: Address
  data: Hex
  value: bigint
  chainId: number
  gas: bigint | null
  /** The contract `to` is, and the function `data` calls. */
  contract: ContractName
  functionName: string
  /** What signing it does, for a person. */
  description: string
}

/** What the `prepare*` functions read: the deployment, the chain (required), and the door check of a job's blobs. */
export type WalletContext = {
  deployment: Deployment
  publicClient: PublicClient
} & Pick<ServerContext, 'views' | 'blobs' | 'inspector'>

/** An argument the server refuses before preparing anything; the message starts with the argument's name. Not retryable. */
export class InvalidArgumentError extends UserInputError {
  override name = 'InvalidArgumentError'
  /** The argument's path, as the mutation names it (`spec.redundancy`, `amount`, `epochs[2]`). */
  readonly field: string

  constructor(field: string, message: string) {
    super(message, { details: `field ${field}` })
    this.field = field
  }
}

/** The node would revert the prepared transaction now: the message names the contract's error. Not retryable as is. */
export class WouldRevertError extends UserInputError {
  override name = 'WouldRevertError'
  constructor(description: string, revert: string) {
    super(`${description}: the transaction would revert with ${revert}`, { code: 'WOULD_REVERT' })
  }
}

/** This server reads no chain, so it can't prepare transactions or read balances. Not retryable on this server. */
export class ChainUnavailableError extends UserInputError {
  override name = 'ChainUnavailableError'
  constructor() {
    super('this server has no chain connection: it cannot prepare transactions or read balances', { code: 'CHAIN_UNAVAILABLE' })
  }
}

/** The wallet context of a request; throws {@link ChainUnavailableError} when the server has no chain client. */
export function walletContextOf(ctx: Pick<ServerContext, 'deployment' | 'publicClient' | 'views' | 'blobs' | 'inspector'>): WalletContext {
  if (!ctx.publicClient) throw new ChainUnavailableError()
  return { deployment: ctx.deployment, publicClient: ctx.publicClient, views: ctx.views, blobs: ctx.blobs, inspector: ctx.inspector }
}

/** An amount of TSR wei for a person: `2.2 TSR`. */
export function formatTsr(wei: bigint): string {
  return `${formatUnits(wei, 18)} TSR`
}

/**
 * `data` (viem's `encodeFunctionData` of the contract's ABI) sent from `from` to the deployment's `contract`, with the
 * node's gas estimate unless `estimate` is false. A transaction the node says would revert is refused
 * ({@link WouldRevertError}, naming the contract's error); a failed estimate for any other reason leaves `gas` null.
 */
export async function prepareTransaction(
  wallet: Pick<WalletContext, 'deployment' | 'publicClient'>,
  parameters: { from: Address; contract: ContractName; functionName: string; data: Hex; description: string; estimate?: boolean },
): Promise<PreparedTransaction> {
  const { from, contract, data, description } = parameters
  const to = wallet.deployment.contracts[contract].address
  let gas: bigint | null = null
  if (parameters.estimate !== false) {
    try {
      gas = await wallet.publicClient.estimateGas({ account: from, to, data, value: 0n })
    } catch (error) {
      const revert = decodeRevert(error)
      if (revert) throw new WouldRevertError(description, formatRevert(revert))
    }
  }
  return {
    from,
    to,
    data,
    value: 0n,
    chainId: wallet.deployment.chainId,
    gas,
    contract,
    functionName: parameters.functionName,
    description,
  }
}

/**
 * What lets `spender` (a deployment contract) pull `amount` TSR from `from`: nothing when its allowance covers it, else
 * one `approve` of exactly `amount` (not unlimited: the wallet grants what this transaction needs). Refuses, naming
 * `from`, an account whose balance is short of `amount`. EIP-2612 `permit` is not offered: TesseraToken supports it, but
 * neither JobMarket nor ProviderRegistry takes a permit, so it would cost a transaction of its own all the same.
 */
export async function approvalFor(
  wallet: Pick<WalletContext, 'deployment' | 'publicClient'>,
  parameters: { from: Address; spender: 'JobMarket' | 'ProviderRegistry'; amount: bigint; purpose: string },
): Promise<PreparedTransaction[]> {
  const { from, spender, amount, purpose } = parameters
  const token = { address: wallet.deployment.contracts.TesseraToken.address, abi: tesseraTokenAbi } as const
  const spenderAddress = wallet.deployment.contracts[spender].address
  const [balance, allowance] = await Promise.all([
    wallet.publicClient.readContract({ ...token, functionName: 'balanceOf', args: [from] }),
    wallet.publicClient.readContract({ ...token, functionName: 'allowance', args: [from, spenderAddress] }),
  ])
  if (balance < amount)
    throw new InvalidArgumentError('from', `from ${from} holds ${formatTsr(balance)}, short of the ${formatTsr(amount)} ${purpose} needs`)
  if (allowance >= amount) return []
  return [
    await prepareTransaction(wallet, {
      from,
      contract: 'TesseraToken',
      functionName: 'approve',
      data: encodeFunctionData({ abi: tesseraTokenAbi, functionName: 'approve', args: [spenderAddress, amount] }),
      description: `Approve ${spender} to take ${formatTsr(amount)} of your TSR for ${purpose} (allowance now ${formatTsr(allowance)})`,
    }),
  ]
}
