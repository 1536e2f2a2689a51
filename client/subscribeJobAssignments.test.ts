import { describe, expect, it } from 'vitest'
import { fakeAssignment as assignment, startTestServer } from '../agent/testServer.ts'
import { parseSse, subscribeJobAssignments } from './subscribeJobAssignments.ts'

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c))
      controller.close()
    },
  })
}

describe('parseSse', () => {
  it('splits events across chunk boundaries, skips comments, joins multi-line data and accepts CRLF', async () => {
    const events = []
    for await (const e of parseSse(
      streamOf(':\n\nevent: ne', 'xt\ndata: {"a":\ndata: 1}\n\n', 'event: next\r\ndata: 2\r\n\r\n', 'event: complete\ndata:\n\n'),
    ))
      events.push(e)
    expect(events).toEqual([
      { event: 'next', data: '{"a":\n1}' },
      { event: 'next', data: '2' },
      { event: 'complete', data: '' },
    ])
  })
})

describe('subscribeJobAssignments', () => {
  it('streams assignments and retractions, and reconnects after a dropped stream from the cursor it is given', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    let cursor: string | undefined
    let connects = 0
    const got: string[] = []
    try {
      const provider = assignment(1).provider
      server.publish(assignment(1))
      const stream = subscribeJobAssignments({
        serverUrl: server.url,
        provider,
        cursor: () => cursor,
        signal: controller.signal,
        onConnect: () => connects++,
      })
      for await (const a of stream) {
        got.push(`${a.retracted ? 'retracted ' : ''}${a.jobId}`)
        cursor = a.cursor
        if (a.jobId === '1') server.retract(server.publish(assignment(2)))
        if (a.jobId === '2' && a.retracted) {
          server.dropStreams()
          server.publish(assignment(3)) // published while disconnected: must come through the replay
        }
        if (a.jobId === '3') controller.abort()
      }
      expect(got).toEqual(['1', '2', 'retracted 2', '3'])
      expect(connects).toBeGreaterThanOrEqual(2)
      expect(server.connections.map((c) => c.after)).toEqual([null, '1']) // the retraction's cursor
    } finally {
      controller.abort()
      await server.stop()
    }
  })

  it('reports a cursor the server refuses, so the caller can replay from the start', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    let cursor: string | undefined = 'from-another-chain'
    const refused: string[] = []
    try {
      server.publish(assignment(1))
      const stream = subscribeJobAssignments({
        serverUrl: server.url,
        provider: assignment(1).provider,
        cursor: () => cursor,
        signal: controller.signal,
        onInvalidCursor: (error) => {
          refused.push((error as Error).message)
          cursor = undefined
        },
      })
      for await (const a of stream) {
        expect(a.jobId).toBe('1')
        controller.abort()
      }
      expect(refused).toEqual(['subscription error: invalid cursor'])
      expect(server.connections.map((c) => c.after)).toEqual(['from-another-chain', null])
    } finally {
      controller.abort()
      await server.stop()
    }
  })
})
