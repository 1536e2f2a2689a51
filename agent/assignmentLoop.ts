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
  metrics: Pick<AgentMetrics, 'assignments' | 'subscriptionConnected' | 'subscriptionReconnects'>
  log: Logger
  signal: AbortSignal
}

/**
 * Follows the provider's `jobAssignments` subscription until `signal` aborts, resuming after the cursor tracker's
 * cursor on every reconnect, and schedules each of this provider's assignments on its job's chain. Never rejects.
 */
export async function assignmentLoop(parameters: AssignmentLoopParameters): Promise<void> {
  const { provider, cursors, scheduler, metrics, log, signal } = parameters
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
      metrics.assignments.inc()
      const { jobId, slot, commitDeadline, cursor } = assignment
      log.info({ jobId, slot, units: assignment.job.units, commitDeadline, cursor }, 'assignment received')
      const settle = cursors.add(cursor)
      scheduler.schedule(jobId, () => parameters.handle(assignment, settle))
    }
  } catch (error) {
    log.error({ err: error }, 'subscription loop crashed')
  }
}
