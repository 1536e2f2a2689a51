import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createAgentMetrics } from './agentMetrics.ts'
import { assignmentLoop } from './assignmentLoop.ts'
import { CursorTracker } from './cursorTracker.ts'
import { JobScheduler } from './jobScheduler.ts'
import { fakeAssignment, startTestServer } from './testServer.ts'

const log = pino({ level: 'silent' })
const provider = fakeAssignment(0).provider

/** Resolves once `check` holds (polled every 10 ms), or rejects after 10 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await check()); await new Promise((r) => setTimeout(r, 10)))
    if (Date.now() > deadline) throw new Error('timed out')
}

/** The cursor half of a journal, recording each cursor persisted. */
function recordingJournal() {
  const persisted: string[] = []
  const journal = {
    cursor: undefined,
    setCursor: async (cursor: string) => void persisted.push(cursor),
    clearCursor: async () => {},
  }
  return { persisted, journal }
}

describe('assignmentLoop', () => {
  it('hands each assignment to its job, persists the cursor once settled, and resumes after it on reconnect', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    const { persisted, journal } = recordingJournal()
    const handled: string[] = []
    const connections: boolean[] = []
    const metrics = createAgentMetrics()
    try {
      server.publish(fakeAssignment(1))
      await assignmentLoop({
        serverUrl: server.url,
        provider,
        cursors: new CursorTracker(journal, log),
        scheduler: new JobScheduler({ log }),
        handle: async (assignment, settle) => {
          handled.push(assignment.jobId)
          settle()
          if (assignment.jobId === '1') {
            server.dropStreams()
            server.publish(fakeAssignment(2)) // while disconnected: must come with the replay
          } else controller.abort()
        },
        onConnection: (connected) => connections.push(connected),
        metrics,
        log,
        signal: controller.signal,
      })
      expect(handled).toEqual(['1', '2'])
      expect(persisted).toEqual(['1', '2'])
      expect(server.connections.map((c) => c.after)).toEqual([null, '1'])
      expect(connections.slice(0, 3)).toEqual([true, false, true])
      expect((await metrics.assignments.get()).values[0].value).toBe(2)
    } finally {
      controller.abort()
      await server.stop()
    }
  })

  it('on a retraction logs and counts it, cancels work not started, and resumes from its cursor on reconnect', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    const { persisted, journal } = recordingJournal()
    const warnings: { msg: string; jobId?: string; commitDeadline?: string; cancelled?: number }[] = []
    const capture = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) })
    const handled: string[] = []
    let releaseFirst = () => {}
    const firstRound = new Promise<void>((resolve) => (releaseFirst = resolve))
    const metrics = createAgentMetrics()
    const cursors = new CursorTracker(journal, log)
    try {
      const first = server.publish(fakeAssignment(1))
      // Job 1's next round waits behind the first (one chain of work per job), then a reorganisation removes it.
      const second = { ...fakeAssignment(1), commitDeadline: '150' }
      const loop = assignmentLoop({
        serverUrl: server.url,
        provider,
        cursors,
        scheduler: new JobScheduler({ log }),
        handle: async (assignment, settle) => {
          handled.push(`${assignment.jobId}/${assignment.commitDeadline}`)
          if (assignment.cursor === first.cursor) {
            const retracted = server.publish(second)
            await until(async () => (await metrics.assignments.get()).values[0]?.value === 2)
            server.retract(retracted)
            await firstRound
          }
          settle()
          if (assignment.commitDeadline === '160') controller.abort()
        },
        metrics,
        log: capture,
        signal: controller.signal,
      })
      await until(async () => (await metrics.assignmentsRetracted.get()).values[0]?.value === 1)
      expect(cursors.resumeAfter).toBe(first.cursor) // the retraction's cursor: just before the second round
      expect(persisted).toEqual([])
      releaseFirst()
      await until(async () => persisted.length > 0)
      expect(persisted).toEqual([first.cursor])
      // The reconnect resumes from the retraction's cursor, and what replaced the second round comes.
      server.dropStreams()
      server.publish({ ...fakeAssignment(1), commitDeadline: '160' })
      await loop
      expect(handled).toEqual(['1/100', '1/160'])
      expect(server.connections.map((c) => c.after)).toEqual([null, first.cursor])
      expect((await metrics.assignmentsRetracted.get()).values[0].value).toBe(1)
      expect((await metrics.assignments.get()).values[0].value).toBe(3)
      expect(warnings.filter((w) => w.msg.startsWith('assignment retracted'))).toEqual([
        expect.objectContaining({ jobId: '1', commitDeadline: '150', cancelled: 1 }),
      ])
    } finally {
      controller.abort()
      await server.stop()
    }
  })
})
