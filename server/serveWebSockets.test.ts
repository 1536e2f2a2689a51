import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { execute, GraphQLError, subscribe } from 'graphql'
import { useServer } from 'graphql-ws/use/ws'
import { createSchema, createYoga } from 'graphql-yoga'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { serveWebSockets } from './serveWebSockets.ts'

// A subscription that counts to `to` (one number per tick; at `failAt`, a result with an error, its message not all
// ASCII), and notes when it is given back (a client that completed it or went away).
let returned = 0
// And one that floods: 64 KiB strings as fast as they are taken, counting how many were.
let flooded = 0
const block = 'x'.repeat(64 * 1024)
const schema = createSchema({
  typeDefs: 'type Query { ok: Boolean } type Subscription { count(to: Int!, failAt: Int): Int flood: String }',
  resolvers: {
    Query: { ok: () => true },
    Subscription: {
      flood: {
        subscribe: async function* () {
          for (;;) {
            flooded++
            yield { flood: block }
          }
        },
      },
      count: {
        subscribe: async function* (_root: unknown, { to }: { to: number }) {
          try {
            for (let i = 1; i <= to; i++) {
              await new Promise((r) => setTimeout(r, 5))
              yield i
            }
          } finally {
            returned++
          }
        },
        resolve: (n: number, { failAt }: { failAt?: number }) => {
          if (n === failAt) throw new GraphQLError(`no ${n} — ✗`, { extensions: { code: 'NO_NUMBER' } })
          return n
        },
      },
    },
  },
})

let ours: Server
let plain: Server
let closeOurs: () => Promise<void>
let plainSockets: WebSocketServer
const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`
}
let oursUrl: string
let plainUrl: string
beforeAll(async () => {
  const yoga = createYoga({ schema, logging: false })
  ours = createServer(yoga)
  closeOurs = serveWebSockets({ server: ours, yoga: yoga as never }).close
  oursUrl = await listen(ours)
  // The peer: graphql-ws's own server over the same schema, without Yoga.
  plain = createServer()
  plainSockets = new WebSocketServer({ server: plain, path: '/graphql' })
  useServer({ schema, execute, subscribe }, plainSockets)
  plainUrl = await listen(plain)
})
afterAll(async () => {
  await closeOurs()
  plainSockets.close()
  for (const server of [ours, plain]) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

/**
 * The raw messages a graphql-transport-ws client gets for `query` (after the ack), until `complete` or `error`; one
 * that came as a binary message is marked so.
 */
function messages(url: string, query: string, options: { completeAfter?: number } = {}) {
  return new Promise<string[]>((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws')
    const got: string[] = []
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })))
    socket.on('error', reject)
    socket.on('message', (raw, isBinary) => {
      const text = String(raw)
      const { type } = JSON.parse(text) as { type: string }
      if (type === 'connection_ack') return socket.send(JSON.stringify({ id: 'op-1', type: 'subscribe', payload: { query } }))
      got.push(isBinary ? `binary: ${text}` : text)
      if (type === 'next' && got.length === options.completeAfter) {
        socket.send(JSON.stringify({ id: 'op-1', type: 'complete' }))
        // Nothing more comes for it: a moment to be sure, then done.
        setTimeout(() => {
          socket.close()
          resolve(got)
        }, 50)
      }
      if (type === 'complete' || type === 'error') {
        socket.close()
        resolve(got)
      }
    })
  })
}

describe('serveWebSockets', () => {
  test('a subscription’s messages are byte for byte what graphql-ws sends, errors included', async () => {
    for (const query of ['subscription { count(to: 3) }', 'subscription { count(to: 3, failAt: 2) }']) {
      const sent = await messages(oursUrl, query)
      expect(sent).toEqual(await messages(plainUrl, query))
      expect(sent).toHaveLength(4)
      expect(sent.at(-1)).toBe('{"id":"op-1","type":"complete"}')
    }
    expect(await messages(oursUrl, 'subscription { count(to: 3, failAt: 2) }')).toContain(
      '{"id":"op-1","type":"next","payload":{"data":{"count":null},"errors":[{"message":"no 2 — ✗","locations":[{"line":1,"column":16}],"path":["count"],"extensions":{"code":"NO_NUMBER"}}]}}',
    )
  })

  test('a subscription the client completes, or whose client goes away, is given back; nothing more is sent for it', async () => {
    const before = returned
    const sent = await messages(oursUrl, 'subscription { count(to: 1000) }', { completeAfter: 2 })
    expect(sent.map((m) => (JSON.parse(m) as { type: string }).type)).toEqual(['next', 'next'])
    await expect.poll(() => returned, { timeout: 5_000 }).toBe(before + 1)

    const socket = new WebSocket(oursUrl, 'graphql-transport-ws')
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })))
    socket.on('message', (raw) => {
      const { type } = JSON.parse(String(raw)) as { type: string }
      if (type === 'connection_ack')
        socket.send(JSON.stringify({ id: 'a', type: 'subscribe', payload: { query: 'subscription { count(to: 1000) }' } }))
      else if (type === 'next') socket.terminate()
    })
    await expect.poll(() => returned, { timeout: 5_000 }).toBe(before + 2)
  })

  test('a client that stops reading holds its stream back: the server takes no more than the socket can hold', async () => {
    const socket = new WebSocket(oursUrl, 'graphql-transport-ws')
    let received = 0
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })))
    socket.on('message', (raw) => {
      if (String(raw).includes('"connection_ack"'))
        return socket.send(JSON.stringify({ id: 'f', type: 'subscribe', payload: { query: 'subscription { flood }' } }))
      received++
      if (received === 1) socket.pause()
    })
    await expect.poll(() => received, { timeout: 5_000 }).toBe(1)
    // The socket's buffers fill (a few MiB on loopback), then the stream waits: what it made stops growing, far below
    // what an unheld stream makes in the same time (tens of thousands of blocks).
    await new Promise((r) => setTimeout(r, 1_000))
    const held = flooded
    await new Promise((r) => setTimeout(r, 500))
    expect(flooded).toBe(held)
    expect(held).toBeLessThan(1_000)
    // Reading again, the client gets what waited, and the stream goes on.
    socket.resume()
    await expect.poll(() => received, { timeout: 5_000 }).toBeGreaterThan(held + 100)
    socket.terminate()
  })

  test('each socket is pinged at a phase of its own; one that answers stays, one that stops answering is ended', async () => {
    const yoga = createYoga({ schema, logging: false })
    const server = createServer(yoga)
    const { close } = serveWebSockets({ server, yoga: yoga as never, keepAliveMs: 50 })
    const url = await listen(server)
    try {
      const open = (autoPong: boolean) =>
        new Promise<{ socket: WebSocket; pings: number[] }>((resolve, reject) => {
          const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong })
          const pings: number[] = []
          socket.on('ping', () => pings.push(performance.now()))
          socket.on('open', () => resolve({ socket, pings }))
          socket.on('error', reject)
        })
      const answering = await Promise.all(Array.from({ length: 20 }, () => open(true)))
      const silent = await open(false)
      const silentClosed = new Promise<number>((resolve) => silent.socket.on('close', (code) => resolve(code)))
      await new Promise((r) => setTimeout(r, 400))
      // Pinged about every 50 ms; the silent one was ended once a ping of its went unanswered for an interval.
      for (const { socket, pings } of answering) {
        expect(socket.readyState).toBe(socket.OPEN)
        expect(pings.length).toBeGreaterThanOrEqual(3)
      }
      expect(await silentClosed).toBe(1006)
      expect(silent.pings.length).toBeGreaterThanOrEqual(1)
      expect(silent.pings.length).toBeLessThanOrEqual(2)
      // Opened together, pinged apart: the first pings are spread over the interval, not all in one turn.
      const firsts = answering.map(({ pings }) => pings[0] as number)
      expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(15)
      for (const { socket } of answering) socket.close()
    } finally {
      await close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
