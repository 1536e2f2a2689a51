import type { Address } from 'viem'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import { readChainAssignment } from './chainAssignment.ts'
import { type PollBlockWindowsParameters, pollBlockWindows } from './pollBlockWindows.ts'

/** The provider's own logs are read as `pollBlockWindows` reads blocks. */
export type ChainAssignmentWatchParameters = Omit<PollBlockWindowsParameters, 'what' | 'poll'> & {
  provider: Address
  jobMarket: Address
  /** Hands a current assignment to the job workflow, as the subscription would (the journal deduplicates the two). */
  onAssigned: (assignment: JobAssignment) => void
  metrics: Pick<AgentMetrics, 'chainAssignments'>
}

/**
 * Reads this provider's `JobAssigned` logs straight from the chain every `intervalMs` until `signal` aborts, and hands
 * each assignment still current at the head to `onAssigned`. The server's change feed is the fast path; this is the
 * agent's own: with the server down, or its index stalled behind the chain, an honest provider would otherwise never
 * hear of an assignment and be slashed as a no-show. Each (job, commit deadline) goes out once. Never rejects.
 */
export async function chainAssignmentWatch(parameters: ChainAssignmentWatchParameters): Promise<void> {
  const { publicClient, provider, log } = parameters
  const handed = new Set<string>()
  await pollBlockWindows({
    ...parameters,
    what: 'reading assignments from the chain',
    poll: async (range) => {
      const logs = await publicClient.getContractEvents({
        address: parameters.jobMarket,
        abi: jobMarketAbi,
        eventName: 'JobAssigned',
        args: { provider },
        ...range,
      })
      for (const { args } of logs) {
        const key = `${args.jobId}:${args.commitDeadline}`
        if (args.jobId === undefined || handed.has(key)) continue
        const assignment = await readChainAssignment({ ...parameters, jobId: args.jobId })
        // Only the round the chain still runs: a later round of the job, or its end, is not this log's to start.
        if (!assignment || assignment.commitDeadline !== String(args.commitDeadline)) continue
        handed.add(key)
        parameters.metrics.chainAssignments.inc()
        log.debug({ jobId: assignment.jobId, commitDeadline: assignment.commitDeadline }, 'assignment read from the chain')
        parameters.onAssigned(assignment)
      }
    },
  })
}
