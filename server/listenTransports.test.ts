import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createSchema, createYoga } from 'graphql-yoga'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { WebSocket } from 'ws'
import { parseSse } from '../client/subscribeJobAssignments.ts'
import { createFanout } from './fanout.ts'
import { listen } from './listen.ts'
import { errorMasker } from './plugins/use-error-masking.ts'
import { useSharedSubscriptionResults } from './plugins/use-shared-subscription-results.ts'
import { withLeanEventStreams } from './serveEventStreams.ts'
import { serveWebSockets } from './serveWebSockets.ts'

// Both transports reading a stream they can listen to (server/listen.ts), as the server's subscriptions are: a fan-out
// subscription through the shared-results plugin. A client that stops reading fills its socket; the transport stops
// listening, the events wait in the subscription's queue, and once the client reads again it gets every one, in order,
// and the transport listens again.

/** 64 KiB a message: a few dozen fill a loopback socket's buffers. */
const block = 'x'.repeat(64 * 1024)
const fanout = createFanout<'n', { n: number }>({ maxQueued: 100_000 })
/** How often a transport started listening to a subscription (each time it came back from `next()`). */
let listenings = 0
const schema = createSchema<Record<string, unknown>>({
  typeDefs: 'type Query { ok: Boolean } type Subscription { numbered: Numbered! } type Numbered { n: Int! block: String! }',
  resolvers: {
    Subscription: {
      numbered: {
        subscribe: () => {
          const subscription = fanout.subscribe('n')
          const start = subscription[listen]
          subscription[listen] = (listener) => {
            const stop = start(listener)
            if (stop) listenings++
            return stop
          }
          return subscription
        },
        resolve: (event: { n: number }) => ({ n: event.n, block }),
      },
    },
  },
})
const query = 'subscription { numbered { n block } }'

let server: Server
let closeSockets: () => Promise<void>
let port: number
/** The server's side of every connection: what it holds waiting to be written. */
const connections = new Set<Socket>()
beforeAll(async () => {
  const log = pino({ level: 'silent' })
  const yoga = createYoga({
    schema,
    logging: false,
    maskedErrors: false,
    plugins: [useSharedSubscriptionResults({ maskError: errorMasker({ log }) })],
  })
  server = createServer(withLeanEventStreams(yoga as never, { maxBodyBytes: 4096, log }))
  closeSockets = serveWebSockets({ server, yoga: yoga as never }).close
  server.on('connection', (socket) => {
    connections.add(socket)
    socket.once('close', () => connections.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(async () => {
  await closeSockets()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

/** A client of `numbered` over one transport: what it received (the numbers), and a way to stop and go on reading. */
type Client = { received: number[]; pause: () => void; resume: () => void; close: () => void }

function sseClient(): Client {
  const received: number[] = []
  const controller = new AbortController()
  let paused: { promise: Promise<void>; resolve: () => void } | undefined
  void (async () => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query }),
      signal: controller.signal,
    })
    for await (const e of parseSse(response.body as ReadableStream<Uint8Array>)) {
      if (e.event !== 'next') continue
      received.push((JSON.parse(e.data) as { data: { numbered: { n: number } } }).data.numbered.n)
      // Not reading the body while paused: the fetch's buffers fill, then the socket's.
      if (paused) await paused.promise
    }
  })().catch(() => {})
  return {
    received,
    pause: () => {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      paused = { promise, resolve }
    },
    resume: () => {
      const was = paused
      paused = undefined
      was?.resolve()
    },
    close: () => controller.abort(),
  }
}

function wsClient(): Client {
  const received: number[] = []
  const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws')
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })))
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as { type: string; payload?: { data: { numbered: { n: number } } } }
    if (message.type === 'connection_ack') return socket.send(JSON.stringify({ id: 's', type: 'subscribe', payload: { query } }))
    if (message.type === 'next') received.push(message.payload?.data.numbered.n as number)
  })
  return { received, pause: () => socket.pause(), resume: () => socket.resume(), close: () => socket.terminate() }
}

describe.each([
  ['SSE', sseClient],
  ['WebSocket', wsClient],
] as const)('%s, listened to', (_name, connect) => {
  test('a client that stops reading gets every event once it reads again, in order; the transport listens again after', async () => {
    const before = listenings
    const client = connect()
    let n = 0
    const publish = (count: number) => {
      for (let i = 0; i < count; i++) fanout.publish('n', { n: ++n })
    }
    // Subscribed once an event reaches it (a WebSocket subscribe has no acknowledgement).
    await expect
      .poll(
        () => {
          publish(1)
          return client.received.length
        },
        { timeout: 5_000, interval: 50 },
      )
      .toBeGreaterThan(0)
    const first = client.received[0]
    await expect.poll(() => listenings, { timeout: 5_000 }).toBeGreaterThan(before)
    const listened = listenings
    // Stopped: 400 events (25 MiB) are more than the socket and the client's buffers hold.
    client.pause()
    publish(400)
    await new Promise((r) => setTimeout(r, 300))
    const whilePaused = client.received.length
    expect(whilePaused).toBeLessThan(n - first + 1)
    // The rest waits in the subscription's queue, not in the server's socket: it holds at most what one write past its
    // high-water mark leaves there.
    const held = Math.max(...[...connections].map((c) => c.writableLength))
    expect(held).toBeLessThan(1024 * 1024)
    client.resume()
    await expect.poll(() => client.received.length, { timeout: 20_000 }).toBe(n - first + 1)
    expect(client.received).toEqual(Array.from({ length: n - first + 1 }, (_, i) => first + i))
    // Once it caught up, the transport listened again, and the next one comes so.
    await expect.poll(() => listenings, { timeout: 5_000 }).toBeGreaterThan(listened)
    publish(1)
    await expect.poll(() => client.received.at(-1), { timeout: 5_000 }).toBe(n)
    client.close()
  }, 60_000)
})
