import { type Abi, type Account, encodeFunctionData, type Hash, type PublicClient } from 'viem'

/** What a send pays per gas: EIP-1559's two fees. */
export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }

/**
 * The node's fees, read at most once per `maxAgeMs` (a burst of sends shares one read). A base fee moves at most
 * 12.5 % a block and viem's estimate allows 20 %, so a read a block old still prices a transaction in. A failed read is
 * not kept.
 */
export function createFeeReader(publicClient: PublicClient, maxAgeMs: number): () => Promise<Fees> {
  let last: { at: number; value: Promise<Fees> } | undefined
  return () => {
    const now = Date.now()
    if (!last || now - last.at >= maxAgeMs) {
      const value = publicClient.estimateFeesPerGas() as Promise<Fees>
      last = { at: now, value }
      value.catch(() => {
        if (last?.value === value) last = undefined
      })
    }
    return last.value
  }
}

/**
 * Sends a contract call with every field given (gas, fees, nonce): signed here and sent raw for a local account, one
 * request to the node; handed to the node to sign otherwise. viem's `writeContract` would first ask the node to fill
 * the transaction and read a block and the priority fee, several round trips a send that already knows all of it.
 */
export async function sendContractCall(parameters: {
  publicClient: PublicClient
  /** Sends for an account the node holds (not a local one). */
  writeContract: (request: Record<string, unknown>) => Promise<Hash>
  account: Account
  address: `0x${string}`
  abi: Abi
  functionName: string
  args: readonly unknown[]
  gas: bigint
  fees: Fees
  nonce: number
}): Promise<Hash> {
  const { publicClient, account, address, abi, functionName, args, gas, fees, nonce } = parameters
  if (account.type !== 'local')
    return parameters.writeContract({ account, address, abi, functionName, args, gas, nonce, ...fees, chain: publicClient.chain })
  const chainId = publicClient.chain?.id ?? (await publicClient.getChainId())
  const serializedTransaction = await account.signTransaction({
    type: 'eip1559',
    chainId,
    nonce,
    to: address,
    data: encodeFunctionData({ abi, functionName, args }),
    gas,
    ...fees,
  })
  return publicClient.sendRawTransaction({ serializedTransaction })
}
