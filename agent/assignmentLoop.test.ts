import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createAgentMetrics } from './agentMetrics.ts'
import { assignmentLoop } from './assignmentLoop.ts'
import { CursorTracker } from './cursorTracker.ts'
import { JobScheduler } from './jobScheduler.ts'
import { fakeAssignment, startTestServer } from './testServer.ts'

const log = pino({ level: 'silent' })
const provider = fakeAssignment(0).provider

describe('assignmentLoop', () => {
  it('hands each assignment to its job, persists the cursor once settled, and resumes after it on reconnect', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    const persisted: string[] = []
    const journal = {
      cursor: undefined,
      setCursor: async (cursor: string) => void persisted.push(cursor),
      clearCursor: async () => {},
    }
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
})
