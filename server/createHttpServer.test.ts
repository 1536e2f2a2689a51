import { request, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import { createSchema, createYoga } from 'graphql-yoga'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { createHttpServer, defaultHttpTimeouts, resolveHttpTimeouts } from './createHttpServer.ts'
import { ServerConfigError } from './serverConfigError.ts'

// Node's timeouts on a small Yoga whose subscription ticks for longer than a whole request may take: what is cut is a
// slow request, never a long response or a WebSocket.

const timeouts = { requestTimeoutMs: 400, headersTimeoutMs: 200, keepAliveTimeoutMs: 200, checkIntervalMs: 50 }
const ticks = 12
const tickMs = 100

const schema = createSchema({
  typeDefs: 'type Query { ok: Boolean } type Subscription { tick: Int }',
  resolvers: {
    Query: { ok: () => true },
    Subscription: {
      tick: {
        subscribe: async function* () {
          for (let i = 0; i < ticks; i++) {
            await sleep(tickMs)
            yield { tick: i }
          }
        },
      },
    },
  },
})

let server: Server
let sockets: WebSocketServer
let port: number

beforeAll(async () => {
  const yoga = createYoga({ schema, logging: false })
  server = createHttpServer(yoga, timeouts)
  sockets = new WebSocketServer({ server, path: '/graphql' })
  useServer({ schema }, sockets)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await new Promise<void>((resolve) => sockets.close(() => resolve()))
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
})

describe('long responses stay open', () => {
  test('an SSE subscription streams past the request timeout', async () => {
    const started = Date.now()
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { tick }' }),
    })
    const events = (await res.text()).split('\n').filter((line) => line.startsWith('data:') && line.includes('tick'))
    expect(events).toHaveLength(ticks)
    expect(Date.now() - started).toBeGreaterThan(2 * timeouts.requestTimeoutMs)
  })

  test('a WebSocket subscription streams past the request and idle timeouts', async () => {
    const client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true })
    const started = Date.now()
    const received: number[] = []
    for await (const result of client.iterate<{ tick: number }>({ query: 'subscription { tick }' }))
      received.push(result.data?.tick as number)
    // Idle, then used again on the same socket.
    await sleep(2 * timeouts.requestTimeoutMs)
    const again = await client.iterate<{ ok: boolean }>({ query: '{ ok }' }).next()
    await client.dispose()
    expect(received).toEqual(Array.from({ length: ticks }, (_, i) => i))
    expect(again.value?.data).toEqual({ ok: true })
    expect(Date.now() - started).toBeGreaterThan(2 * timeouts.requestTimeoutMs)
  })
})

describe('slow clients are cut off', () => {
  test('a trickled request body gets 408 once past the request timeout', async () => {
    const started = Date.now()
    const status = await new Promise<number | string>((resolve) => {
      const req = request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', 'content-length': '100000' },
      })
      const trickle = setInterval(() => req.write('x'), 50)
      req.on('response', (res) => {
        clearInterval(trickle)
        res.resume()
        resolve(res.statusCode ?? 'none')
      })
      req.on('error', (error: NodeJS.ErrnoException) => {
        clearInterval(trickle)
        resolve(error.code ?? 'error')
      })
    })
    const elapsed = Date.now() - started
    expect(status).toBe(408)
    expect(elapsed).toBeGreaterThanOrEqual(timeouts.requestTimeoutMs - 50)
    expect(elapsed).toBeLessThan(timeouts.requestTimeoutMs + 1500)
  })

  test('trickled headers get 408 once past the headers timeout', async () => {
    const socket = connect(port, '127.0.0.1')
    const started = Date.now()
    socket.write('GET /graphql?query={ok} HTTP/1.1\r\nHost: x\r\n')
    const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), 50)
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk
    })
    await new Promise((resolve) => socket.on('close', resolve))
    clearInterval(trickle)
    expect(answer).toMatch(/^HTTP\/1\.1 408/)
    expect(Date.now() - started).toBeLessThan(timeouts.headersTimeoutMs + 1500)
  })

  test('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const socket = connect(port, '127.0.0.1')
    socket.write('GET /graphql?query={ok} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n')
    let answer = ''
    let answeredAt = 0
    socket.on('data', (chunk) => {
      answer += chunk
      answeredAt = Date.now()
    })
    await new Promise((resolve) => socket.on('close', resolve))
    expect(answer).toMatch(/^HTTP\/1\.1 200[\s\S]*"ok":true/)
    // Node keeps the socket `keepAliveTimeoutBuffer` (1 s) past the timeout it advertises, for requests already on the way.
    const idle = Date.now() - answeredAt
    expect(idle).toBeGreaterThanOrEqual(timeouts.keepAliveTimeoutMs - 50)
    expect(idle).toBeLessThan(timeouts.keepAliveTimeoutMs + 1000 + 1000)
  })
})

describe('settings', () => {
  test('defaults: a minute for a request, 10 s for headers, 5 s idle, checked every second', () => {
    expect(resolveHttpTimeouts()).toEqual(defaultHttpTimeouts)
    expect(resolveHttpTimeouts({ requestTimeoutMs: 30_000, headersTimeoutMs: undefined })).toEqual({
      ...defaultHttpTimeouts,
      requestTimeoutMs: 30_000,
    })
  })

  test('a limit that is not a positive integer, or headers longer than the request, is a config error', () => {
    expect(() => resolveHttpTimeouts({ requestTimeoutMs: 0 })).toThrow(ServerConfigError)
    expect(() => resolveHttpTimeouts({ keepAliveTimeoutMs: 1.5 })).toThrow(/keepAliveTimeoutMs must be a positive integer/)
    expect(() => createHttpServer(() => {}, { requestTimeoutMs: 5_000, headersTimeoutMs: 10_000 })).toThrow(
      /headersTimeoutMs \(10000\) must not exceed requestTimeoutMs \(5000\)/,
    )
  })
})
