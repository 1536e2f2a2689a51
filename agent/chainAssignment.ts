import type { Address, PublicClient } from 'viem'
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
  const { spec } = job
  return {
    cursor: '',
    retracted: false,
    jobId: String(jobId),
    provider,
    slot: job.providers.findIndex((p) => p.toLowerCase() === provider.toLowerCase()),
    pricePerUnit: String(slot.ask),
    collateral: String(slot.collateral),
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
