import { finishedJobStatuses, type JobStatusName } from '../protocol/enums.ts'
import { isRetryable } from '../protocol/errors.ts'
import { sleep } from '../protocol/retry.ts'
import { fetchJob, type JobView } from './fetchJob.ts'

export type WaitForJobParameters = {
  serverUrl: string
  jobId: bigint
  /** Give up after this long, ms. */
  timeoutMs: number
  /** How often to read the job, ms (default 1000). */
  pollIntervalMs?: number
  /** Called with each status the job is seen in, the first included (`null`: not indexed yet). */
  onStatus?: (job: JobView | null) => void
  signal?: AbortSignal
}

/** How a wait ended: the job finished (in one of `finishedJobStatuses`), or the time ran out first. */
export type WaitForJobReturnType = { finished: true; job: JobView } | { finished: false; job: JobView | null }

const finished = new Set<JobStatusName>(finishedJobStatuses)

/**
 * Reads the job every `pollIntervalMs` until it finishes (COMPLETED, FAILED, FAILED_INVALID, EXPIRED or CANCELLED) or
 * `timeoutMs` passes, reporting each status change through `onStatus`. A job the server hasn't indexed yet counts as
 * not finished. The first read must succeed (a wrong server fails at once); later transient failures are retried.
 */
export async function waitForJob(parameters: WaitForJobParameters): Promise<WaitForJobReturnType> {
  const { serverUrl, jobId, signal } = parameters
  const until = Date.now() + parameters.timeoutMs
  const pollIntervalMs = parameters.pollIntervalMs ?? 1000
  let last: JobStatusName | null | undefined
  let job: JobView | null = null
  for (let reads = 0; ; reads++) {
    try {
      job = await fetchJob({ serverUrl, jobId, signal })
      const status = job?.status ?? null
      if (status !== last) parameters.onStatus?.(job)
      last = status
      if (job && finished.has(job.status)) return { finished: true, job }
    } catch (error) {
      if (reads === 0 || !isRetryable(error) || signal?.aborted) throw error
    }
    const left = until - Date.now()
    if (left <= 0) return { finished: false, job }
    await sleep(Math.min(pollIntervalMs, left), signal)
  }
}
