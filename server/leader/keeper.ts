import type { Logger } from 'pino'
import { maxUint256, type PublicClient } from 'viem'
import { emissionControllerAbi, jobMarketAbi } from '../../contracts/generated/index.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { AuditKind } from '../../protocol/spotCheck.ts'
import type { Views } from '../db/database.ts'
import { findKeeperWork, type KeeperJob, type SpotCheckWork } from '../db/jobs.ts'
import { type BatchAction, batchRequests, defaultBatchSize } from './batches.ts'
import type { createDisagreementProver } from './disagreementProver.ts'
import type { AssignMeta } from './matcher.ts'
import type { createTransactionSender } from './transactionSender.ts'

/** Jobs read per action and pass: four full batches at the default size. */
const jobsPerAction = 4 * defaultBatchSize
/**
 * Most epochs one `advanceEpoch` closes: ≈ 85k gas a call plus a constant per epoch whatever the providers paid in
 * it, ≤ 75k at the default per-provider cap (BENCHMARKS.md), so ≤ 7.6M gas. A longer outage takes several ticks.
 */
const epochsPerAdvance = 100n

const keeperMeta: AssignMeta = { kind: 'keeper' }

/**
 * The keeper: at chain time `now` it sends `finalize` (REVEALED, or COMMITTED past the reveal
 * deadline), `expire` (OPEN or DISPUTED past the deadline), `expireAssignment` (ASSIGNED past the commit
 * deadline) and `advanceEpoch(epochsPerAdvance)` (an ended epoch not yet closed), one in flight per (action, job, round);
 * the per-job actions go through JobBatcher, `batchSize` jobs per transaction.
 * A job whose revealed results differ is finalized only once its proof window closed; meanwhile `prover` proves its
 * disagreements (in an optimistic job's audit, the auditor's result against the original's).
 *
 * An optimistic job revealed by its one provider is finalized only when `finalize` can't revert: once block
 * `revealBlock + 2` exists (the block after the reveal decides the spot check, and a call sees a block's hash only
 * from the next one), at once when `spotCheckOf` selects it (finalize starts its audit), otherwise after its challenge
 * window (finalize settles it). The spot check is read once per job and reveal block, at the chain's block.
 */
export function createKeeper(parameters: {
  views: Views
  publicClient: PublicClient
  deployment: Deployment
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  log: Logger
  /** Proves disagreements under tolerance from the stored outputs; without it nobody proves and results that differ agree. */
  prover?: ReturnType<typeof createDisagreementProver>
  /** Most jobs per transaction (default {@link defaultBatchSize}; 1: a transaction per job). */
  batchSize?: number
}) {
  const { views, publicClient, deployment, sender, prover } = parameters
  const jobMarket = deployment.contracts.JobMarket.address
  const batcher = deployment.contracts.JobBatcher.address
  const controller = deployment.contracts.EmissionController.address
  const { proofWindow, challengeWindow } = deployment.params.market
  /** `spotCheckOf` as read, by `jobId:revealBlock`: fixed once block revealBlock + 1 is mined. */
  const spotChecks = new Map<string, AuditKind>()

  /** The optimistic jobs `finalize` would now audit or settle, without a revert (see the summary). */
  const decided = async (jobs: SpotCheckWork[], chainTime: bigint, blockNumber: bigint): Promise<KeeperJob[]> => {
    const live = new Set(jobs.map((j) => `${j.jobId}:${j.revealBlock}`))
    for (const key of spotChecks.keys()) if (!live.has(key)) spotChecks.delete(key)
    const ready: KeeperJob[] = []
    for (const job of jobs) {
      if (blockNumber < job.revealBlock + 2n) continue
      if (chainTime > job.challengeClosesAt) {
        ready.push(job)
        continue
      }
      const key = `${job.jobId}:${job.revealBlock}`
      let kind = spotChecks.get(key)
      if (kind === undefined) {
        kind = (await publicClient.readContract({
          address: jobMarket,
          abi: jobMarketAbi,
          functionName: 'spotCheckOf',
          args: [job.jobId],
          blockNumber,
        })) as AuditKind
        spotChecks.set(key, kind)
      }
      if (kind !== AuditKind.None) ready.push(job)
    }
    return ready
  }

  return {
    /** One pass at the chain's latest block (`chainTime` its timestamp, `blockNumber` its number); returns the transactions sent. */
    async tick(chainTime: bigint, blockNumber: bigint): Promise<number> {
      const { spotChecks: optimistic, ...work } = await findKeeperWork(views, {
        now: chainTime,
        proofWindow,
        challengeWindow,
        limit: jobsPerAction,
      })
      work.finalize = [...work.finalize, ...(await decided(optimistic, chainTime, blockNumber))]
      // Keyed by the job's round too, so one round's finalize (an optimistic job's, starting its audit) never holds up
      // the next round's while the index catches up.
      const keyOf = (action: string, job: KeeperJob) => `${action}:${job.jobId}:${job.round}`
      const actionable = new Set<string>()
      for (const [action, jobs] of Object.entries(work)) for (const job of jobs) actionable.add(keyOf(action, job))
      // An optimistic job's finalize stays blocked while the job waits, revealed, for its audit or its window.
      for (const job of optimistic) actionable.add(keyOf('finalize', job))
      sender.settle(
        (key) => key.startsWith('assign:') || key.startsWith('advanceEpoch:') || actionable.has(key) || prover?.owns(key) === true,
      )
      let sent = prover ? await prover.tick(chainTime) : 0
      for (const [action, jobs] of Object.entries(work) as [BatchAction & keyof typeof work, KeeperJob[]][]) {
        const calls = jobs.map((job) => ({ key: keyOf(action, job), jobId: job.jobId })).filter((c) => !sender.inFlight(c.key))
        const requests = batchRequests({ batcher, action, calls, size: parameters.batchSize ?? defaultBatchSize, metaOf: () => keeperMeta })
        for (const request of requests) if (await sender.send(request)) sent += request.batch?.calls.length ?? 1
      }
      const [current, lastClosed] = await Promise.all([
        publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'currentEpoch' }),
        publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' }),
      ])
      // Every epoch before `current` has ended; close them when the last closed one lags. Keyed by the first epoch
      // to close, so after a long outage each bounded call's successor goes out as soon as its predecessor is mined.
      const firstOpen = lastClosed === maxUint256 ? 0n : lastClosed + 1n
      if (firstOpen < current) {
        const hash = await sender.send({
          key: `advanceEpoch:${firstOpen}`,
          action: 'advanceEpoch',
          address: controller,
          abi: emissionControllerAbi,
          functionName: 'advanceEpoch',
          args: [epochsPerAdvance],
          meta: keeperMeta,
        })
        if (hash) sent++
      }
      return sent
    },
  }
}
