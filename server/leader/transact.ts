import { type Abi, type Address, type Hash, maxUint256, type PublicClient, type TransactionReceipt } from 'viem'
import { tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { TesseraError } from '../../protocol/errors.ts'
import type { AssignMeta } from './matcher.ts'
import type { createTransactionSender } from './transactionSender.ts'

type Sender = ReturnType<typeof createTransactionSender<AssignMeta>>

/** A call of the leader's that didn't make it on chain: not sent (its simulation reverted, or it is backing off), or reverted. */
export class TransactionFailedError extends TesseraError {
  override name = 'TransactionFailedError'
}

export type Call = { address: Address; abi: Abi | readonly unknown[]; functionName: string; args: readonly unknown[] }

/**
 * Sends one call through the leader's sender under `key` and waits for its receipt (following a replacement, as after a
 * reorg). `onSent` sees the hash as soon as it is sent. Throws {@link TransactionFailedError} when it can't be sent or
 * reverted.
 */
export async function transact(
  parameters: { sender: Sender; publicClient: PublicClient; onSent?: (hash: Hash) => Promise<void> | void },
  key: string,
  action: string,
  call: Call,
): Promise<TransactionReceipt> {
  const hash = await parameters.sender.send({
    key,
    action,
    ...(call as { address: Address; abi: Abi; functionName: string; args: readonly unknown[] }),
    meta: { kind: 'keeper' },
  })
  if (!hash) throw new TransactionFailedError(`${action} was not sent (its simulation reverted, or it is backing off)`, { retryable: true })
  await parameters.onSent?.(hash)
  const receipt = await parameters.publicClient.waitForTransactionReceipt({ hash, timeout: 60_000 })
  if (receipt.status !== 'success') throw new TransactionFailedError(`${action} reverted in ${receipt.transactionHash}`)
  return receipt
}

/**
 * Keeps the leader key's TesseraToken allowance to JobMarket at least what the next escrow or bond needs, approving
 * the maximum when it falls short. One approval serves every later job: the challenge issuer and the gateway share the
 * key, and exact approvals of one would overwrite the other's. Calls are serialised so two never approve at once.
 */
export function createAllowance(parameters: {
  sender: Sender
  publicClient: PublicClient
  token: Address
  owner: Address
  spender: Address
}): { ensure: (amount: bigint) => Promise<void> } {
  const { publicClient, token, owner, spender } = parameters
  let queue: Promise<unknown> = Promise.resolve()
  let sequence = 0
  const ensureNow = async (amount: bigint) => {
    const allowance = (await publicClient.readContract({
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'allowance',
      args: [owner, spender],
    })) as bigint
    if (allowance >= amount) return
    await transact(parameters, `approve:${++sequence}`, 'approve', {
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'approve',
      args: [spender, maxUint256],
    })
  }
  return {
    ensure(amount) {
      const next = queue.then(() => ensureNow(amount))
      queue = next.catch(() => undefined)
      return next
    },
  }
}
