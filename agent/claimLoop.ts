import type { Logger } from 'pino'
import { type Address, type PublicClient, parseEventLogs } from 'viem'
import { fetchWaitingJobs, type WaitingJob } from '../client/fetchWaitingJobs.ts'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { JobStatus } from '../protocol/enums.ts'
import { sleep } from '../protocol/retry.ts'
import { decodeRevert, formatRevert } from '../protocol/revert.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import { readChainAssignment } from './chainAssignment.ts'
import { TransactionError, type TxSender } from './txSender.ts'

export type ClaimLoopParameters = {
  serverUrl: string
  provider: Address
  jobMarket: Address
  publicClient: PublicClient
  sender: TxSender
  /** JobMarket's `claimGrace`, seconds: how long a job waits for the matcher before providers may claim it. */
  claimGrace: bigint
  /** The agent's ask per unit: a job whose max price is below it is not tried. */
  pricePerUnit: bigint
  intervalMs: number
  /** Claims sent per tick at most, so a backlog doesn't lock the whole stake at once. */
  maxClaimsPerTick: number
  /**
   * Hands an assignment this agent's claims took part in to the job workflow, as the subscription would (the journal
   * deduplicates the two): the agent works even when the server's change feed is down too.
   */
  onAssigned: (assignment: JobAssignment) => void
  metrics: Pick<AgentMetrics, 'claims'>
  log: Logger
  signal: AbortSignal
}

/** How long a job the contract refused is left alone (unless it reopens), in ticks. */
const refusedForTicks = 5

/**
 * Every `intervalMs` until `signal` aborts, claims (`claimJob`) jobs that have waited for providers longer than the
 * claim grace — the matcher has had its chance, so it seems absent — at most `maxClaimsPerTick` a tick, oldest first.
 * The server's index proposes candidates this agent could take (its ask within the job's max price, not a party to
 * the job's dispute, not already holding a slot); the contract judges the rest (hardware, region, stake, no-shows):
 * a claim whose simulation reverts is not sent, and the job is left alone for a few ticks unless it reopens. Each
 * tick also follows the jobs it holds a claimed slot of: once one is assigned (this claim or a later one filled it),
 * the assignment goes to `onAssigned`. Never rejects.
 */
export async function claimLoop(parameters: ClaimLoopParameters): Promise<void> {
  const { provider, metrics, log, signal } = parameters
  const me = provider.toLowerCase()
  /** Jobs holding a slot this agent claimed, not yet handed over as an assignment. */
  const held = new Set<bigint>()
  /** Jobs the contract refused, by id: the `openedAt` refused at and the tick until which to leave them alone. */
  const refused = new Map<bigint, { openedAt: bigint; untilTick: number }>()
  let tick = 0

  const chain = { address: parameters.jobMarket, abi: jobMarketAbi } as const
  const handOver = async () => {
    for (const jobId of held) {
      const job = await parameters.publicClient.readContract({ ...chain, functionName: 'getJob', args: [jobId] })
      const assignment = await readChainAssignment({ ...parameters, jobId })
      const waiting = job.status === JobStatus.Open || job.status === JobStatus.Disputed
      if (waiting && job.providers.some((p) => p.toLowerCase() === me)) continue
      held.delete(jobId)
      if (!assignment) {
        log.info({ jobId: String(jobId), status: job.status }, 'claimed slot released before the job was assigned')
        continue
      }
      log.info({ jobId: String(jobId), commitDeadline: assignment.commitDeadline }, 'claimed job assigned')
      parameters.onAssigned(assignment)
    }
  }

  const candidates = (jobs: WaitingJob[], now: bigint) =>
    jobs.filter((job) => {
      const refusal = refused.get(job.id)
      return (
        job.deadline > now &&
        job.maxPricePerUnit >= parameters.pricePerUnit &&
        !held.has(job.id) &&
        !job.claimers.some((p) => p.toLowerCase() === me) &&
        !job.disputedProviders.some((p) => p.toLowerCase() === me) &&
        !(refusal && refusal.openedAt === job.openedAt && tick < refusal.untilTick)
      )
    })

  /** Claims `job`; whether a claim was sent (mined, or failed for another reason than the contract refusing it). */
  const claim = async (job: WaitingJob): Promise<boolean> => {
    const jobId = String(job.id)
    const refuse = (reason: string) => {
      metrics.claims.inc({ result: 'refused' })
      refused.set(job.id, { openedAt: job.openedAt, untilTick: tick + refusedForTicks })
      log.debug({ jobId, reason }, 'claim refused')
      return false
    }
    try {
      await parameters.publicClient.simulateContract({ ...chain, functionName: 'claimJob', args: [job.id], account: provider })
    } catch (error) {
      const revert = decodeRevert(error)
      if (revert) return refuse(formatRevert(revert))
      throw error
    }
    try {
      const { receipt, hash } = await parameters.sender.send({ ...chain, functionName: 'claimJob', args: [job.id] })
      held.add(job.id)
      // The k-th claim starts the round: its JobAssigned events are in the same transaction.
      const filled = parseEventLogs({ abi: jobMarketAbi, eventName: 'JobAssigned', logs: receipt.logs }).length > 0
      metrics.claims.inc({ result: filled ? 'filled' : 'claimed' })
      log.info({ jobId, txHash: hash, filled }, 'job claimed')
      return true
    } catch (error) {
      if (error instanceof TransactionError && error.revert) return refuse(formatRevert(error.revert))
      throw error
    }
  }

  while (!signal.aborted) {
    tick++
    try {
      await handOver()
      const now = (await parameters.publicClient.getBlock({ blockTag: 'latest' })).timestamp
      if (now > parameters.claimGrace) {
        const waiting = await fetchWaitingJobs({ serverUrl: parameters.serverUrl, openedBefore: now - parameters.claimGrace, signal })
        let sent = 0
        for (const job of candidates(waiting, now)) {
          if (sent >= parameters.maxClaimsPerTick || signal.aborted) break
          if (await claim(job)) sent++
        }
        if (sent) await handOver()
      }
    } catch (error) {
      if (signal.aborted) break
      metrics.claims.inc({ result: 'error' })
      log.warn({ err: error }, 'claim round failed')
    }
    await sleep(parameters.intervalMs, signal)
  }
}
