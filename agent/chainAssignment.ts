import type { Address, Hex, PublicClient } from 'viem'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { JobStatus } from '../protocol/enums.ts'

/**
 * `provider`'s current assignment to `jobId` as the chain shows it at the head, shaped as the subscription delivers
 * one (no cursor: it didn't come from the feed); undefined unless the job is Assigned with `provider` in a slot.
 */
export async function readChainAssignment(parameters: {
  publicClient: PublicClient
  jobMarket: Address
  provider: Address
  jobId: bigint
}): Promise<JobAssignment | undefined> {
  const { publicClient, provider, jobId } = parameters
  const chain = { address: parameters.jobMarket, abi: jobMarketAbi } as const
  const [job, slot] = await Promise.all([
    publicClient.readContract({ ...chain, functionName: 'getJob', args: [jobId] }),
    publicClient.readContract({ ...chain, functionName: 'getSlot', args: [jobId, provider] }),
  ])
  if (job.status !== JobStatus.Assigned || !slot.assigned) return undefined
  return assignmentOf({
    jobId,
    provider,
    slot: job.providers.findIndex((p) => p.toLowerCase() === provider.toLowerCase()),
    job,
    ask: slot.ask,
    collateral: slot.collateral,
  })
}

/** What of a job as the chain holds it an assignment carries. */
export type AssignedJob = {
  commitDeadline: bigint
  spec: { modelHash: Hex; inputHash: Hex; units: bigint; outputTolerance: number; redundancy: number; deadline: bigint }
}

/**
 * `provider`'s assignment to `slot` of `jobId` at `ask` with `collateral` locked, shaped as the subscription delivers
 * one (no cursor: it didn't come from the feed).
 */
export function assignmentOf(parameters: {
  jobId: bigint
  provider: Address
  slot: number
  job: AssignedJob
  ask: bigint
  collateral: bigint
}): JobAssignment {
  const { jobId, job } = parameters
  const { spec } = job
  return {
    cursor: '',
    retracted: false,
    jobId: String(jobId),
    provider: parameters.provider,
    slot: parameters.slot,
    pricePerUnit: String(parameters.ask),
    collateral: String(parameters.collateral),
    commitDeadline: String(job.commitDeadline),
    job: {
      id: String(jobId),
      modelHash: spec.modelHash,
      inputHash: spec.inputHash,
      units: String(spec.units),
      outputTolerance: spec.outputTolerance,
      redundancy: spec.redundancy,
      deadline: String(spec.deadline),
    },
  }
}
