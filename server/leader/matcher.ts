import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Deployment } from '../../protocol/deployment.ts'
import type { JobCheck } from '../checkJob.ts'
import { findNoShows } from '../db/assignments.ts'
import { findStoredBlobs } from '../db/blobs.ts'
import type { Database, Views } from '../db/database.ts'
import { findMatchableJobs } from '../db/jobs.ts'
import { findCandidateProviders } from '../db/providers.ts'
import { batchRequests, defaultBatchSize } from './batches.ts'
import type { VettedSpec } from './jobVetting.ts'
import { matchJobs } from './matchJobs.ts'
import type { createTransactionSender } from './transactionSender.ts'

/** What an in-flight `assign` will lock, so the next round doesn't count it as free stake. */
export type AssignMeta = { kind: 'assign'; providers: string[]; collaterals: bigint[] } | { kind: 'keeper' }

/** Jobs read per pass: four full batches at the default size. */
const jobsPerTick = 4 * defaultBatchSize
const jobIdOf = (job: { id: bigint }) => job.id

/**
 * The matcher: reads jobs waiting for providers (OPEN, or DISPUTED for a tie-break or an optimistic job's audit) and
 * live providers, picks providers with `matchJobs`, and assigns them through JobBatcher's `assignMany`, `batchSize` jobs
 * per transaction (one assign in flight per job).
 */
export function createMatcher(parameters: {
  db: Kysely<Database>
  views: Views
  deployment: Deployment
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  log: Logger
  /** Wall clock, unix seconds (heartbeats are judged on server time). */
  now: () => number
  /** Vets a job before it is assigned (`createJobVetting` over `checkJob`); without it only stored blobs are required. */
  vet?: (spec: VettedSpec) => Promise<JobCheck>
  /**
   * The provider (lower-case) an OPEN job is reserved for, if any: the challenge issuer's jobs go to their target only.
   * A reserved job's later rounds (an audit) are matched as any other's.
   */
  reservedFor?: (job: { id: bigint; requester: string; inputHash: string }) => string | undefined
  /** Most jobs per transaction (default {@link defaultBatchSize}; 1: a transaction per job). */
  batchSize?: number
}) {
  const { db, views, deployment, sender, log } = parameters
  const batcher = deployment.contracts.JobBatcher.address

  /** The jobs an honest provider could run; the others are logged once and left to expire with a full refund. */
  const refused = new Set<bigint>()
  async function vetted<J extends VettedSpec & { id: bigint }>(jobs: J[], vet: (spec: VettedSpec) => Promise<JobCheck>): Promise<J[]> {
    for (const id of refused) if (!jobs.some((j) => j.id === id)) refused.delete(id)
    const verdicts = await Promise.all(jobs.map((j) => vet(j)))
    return jobs.filter((job, i) => {
      const verdict = verdicts[i]
      if (!verdict || verdict.runnable) return true
      if (!refused.has(job.id))
        log.warn({ jobId: String(job.id), problems: verdict.problems }, 'matcher will not assign a job no provider can run')
      refused.add(job.id)
      return false
    })
  }

  return {
    async tick(chainTime: bigint): Promise<number> {
      const openJobs = await findMatchableJobs(views, {
        now: chainTime,
        limit: jobsPerTick,
        commitWindow: deployment.params.market.commitWindow,
      })
      // One assign in flight per job, whatever its round: keying by round let a reorg that put a job back to waiting
      // strand it Open (test/reorg.e2e.test.ts failed twice in five full runs). An audit right after a challenge waits
      // for the last round's assign to settle instead.
      const assignKey = (job: { id: bigint; round: number }) => `assign:${job.id}`
      const openKeys = new Set(openJobs.map(assignKey))
      sender.settle((key) => !key.startsWith('assign:') || openKeys.has(key))
      // A job whose model or input isn't in the blob store can't be run: assigning it would get honest
      // providers slashed as no-shows. It stays Open until its uploader supplies the blob or it expires (refund).
      const stored = await findStoredBlobs(
        db,
        openJobs.flatMap((j) => [j.modelHash.toLowerCase(), j.inputHash.toLowerCase()]),
      )
      const runnable = openJobs.filter((j) => stored.has(j.modelHash.toLowerCase()) && stored.has(j.inputHash.toLowerCase()))
      if (runnable.length < openJobs.length)
        log.debug({ jobIds: openJobs.filter((j) => !runnable.includes(j)).map((j) => String(j.id)) }, 'matcher skipped jobs without blobs')
      const unassigned = runnable.filter((j) => !sender.inFlight(assignKey(j)))
      const ready = parameters.vet ? await vetted(unassigned, parameters.vet) : unassigned
      if (!ready.length) return 0
      // A job's no-shows never get it back: JobMarket would revert the whole assign (ProviderWasNoShow). Nor does a
      // disputed job's first round (`disputedProviders`, ProviderInDispute), which matchJobs reads off the job.
      const noShows = await findNoShows(views, ready.map(jobIdOf))
      const jobs = ready.map((j) => ({
        ...j,
        noShows: noShows.get(String(j.id)) ?? [],
        reservedFor: j.status === 'OPEN' ? parameters.reservedFor?.(j) : undefined,
      }))
      const providers = await findCandidateProviders(db, views, parameters.now())
      const reserved = new Map<string, bigint>()
      for (const meta of sender.inFlightMeta())
        if (meta.kind === 'assign')
          for (const [i, p] of meta.providers.entries()) reserved.set(p, (reserved.get(p) ?? 0n) + (meta.collaterals[i] ?? 0n))
      const { assignments, skipped } = matchJobs({ jobs, providers, params: deployment.params, now: chainTime, reserved })
      const roundOf = new Map(jobs.map((j) => [j.id, j.round]))
      if (skipped.length) log.debug({ skipped: skipped.map((s) => ({ ...s, jobId: String(s.jobId) })) }, 'matcher skipped jobs')
      const collateralOf = new Map(assignments.map((a) => [a.jobId, a.collaterals]))
      const requests = batchRequests<AssignMeta>({
        batcher,
        action: 'assign',
        calls: assignments.map((a) => ({
          key: assignKey({ id: a.jobId, round: roundOf.get(a.jobId) ?? 0 }),
          jobId: a.jobId,
          providers: a.providers,
        })),
        size: parameters.batchSize ?? defaultBatchSize,
        metaOf: (calls) => ({
          kind: 'assign',
          providers: calls.flatMap((c) => (c.providers ?? []).map((p) => p.toLowerCase())),
          collaterals: calls.flatMap((c) => collateralOf.get(c.jobId) ?? []),
        }),
      })
      let sent = 0
      for (const request of requests) {
        const hash = await sender.send(request)
        if (!hash) continue
        const keys = request.batch?.calls.map((c) => c.key) ?? []
        sent += keys.length
        log.info({ keys, hash }, 'matcher assigned jobs')
      }
      return sent
    },
  }
}
