import { type Abi, type Account, type Address, encodeFunctionData, type Hash, type Hex, type PublicClient } from 'viem'

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
 * Sends a transaction with every field given (gas, fees, nonce): signed here and sent raw for a local account, one
 * request to the node; handed to the node to sign otherwise. viem's `sendTransaction` would first ask the node to fill
 * the transaction and read a block and the priority fee, several round trips a send that already knows all of it.
 */
export async function sendFilledTransaction(parameters: {
  publicClient: PublicClient
  /** Sends for an account the node holds (not a local one): the wallet client's `sendTransaction`. */
  sendTransaction: (request: Record<string, unknown>) => Promise<Hash>
  account: Account
  to: Address
  /** The call's data; none for a plain transfer. */
  data?: Hex
  gas: bigint
  fees: Fees
  nonce: number
}): Promise<Hash> {
  const { publicClient, account, to, data, gas, fees, nonce } = parameters
  if (account.type !== 'local') return parameters.sendTransaction({ account, to, data, gas, nonce, ...fees, chain: publicClient.chain })
  const chainId = publicClient.chain?.id ?? (await publicClient.getChainId())
  const serializedTransaction = await account.signTransaction({ type: 'eip1559', chainId, nonce, to, data, gas, ...fees })
  return publicClient.sendRawTransaction({ serializedTransaction })
}

/**
 * The gas of {@link sendEmptyTransfer}: 21,000 for the transfer, and room for an account delegated (EIP-7702) to
 * ProviderBatcher, whose `receive` runs (the delegation's cold access, 2,600, and a little code).
 */
const emptyTransferGas = 40_000n

/**
 * An empty transfer from the account to itself at `nonce`: what takes a nonce that nothing else should, a gap to fill
 * or a queued transaction to withdraw.
 */
export function sendEmptyTransfer(parameters: Omit<Parameters<typeof sendFilledTransaction>[0], 'to' | 'data' | 'gas'>): Promise<Hash> {
  return sendFilledTransaction({ ...parameters, to: parameters.account.address, gas: emptyTransferGas })
}

/** {@link sendFilledTransaction} of a contract call. */
export function sendContractCall(
  parameters: Omit<Parameters<typeof sendFilledTransaction>[0], 'to' | 'data'> & {
    address: Address
    abi: Abi
    functionName: string
    args: readonly unknown[]
  },
): Promise<Hash> {
  const { address, abi, functionName, args, ...rest } = parameters
  return sendFilledTransaction({ ...rest, to: address, data: encodeFunctionData({ abi, functionName, args }) })
}

/** What {@link gasOfOneRun} gives a call over the gas it used once: half again. */
export const oneRunGasMargin = { numerator: 3n, denominator: 2n } as const

/**
 * A gas limit for a call already simulated, from one run of it: the gas `eth_createAccessList` reports it used, times
 * `margin` ({@link oneRunGasMargin} by default). `eth_estimateGas` searches for the limit over a dozen runs, and viem
 * first asks the node to fill the transaction: on anvil an estimate of a batch costs 12 to 17 times an `eth_call`'s
 * CPU, the access list 1.5 to 2 times. Half again covers what the gas used leaves out: refunds (at most a fifth of the
 * gas before them, EIP-3529: a call clearing 200 slots used 809,492 and needed 1,049,465, 1.30 times), the 1/64 each
 * nested call keeps back (EIP-150), and the list itself, under which each first touch of an account or slot costs up
 * to a tenth less than without it (JobBatcher's finalize of one job: 1.5 % less). A caller whose transaction still
 * runs out should estimate from then on.
 */
export async function gasOfOneRun(parameters: {
  publicClient: PublicClient
  account: Account | Address
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
  margin?: { numerator: bigint; denominator: bigint }
}): Promise<bigint> {
  const { publicClient, account, address, abi, functionName, args, margin = oneRunGasMargin } = parameters
  const { gasUsed } = await publicClient.createAccessList({ account, to: address, data: encodeFunctionData({ abi, functionName, args }) })
  return (gasUsed * margin.numerator) / margin.denominator
}
