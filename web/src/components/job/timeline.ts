import { finishedJobStatuses } from '../../../../protocol/enums.ts'
import { formatTime, formatTsr, shortAddress } from '../../format.ts'
import type { JobDetail } from './jobDetail.ts'

/** done: reached; failed: the job ended there without a result; warn: reached, and not the happy path; pending: not yet; skipped: never will be. */
export type StepState = 'done' | 'failed' | 'warn' | 'pending' | 'skipped'

/** One step of a job's life; `at` (unix s) and `block` only where the API records them. */
export type TimelineStep = { key: string; label: string; state: StepState; at?: string | null; block?: string; detail?: string }

const progress = ['OPEN', 'ASSIGNED', 'COMMITTED', 'REVEALED', 'COMPLETED']

const endings: Record<string, string> = {
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  FAILED_INVALID: 'Failed: invalid job',
  EXPIRED: 'Expired',
  CANCELLED: 'Cancelled',
}

const latest = (times: (string | null | undefined)[]) =>
  times.reduce<string | undefined>((a, t) => (t != null && (a === undefined || BigInt(t) > BigInt(a)) ? t : a), undefined)
const earliest = (times: (string | null | undefined)[]) =>
  times.reduce<string | undefined>((a, t) => (t != null && (a === undefined || BigInt(t) < BigInt(a)) ? t : a), undefined)

/**
 * A job's steps, submitted → assigned → committed → revealed → completed (or how it ended instead), with a dispute,
 * an audit or a known-answer challenge where the job had one. A step counts as reached by the job's status or by a
 * time the API recorded for it, never by guess; its time is the last provider's (the step is reached when all are).
 */
export function jobTimeline(job: JobDetail): TimelineStep[] {
  const rank = progress.indexOf(job.status)
  const finished = (finishedJobStatuses as readonly string[]).includes(job.status)
  const unreached: StepState = finished ? 'skipped' : 'pending'
  // A later round (tie-break, audit) replaces the providers that count for the step now.
  const current = job.assignments.filter((a) => a.round === job.round)
  const committed = current.filter((a) => a.committedAt != null)
  const revealed = current.filter((a) => a.revealedAt != null)
  const of = (some: unknown[]) => `${some.length} of ${current.length}`

  const steps: TimelineStep[] = [
    {
      key: 'submitted',
      label: 'Submitted',
      state: 'done',
      at: job.submittedAt,
      block: job.submittedBlock,
      detail: `by ${shortAddress(job.requester)}`,
    },
  ]
  steps.push(
    job.assignments.length > 0
      ? {
          key: 'assigned',
          label: 'Assigned',
          state: 'done',
          at: earliest(job.assignments.map((a) => a.assignedAt)),
          detail: `${job.assignments.length} ${job.assignments.length === 1 ? 'provider' : 'providers'}${job.round > 1 ? ` over ${job.round} rounds` : ''}`,
        }
      : {
          key: 'assigned',
          label: 'Assigned',
          state: unreached,
          detail: finished ? 'never assigned' : `waiting for providers since ${formatTime(job.openedAt)}`,
        },
  )
  const commitReached = rank >= 2 || (rank === -1 && committed.length > 0 && committed.length === current.length)
  steps.push({
    key: 'committed',
    label: 'Committed',
    state: commitReached ? 'done' : unreached,
    at: commitReached ? latest(committed.map((a) => a.committedAt)) : undefined,
    detail: commitReached
      ? `${of(committed)} committed`
      : current.length && !finished
        ? `${of(committed)} committed${job.commitDeadline ? `, due by ${formatTime(job.commitDeadline)}` : ''}`
        : undefined,
  })
  const revealReached = rank >= 3 || (rank === -1 && revealed.length > 0 && revealed.length === current.length)
  steps.push({
    key: 'revealed',
    label: 'Revealed',
    state: revealReached ? 'done' : unreached,
    at: revealReached ? latest(revealed.map((a) => a.revealedAt)) : undefined,
    detail: revealReached
      ? `${of(revealed)} revealed`
      : committed.length && !finished
        ? `${of(revealed)} revealed${job.revealDeadline ? `, due by ${formatTime(job.revealDeadline)}` : ''}`
        : undefined,
  })
  if (job.disagreements.length || job.disputedProviders.length || job.status === 'DISPUTED') {
    const first = job.disagreements[0]
    // With a majority the dissenter is simply outvoted; without one (or once audited) fresh providers decide.
    const settledBy =
      job.status === 'DISPUTED' || job.round > 1 || job.disputedProviders.length
        ? 'a tie-break by fresh providers settles it'
        : 'the majority settles it'
    steps.push({
      key: 'disputed',
      label: 'Disputed',
      state: 'warn',
      at: first?.timestamp,
      block: first?.blockNumber,
      detail: `${first ? `${shortAddress(first.a)} and ${shortAddress(first.b)} proven to disagree at element ${first.index}` : 'the providers disagreed'}; ${settledBy}`,
    })
  }
  if (job.audit && job.audit.kind !== 'NONE') {
    const a = job.audit
    steps.push({
      key: 'audited',
      label:
        a.kind === 'CHALLENGE' ? 'Challenged and audited' : `Audited (${a.kind === 'SPOT' ? 'spot check' : 'worth the audit threshold'})`,
      state: a.settledAt ? 'done' : 'warn',
      at: a.startedAt,
      detail: [
        a.challenger ? `challenged by ${shortAddress(a.challenger)} with a bond of ${formatTsr(a.bond, 6)}` : undefined,
        `${a.auditors} ${a.auditors === 1 ? 'auditor' : 'auditors'}`,
        a.settledAt ? `settled ${formatTime(a.settledAt)}` : 'running',
      ]
        .filter(Boolean)
        .join('; '),
    })
  }
  if (job.challenge)
    steps.push({
      key: 'challenge',
      label: `Known-answer challenge ${job.challenge.passed ? 'passed' : 'failed'}`,
      state: job.challenge.passed ? 'done' : 'failed',
      at: job.challenge.timestamp,
      block: job.challenge.blockNumber,
      detail: `round ${job.challenge.round}, ${BigInt(job.challenge.unitsPerHour).toLocaleString('en-US')} units per hour`,
    })
  steps.push(
    finished
      ? { key: 'finalized', label: endings[job.status], state: job.status === 'COMPLETED' ? 'done' : 'failed', at: job.finalizedAt }
      : { key: 'finalized', label: 'Completed', state: 'pending', detail: `deadline ${formatTime(job.deadline)}` },
  )
  return steps
}
