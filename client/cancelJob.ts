import { createPublicClient, createWalletClient, type Hex, http, parseEventLogs } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { TesseraError } from '../protocol/errors.ts'
import { decodeRevert, formatRevert } from '../protocol/revert.ts'

/** JobMarket refused the cancel (the job isn't Open, or isn't the key's), or it reverted once sent. Not retryable. */
export class CancelJobError extends TesseraError {
  override name = 'CancelJobError'
}

export type CancelJobParameters = {
  rpcUrl: string
  deployment: Pick<Deployment, 'chainId' | 'contracts'>
  /** The job's requester. */
  privateKey: Hex
  jobId: bigint
}

export type CancelJobReturnType = { txHash: Hex; refunded: bigint }

/**
 * Cancels one of the key's own jobs while it is still Open (no provider assigned): `JobMarket.cancel`, simulated
 * first so a refusal is a {@link CancelJobError} naming the contract's reason before anything is sent. The escrow is
 * credited to the requester in JobMarket (`withdraw` pays it out).
 */
export async function cancelJob(parameters: CancelJobParameters): Promise<CancelJobReturnType> {
  const { rpcUrl, deployment, jobId } = parameters
  const account = privateKeyToAccount(parameters.privateKey)
  const chain = chainOf(deployment.chainId, rpcUrl)
  const transport = http(rpcUrl)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 })
  const wallet = createWalletClient({ account, chain, transport })
  const market = { address: deployment.contracts.JobMarket.address, abi: jobMarketAbi } as const
  let request: Parameters<typeof wallet.writeContract>[0]
  try {
    ;({ request } = await publicClient.simulateContract({ ...market, functionName: 'cancel', args: [jobId], account }))
  } catch (cause) {
    const revert = decodeRevert(cause)
    if (!revert) throw cause
    throw new CancelJobError(`JobMarket refuses to cancel job ${jobId}: ${formatRevert(revert)}`, {
      cause,
      metaMessages: ['Only the requester can cancel, and only while the job is OPEN (before a provider is assigned).'],
    })
  }
  const txHash = await wallet.writeContract(request)
  const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
  if (receipt.status !== 'success') throw new CancelJobError(`the cancel of job ${jobId} reverted in ${txHash}`)
  const refunded = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'Refunded' }).reduce(
    (sum, event) => sum + event.args.amount,
    0n,
  )
  return { txHash, refunded }
}
