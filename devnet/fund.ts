import { type Address, createPublicClient, createWalletClient, type Hex, http, type LocalAccount, type TransactionReceipt } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import { TesseraError } from '../protocol/errors.ts'
import { decodeRevert, formatRevert } from '../protocol/revert.ts'
import { devKeys } from './devAccounts.ts'

/** A transfer of {@link fund} that failed or reverted (the sender ran out of TSR, say). Not retryable as is. */
export class FundError extends TesseraError {
  override name = 'FundError'
}

export type FundParameters = {
  rpcUrl: string
  /** The TesseraToken. */
  token: Address
  /** Who pays: the genesis holder, by default the devnet deployer (dev key 0). */
  from?: LocalAccount
  /** TSR wei to send each address, in order. */
  to: readonly { address: Address; amount: bigint }[]
}

export type FundReturnType = { receipts: TransactionReceipt[] }

/**
 * Sends TSR from the deployer to every address in `to` and resolves once every transfer is mined. The transfers go
 * out back to back with consecutive nonces and are awaited together, so funding n accounts on an interval-mining
 * devnet takes a block or two, not n. Throws {@link FundError} naming the first transfer that failed.
 */
export async function fund(parameters: FundParameters): Promise<FundReturnType> {
  const { rpcUrl, token, to } = parameters
  const account = parameters.from ?? privateKeyToAccount(devKeys[0])
  const transport = http(rpcUrl)
  const chainId = await createPublicClient({ transport }).getChainId()
  const chain = chainOf(chainId, rpcUrl)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 })
  const wallet = createWalletClient({ chain, transport, account, pollingInterval: 50 })
  const firstNonce = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })
  const hashes: Hex[] = []
  for (const [i, { address, amount }] of to.entries()) {
    const transfer = {
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'transfer',
      args: [address, amount],
      nonce: firstNonce + i,
    } as const
    try {
      hashes.push(await wallet.writeContract(transfer))
    } catch (cause) {
      const revert = decodeRevert(cause)
      throw new FundError(`funding ${address} with ${amount} TSR wei failed`, {
        cause,
        details: revert ? formatRevert(revert) : (cause as Error).message,
      })
    }
  }
  const receipts = await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })))
  const failed = receipts.findIndex((receipt) => receipt.status !== 'success')
  if (failed >= 0) {
    const { address, amount } = to[failed]
    throw new FundError(`funding ${address} with ${amount} TSR wei reverted`, {
      details: `transfer from ${account.address} in ${receipts[failed].transactionHash}`,
    })
  }
  return { receipts }
}
