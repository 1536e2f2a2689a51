import type { Logger } from 'pino'
import type { Address } from 'viem'
import { type JobAssignment, subscribeJobAssignments } from '../client/subscribeJobAssignments.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import type { CursorTracker } from './cursorTracker.ts'
import type { JobScheduler } from './jobScheduler.ts'

export type AssignmentLoopParameters = {
  serverUrl: string
  provider: Address
  cursors: CursorTracker
  scheduler: JobScheduler
  /**
   * Works on one assignment, scheduled on its job's chain. Calls `settle` once the assignment is safe to skip
   * on replay (journaled, or deliberately skipped), so the cursor can move past it.
   */
  handle: (assignment: JobAssignment, settle: () => void) => Promise<void>
  /** Called with true on every (re)connect, false on every disconnect. */
  onConnection?: (connected: boolean) => void
  metrics: Pick<AgentMetrics, 'assignments' | 'assignmentsRetracted' | 'subscriptionConnected' | 'subscriptionReconnects'>
  log: Logger
  signal: AbortSignal
}

/** An assignment's work as scheduled: the scheduler's cancel, and the cursor tracker's settle. */
type Scheduled = { cancel: () => boolean; settle: () => void }

/**
 * Follows the provider's `jobAssignments` subscription until `signal` aborts, resuming after the cursor tracker's
 * cursor on every reconnect, and schedules each of this provider's assignments on its job's chain. Never rejects.
 *
 * A retraction (a chain reorganisation removed an assignment) is logged and counted, cancels the assignment's work if
 * it hasn't started (settled then: nothing is left to replay), and rewinds the cursor to the retraction's, so a
 * reconnect replays what replaced it. Work already started goes on: the job workflow re-checks the chain itself.
 */
export async function assignmentLoop(parameters: AssignmentLoopParameters): Promise<void> {
  const { provider, cursors, scheduler, metrics, log, signal } = parameters
  /** Work scheduled and not finished, by `${jobId}:${commitDeadline}` (a retraction's fields match its assignment's). */
  const scheduled = new Map<string, Set<Scheduled>>()
  const keyOf = (a: JobAssignment) => `${a.jobId}:${a.commitDeadline}`
  const retract = (retraction: JobAssignment) => {
    metrics.assignmentsRetracted.inc()
    const { jobId, slot, commitDeadline, cursor } = retraction
    let cancelled = 0
    for (const work of scheduled.get(keyOf(retraction)) ?? []) {
      if (!work.cancel()) continue
      cancelled++
      work.settle()
    }
    scheduled.delete(keyOf(retraction))
    log.warn({ jobId, slot, commitDeadline, cursor, cancelled }, 'assignment retracted: a chain reorganisation removed it')
    cursors.retract(cursor)
  }
  const schedule = (assignment: JobAssignment, settle: () => void) => {
    const key = keyOf(assignment)
    const work: Scheduled = { cancel: () => false, settle }
    const forget = () => {
      const works = scheduled.get(key)
      works?.delete(work)
      if (works?.size === 0) scheduled.delete(key)
    }
    scheduled.set(key, (scheduled.get(key) ?? new Set()).add(work))
    work.cancel = scheduler.schedule(assignment.jobId, () => parameters.handle(assignment, settle).finally(forget))
  }
  const connected = (value: boolean) => {
    metrics.subscriptionConnected.set(value ? 1 : 0)
    parameters.onConnection?.(value)
  }
  const stream = subscribeJobAssignments({
    serverUrl: parameters.serverUrl,
    provider,
    cursor: () => cursors.resumeAfter,
    signal,
    onInvalidCursor: (error) => {
      log.warn({ cursor: cursors.resumeAfter, err: error }, 'server refused the cursor; replaying from the start')
      cursors.refuse()
    },
    onConnect: () => {
      cursors.connected()
      connected(true)
      log.info({ cursor: cursors.resumeAfter ?? null }, 'subscribed to assignments')
    },
    onDisconnect: (error) => {
      connected(false)
      metrics.subscriptionReconnects.inc()
      log.warn({ err: error }, 'assignment stream lost, reconnecting')
    },
  })
  try {
    for await (const assignment of stream) {
      if (assignment.provider.toLowerCase() !== provider.toLowerCase()) continue
      if (assignment.retracted) {
        retract(assignment)
        continue
      }
      metrics.assignments.inc()
      const { jobId, slot, commitDeadline, cursor } = assignment
      log.info({ jobId, slot, units: assignment.job.units, commitDeadline, cursor }, 'assignment received')
      schedule(assignment, cursors.add(cursor))
    }
  } catch (error) {
    log.error({ err: error }, 'subscription loop crashed')
  }
}
