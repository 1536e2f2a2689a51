import type { Logger } from 'pino'
import type { Address, PublicClient } from 'viem'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { sleep } from '../protocol/retry.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import { readChainAssignment } from './chainAssignment.ts'

export type ChainAssignmentWatchParameters = {
  provider: Address
  jobMarket: Address
  publicClient: PublicClient
  intervalMs: number
  /**
   * Blocks read again below the last head on every poll, and read back at start: a reorg can re-mine an assign
   * below where the watch had read, and a restart must see what was assigned just before it.
   */
  lookbackBlocks: bigint
  /** Hands a current assignment to the job workflow, as the subscription would (the journal deduplicates the two). */
  onAssigned: (assignment: JobAssignment) => void
  metrics: Pick<AgentMetrics, 'chainAssignments'>
  log: Logger
  signal: AbortSignal
}

/**
 * Reads this provider's `JobAssigned` logs straight from the chain every `intervalMs` until `signal` aborts, and hands
 * each assignment still current at the head to `onAssigned`. The server's change feed is the fast path; this is the
 * agent's own: with the server down, or its index stalled behind the chain, an honest provider would otherwise never
 * hear of an assignment and be slashed as a no-show. Each (job, commit deadline) goes out once. Never rejects.
 */
export async function chainAssignmentWatch(parameters: ChainAssignmentWatchParameters): Promise<void> {
  const { publicClient, provider, log, signal, lookbackBlocks } = parameters
  const handed = new Set<string>()
  let from: bigint | undefined
  while (!signal.aborted) {
    try {
      const head = await publicClient.getBlockNumber({ cacheTime: 0 })
      const start = from ?? (head > lookbackBlocks ? head - lookbackBlocks : 0n)
      const logs = await publicClient.getContractEvents({
        address: parameters.jobMarket,
        abi: jobMarketAbi,
        eventName: 'JobAssigned',
        args: { provider },
        fromBlock: start,
        toBlock: head,
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
      from = head > lookbackBlocks ? head - lookbackBlocks : 0n
    } catch (error) {
      if (signal.aborted) break
      log.warn({ err: error }, 'reading assignments from the chain failed')
    }
    await sleep(parameters.intervalMs, signal)
  }
}
