import type { Address } from 'viem'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import { readChainAssignment } from './chainAssignment.ts'
import type { HeadWatch } from './headWatch.ts'
import { type PollBlockWindowsParameters, pollBlockWindows } from './pollBlockWindows.ts'

/** The provider's own logs are read as `pollBlockWindows` reads blocks. */
export type ChainAssignmentWatchParameters = Omit<PollBlockWindowsParameters, 'what' | 'poll'> & {
  provider: Address
  jobMarket: Address
  /** Hands a current assignment to the job workflow, as the subscription would (the journal deduplicates the two). */
  onAssigned: (assignment: JobAssignment) => void
  metrics: Pick<AgentMetrics, 'chainAssignments'>
  /**
   * The agent's head: each new block it shows is read for assignments as soon as it is seen, besides the windows read
   * every `intervalMs`. Absent: the windows alone.
   */
  heads?: HeadWatch
}

/**
 * Reads this provider's `JobAssigned` logs straight from the chain and hands each assignment still current at the head
 * to `onAssigned`, until `signal` aborts: every `intervalMs` over the last `lookbackBlocks` blocks (what a reorg or a
 * failed read left out), and with `heads`, each new block as soon as the head shows it. The server's change feed waits
 * for the index; the chain is the agent's own, and quicker: the block is read the moment it is seen, where the feed
 * must wait for the indexer to take it in (at 50 jobs a second on the devnet, half a second after the block), and a
 * commit sent that much later often misses the next block. With the server down, or its index stalled behind the
 * chain, an honest provider would otherwise never hear of an assignment and be slashed as a no-show. Each (job, commit
 * deadline) goes out once, from whichever read finds it first. Never rejects.
 */
export async function chainAssignmentWatch(parameters: ChainAssignmentWatchParameters): Promise<void> {
  const { publicClient, provider, log } = parameters
  // Each (job, commit deadline) handed, and the block of its log: once that block is below every read's reach (the
  // windows look back `lookbackBlocks`, the head reads only new blocks), its key goes, so a long-running agent's set
  // holds the last window's assignments rather than every one it ever had.
  const handed = new Map<string, bigint>()
  const poll = async (range: { fromBlock: bigint; toBlock: bigint }) => {
    const logs = await publicClient.getContractEvents({
      address: parameters.jobMarket,
      abi: jobMarketAbi,
      eventName: 'JobAssigned',
      args: { provider },
      ...range,
    })
    await Promise.all(
      logs.map(async ({ args, blockNumber }) => {
        const key = `${args.jobId}:${args.commitDeadline}`
        if (args.jobId === undefined || handed.has(key)) return
        const assignment = await readChainAssignment({ ...parameters, jobId: args.jobId })
        // Only the round the chain still runs: a later round of the job, or its end, is not this log's to start.
        if (!assignment || assignment.commitDeadline !== String(args.commitDeadline) || handed.has(key)) return
        handed.set(key, blockNumber)
        parameters.metrics.chainAssignments.inc()
        log.debug({ jobId: assignment.jobId, commitDeadline: assignment.commitDeadline }, 'assignment read from the chain')
        parameters.onAssigned(assignment)
      }),
    )
    for (const [key, block] of handed) if (block + parameters.lookbackBlocks < range.toBlock) handed.delete(key)
  }
  await Promise.all([
    pollBlockWindows({ ...parameters, what: 'reading assignments from the chain', poll }),
    parameters.heads && followHeads({ ...parameters, heads: parameters.heads, poll }),
  ])
}

/**
 * Reads each block the head shows, once, as soon as it shows it (several when the head moved more than one since the
 * last read). A read that fails is left to the windows. Never rejects.
 */
async function followHeads(
  parameters: Pick<ChainAssignmentWatchParameters, 'intervalMs' | 'log' | 'signal'> & {
    heads: HeadWatch
    poll: (range: { fromBlock: bigint; toBlock: bigint }) => Promise<void>
  },
): Promise<void> {
  const { heads, signal, log } = parameters
  // The first head is the windows' to read (they look back from it); from then on, each block past the last read.
  let read = await heads.after(undefined, parameters.intervalMs, signal)
  while (!signal.aborted) {
    const head = await heads.after(read, parameters.intervalMs, signal)
    if (signal.aborted || head === undefined) continue
    // A head lower than the last (a reorg) is read again only once it passes it: the windows cover the blocks between.
    if (read !== undefined && head > read) {
      await parameters
        .poll({ fromBlock: read + 1n, toBlock: head })
        .catch((error: unknown) => log.warn({ err: error }, 'reading the new blocks for assignments failed; the next window reads them'))
    }
    if (read === undefined || head > read) read = head
  }
}
