import { ServerRequestError } from '../client/serverClient.ts'
import { sleep } from '../protocol/retry.ts'
import type { SubmittedJob } from './createJobSubmitter.ts'
import { quantile } from './quantile.ts'

/** Where a job is, as the server's GraphQL shows it, in the order a job that completes passes them. */
export const jobStages = ['OPEN', 'ASSIGNED', 'COMMITTED', 'REVEALED', 'COMPLETED'] as const
export type JobStage = (typeof jobStages)[number]

/** Statuses a job doesn't leave: COMPLETED, and the ways it ends without a result. */
const finalStatuses = new Set(['COMPLETED', 'FAILED', 'FAILED_INVALID', 'EXPIRED', 'CANCELLED'])

/** Milliseconds from sending a job's submit transaction to the first poll that saw it at or past each stage (medians). */
export type StageMedians = Record<JobStage, number>

/** A job followed to its end: when it was sent, when a poll first saw it at or past each stage, how it ended. */
export type TrackedJob = SubmittedJob & { reached: Partial<Record<JobStage, number>>; status?: string; endedAt?: number }

/** Jobs per status query: the id list counts toward the server's complexity limit, which lets 1,000 through. */
const idsPerQuery = 500

const statusQuery = `query ($ids: [BigInt!]) { jobs(where: { id_in: $ids }, first: ${idsPerQuery}) { edges { node { id status } } } }`

export type JobTracker = ReturnType<typeof createJobTracker>

/**
 * Follows jobs through the server's GraphQL: every `intervalMs` after the last poll returned, it reads the status of
 * every tracked job not yet final ({@link idsPerQuery} ids a query) and notes when it first saw each stage reached
 * (a job seen past a stage has reached it). A poll that fails is skipped; the next one catches up. `stop()` ends it.
 */
export function createJobTracker(parameters: { graphqlUrl: string }) {
  const jobs = new Map<bigint, TrackedJob>()
  const open = new Set<bigint>()
  let intervalMs = 250
  let stopped = false
  const note = (id: bigint, status: string, now: number) => {
    const job = jobs.get(id)
    if (!job) return
    const index = jobStages.indexOf(status as JobStage)
    for (const stage of jobStages.slice(0, index + 1)) job.reached[stage] ??= now
    if (!finalStatuses.has(status)) return
    job.status = status
    job.endedAt = now
    open.delete(id)
  }
  const poll = async () => {
    const ids = [...open].map(String)
    for (let i = 0; i < ids.length; i += idsPerQuery) {
      const nodes = await readStatuses(parameters.graphqlUrl, ids.slice(i, i + idsPerQuery))
      const now = performance.now()
      for (const { id, status } of nodes) note(BigInt(id), status, now)
    }
  }
  const loop = (async () => {
    while (!stopped) {
      if (open.size) await poll().catch(() => undefined)
      await sleep(intervalMs)
    }
  })()
  return {
    track(submitted: SubmittedJob): TrackedJob {
      const job: TrackedJob = { ...submitted, reached: {} }
      jobs.set(submitted.jobId, job)
      open.add(submitted.jobId)
      return job
    },
    /** Polls every `ms` from now on: often on a quiet stack, where one job's latency is the figure. */
    setInterval(ms: number) {
      intervalMs = ms
    },
    /** Resolves once every job of `list` is final or `untilMs` (`performance.now()`) has passed. */
    async settled(list: readonly TrackedJob[], untilMs: number): Promise<void> {
      while (list.some((job) => job.endedAt === undefined) && performance.now() < untilMs) await sleep(20)
    },
    /** Resolves once no tracked job is waiting to end, or `untilMs` (`performance.now()`) has passed. */
    async drained(untilMs: number): Promise<void> {
      while (open.size > 0 && performance.now() < untilMs) await sleep(50)
    },
    /** Tracked jobs, those of them seen assigned (or past it) and those that completed. */
    counts(): { tracked: number; assigned: number; completed: number } {
      let assigned = 0
      let completed = 0
      for (const job of jobs.values()) {
        if (job.reached.ASSIGNED !== undefined) assigned++
        if (job.status === 'COMPLETED') completed++
      }
      return { tracked: jobs.size, assigned, completed }
    },
    async stop(): Promise<void> {
      stopped = true
      await loop
    },
  }
}

async function readStatuses(graphqlUrl: string, ids: string[]): Promise<{ id: string; status: string }[]> {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: statusQuery, variables: { ids } }),
  })
  const body = (await res.json()) as { data?: { jobs: { edges: { node: { id: string; status: string } }[] } }; errors?: unknown[] }
  if (!body.data)
    throw new ServerRequestError('the jobs status query failed', { status: res.status, details: JSON.stringify(body.errors).slice(0, 500) })
  return body.data.jobs.edges.map((e) => e.node)
}

/** Submit → COMPLETED of `job` (ms), or Infinity when it didn't complete. */
export function latencyOf(job: TrackedJob): number {
  return job.status === 'COMPLETED' && job.reached.COMPLETED !== undefined ? job.reached.COMPLETED - job.sentAt : Infinity
}

/** The median time from sending to each stage, over the jobs of `jobs` that completed (NaN where none did). */
export function stageMedians(jobs: readonly TrackedJob[]): StageMedians {
  const completed = jobs.filter((job) => job.status === 'COMPLETED')
  const medianOf = (stage: JobStage) =>
    quantile(
      completed.map((job) => (job.reached[stage] as number) - job.sentAt),
      0.5,
    )
  return Object.fromEntries(jobStages.map((stage) => [stage, medianOf(stage)])) as StageMedians
}
