import { type Address, createPublicClient, createWalletClient, type Hex, http, type PublicClient, parseEventLogs } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { Verification } from '../protocol/enums.ts'
import { TesseraError } from '../protocol/errors.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import { escrowOf } from '../protocol/settlement.ts'
import { checkJob } from './serverClient.ts'

// The one uploader lives beside the other server calls; `tessera job submit` still imports it from here.

/** JobMarket's ABI plus the token's errors, so a revert inside `transferFrom` decodes by name. */
const submitAbi = [...jobMarketAbi, ...tesseraTokenAbi.filter((item) => item.type === 'error')] as const

export type SubmitJobParameters = {
  rpcUrl: string
  deployment: Deployment
  privateKey: Hex
  modelHash: Hex
  inputHash: Hex
  units: bigint
  maxPricePerUnit: bigint
  /** Providers that run the job: 2..16 when Redundant, exactly 1 when Optimistic (the contract refuses anything else). */
  redundancy: number
  /** Redundant (default) or Optimistic: one run, spot-checked, escrowed as k = 2 (`escrowOf`). */
  verification?: Verification
  /** Seconds from the latest block's timestamp. */
  deadlineIn?: number
  outputTolerance?: number
  minVramMiB?: number
  gpuModel?: number
  regions?: Hex[]
  /** Approve exactly the escrow before submitting (default true). */
  approve?: boolean
  /** When given, both blobs must be on this server before any escrow moves. */
  serverUrl?: string
  publicClient?: PublicClient
}

export type SubmitJobReturnType = { jobId: bigint; escrow: bigint; txHash: Hex; requester: Address }

/**
 * Approves the escrow (`escrowOf`, equal to the JobMarket's `quoteEscrow`) and calls `JobMarket.submitJob`, returning the new job id
 * from `JobSubmitted`. The blobs must already be uploaded: the server's matcher ignores nothing, but agents fail a
 * job whose blobs are missing.
 */
export async function submitJob(parameters: SubmitJobParameters): Promise<SubmitJobReturnType> {
  const { deployment, units, maxPricePerUnit, redundancy } = parameters
  const verification = parameters.verification ?? Verification.Redundant
  if (parameters.serverUrl) {
    const problems = await checkJob({
      serverUrl: parameters.serverUrl,
      spec: { modelHash: parameters.modelHash, inputHash: parameters.inputHash, units },
    })
    if (problems.length)
      throw new SubmitJobError(`the job can't run, so nothing was escrowed: ${problems.map((p) => p.message).join('; ')}`, {
        details: problems.map((p) => `${p.code}: ${p.message}`).join('\n'),
      })
  }
  const account = privateKeyToAccount(parameters.privateKey)
  const transport = http(parameters.rpcUrl)
  const publicClient = parameters.publicClient ?? createPublicClient({ transport })
  const chain = chainOf(await publicClient.getChainId(), parameters.rpcUrl)
  const wallet = createWalletClient({ account, chain, transport })
  const market = deployment.contracts.JobMarket.address
  const token = deployment.contracts.TesseraToken.address

  const escrow = escrowOf({ maxPricePerUnit, units, redundancy, verification }, deployment.params.market)
  if (parameters.approve !== false) {
    const approveHash = await wallet.writeContract({
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'approve',
      args: [market, escrow],
    })
    await publicClient.waitForTransactionReceipt({ hash: approveHash })
  }
  const block = await publicClient.getBlock()
  const spec = {
    modelHash: parameters.modelHash,
    inputHash: parameters.inputHash,
    units,
    maxPricePerUnit,
    minVramMiB: parameters.minVramMiB ?? 0,
    gpuModel: parameters.gpuModel ?? 0,
    regions: parameters.regions ?? [],
    redundancy,
    verification,
    deadline: block.timestamp + BigInt(parameters.deadlineIn ?? 600),
    outputTolerance: parameters.outputTolerance ?? defaultOutputTolerance,
  }
  const txHash = await wallet.writeContract({ address: market, abi: submitAbi, functionName: 'submitJob', args: [spec] })
  const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
  if (receipt.status !== 'success') throw new SubmitJobError(`submitJob reverted in ${txHash}`)
  const [event] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobSubmitted' })
  if (!event) throw new SubmitJobError(`no JobSubmitted event in ${txHash}`)
  return { jobId: event.args.jobId, escrow: event.args.escrow, txHash, requester: account.address }
}

/** A job the server or chain refused before or while submitting; retryable when it may accept it later. */
export class SubmitJobError extends TesseraError {
  override name = 'SubmitJobError'
}
