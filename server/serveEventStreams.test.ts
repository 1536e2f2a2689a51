import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { createSchema, createYoga, type Plugin } from 'graphql-yoga'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { parseSse } from '../client/subscribeJobAssignments.ts'
import { withLeanEventStreams } from './serveEventStreams.ts'

// A subscription that counts to `to`, one number per tick (every `everyMs`, 5 unless told), and notes when it is given
// back (a client gone).
let returned = 0
const schema = createSchema({
  typeDefs: 'type Query { ok: Boolean } type Subscription { count(to: Int!, everyMs: Int): Int! }',
  resolvers: {
    Query: { ok: () => true },
    Subscription: {
      count: {
        subscribe: async function* (_root: unknown, { to, everyMs }: { to: number; everyMs?: number }) {
          if (to < 0) throw new Error('never shown')
          try {
            for (let i = 1; i <= to; i++) {
              await new Promise((r) => setTimeout(r, everyMs ?? 5))
              yield { count: i }
            }
          } finally {
            returned++
          }
        },
      },
    },
  },
})

/** Requests that reached Yoga's own HTTP handling (its onRequest hook), by method and accept. */
const viaYoga: string[] = []
const seeRequests: Plugin = { onRequest: ({ request }) => void viaYoga.push(`${request.method} ${request.headers.get('accept')}`) }

let server: Server
let url: string
/** The same, pinging every 40 ms. */
let pinging: Server
let pingingPort: number
beforeAll(async () => {
  // As the server has it: Yoga refuses bodies over the same limit the lean path reads up to.
  const yoga = createYoga({ schema, logging: false, landingPage: false, maxRequestBodySize: 1024, plugins: [seeRequests] })
  const handler = withLeanEventStreams(yoga as never, { maxBodyBytes: 1024, log: pino({ level: 'silent' }) })
  server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`
  pinging = createServer(withLeanEventStreams(yoga as never, { maxBodyBytes: 1024, log: pino({ level: 'silent' }), pingIntervalMs: 40 }))
  await new Promise<void>((resolve) => pinging.listen(0, '127.0.0.1', resolve))
  pingingPort = (pinging.address() as AddressInfo).port
})
afterAll(async () => {
  for (const s of [server, pinging]) {
    s.closeAllConnections()
    await new Promise((resolve) => s.close(resolve))
  }
})

const sse = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
  })

async function events(response: Response) {
  const out: { event: string; data: string }[] = []
  for await (const e of parseSse(response.body as ReadableStream<Uint8Array>)) out.push(e)
  return out
}

/**
 * What a raw socket reads for `query` sent to `port` as HTTP `version`, until the response's end (an HTTP/1.1
 * connection is kept, so its last chunk ends it): status line and headers included.
 */
const rawResponse = (port: number, query: string, version: string) =>
  new Promise<string>((resolve, reject) => {
    const body = JSON.stringify({ query })
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `POST /graphql ${version}\r\nhost: localhost\r\ncontent-type: application/json\r\naccept: text/event-stream\r\n` +
          `connection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      ),
    )
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (!text.endsWith('\r\n0\r\n\r\n')) return
      socket.destroy()
      resolve(text)
    })
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })

describe('withLeanEventStreams', () => {
  test('streams a subscription past Yoga’s HTTP layer, in Yoga’s own format: what Yoga sends a browser', async () => {
    viaYoga.length = 0
    const query = { query: 'subscription { count(to: 3) }' }
    const lean = await sse(query)
    expect(lean.status).toBe(200)
    expect(lean.headers.get('content-type')).toBe('text/event-stream')
    const leanEvents = await events(lean)
    expect(viaYoga).toEqual([])
    // With an Origin (a browser), Yoga answers itself, CORS and all: the same events.
    const yogas = await events(await sse(query, { origin: 'http://elsewhere.example' }))
    expect(viaYoga).toHaveLength(1)
    expect(leanEvents).toEqual(yogas)
    expect(leanEvents).toEqual([
      { event: 'next', data: '{"data":{"count":1}}' },
      { event: 'next', data: '{"data":{"count":2}}' },
      { event: 'next', data: '{"data":{"count":3}}' },
      { event: 'complete', data: '' },
    ])
    // GET with the operation in the query string too.
    const get = await fetch(`${url}?query=${encodeURIComponent('subscription { count(to: 1) }')}`, {
      headers: { accept: 'text/event-stream' },
    })
    expect(await events(get)).toEqual([
      { event: 'next', data: '{"data":{"count":1}}' },
      { event: 'complete', data: '' },
    ])
  })

  test('events go on the wire framed as the response is: HTTP/1.1 chunks, or bare to an HTTP/1.0 client', async () => {
    const frame = (n: number) => `event: next\ndata: {"data":{"count":${n}}}\n\n`
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`
    const complete = 'event: complete\ndata:\n\n'

    const raw = (version: string) => rawResponse(Number(new URL(url).port), 'subscription { count(to: 2) }', version)
    const http11 = await raw('HTTP/1.1')
    expect(http11).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(http11.toLowerCase()).toContain('transfer-encoding: chunked')
    expect(http11.slice(http11.indexOf('\r\n\r\n') + 4)).toBe(
      `${chunk(':\n\n')}${chunk(frame(1))}${chunk(frame(2))}${chunk(complete)}0\r\n\r\n`,
    )
    const http10 = await raw('HTTP/1.0')
    expect(http10.toLowerCase()).not.toContain('transfer-encoding')
    expect(http10.slice(http10.indexOf('\r\n\r\n') + 4)).toBe(`:\n\n${frame(1)}${frame(2)}${complete}`)
  })

  test('a stream with nothing to send is pinged, straight to its socket as a chunk; one that streams is not', async () => {
    const body = async (query: string) => {
      const text = await rawResponse(pingingPort, query, 'HTTP/1.1')
      return text.slice(text.indexOf('\r\n\r\n') + 4)
    }
    const ping = '3\r\n:\n\n\r\n'
    /** The pings after the first comment (the one every stream opens with). */
    const pingsIn = (text: string) => text.split(ping).length - 2
    // Three events 400 ms apart: about 30 turns of a 40 ms ping between them.
    const idle = await body('subscription { count(to: 3, everyMs: 400) }')
    expect(idle.startsWith(ping)).toBe(true)
    expect(pingsIn(idle)).toBeGreaterThanOrEqual(5)
    // An event every 5 ms for a second: at most the turn before the first event pings.
    const busy = await body('subscription { count(to: 200, everyMs: 5) }')
    expect(busy.split('event: next').length - 1).toBe(200)
    expect(pingsIn(busy)).toBeLessThanOrEqual(1)
  })

  test('a client that goes away gives its subscription back', async () => {
    const before = returned
    const controller = new AbortController()
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { count(to: 100000) }' }),
      signal: controller.signal,
    })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    controller.abort()
    await expect.poll(() => returned, { timeout: 5_000 }).toBe(before + 1)
  })

  test('a query, a body that is not JSON, one too large and a document that does not validate get Yoga’s own answers', async () => {
    const cases = [
      JSON.stringify({ query: '{ ok }' }),
      '{nope',
      JSON.stringify({ query: `subscription { count(to: 1) } # ${'x'.repeat(2000)}` }),
      JSON.stringify({ query: 'subscription { nope }' }),
    ]
    const send = (body: string, headers: Record<string, string> = {}) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers }, body })
    for (const body of cases) {
      viaYoga.length = 0
      const handed = await send(body)
      const direct = await send(body, { origin: 'http://elsewhere.example' })
      // Both reached Yoga's HTTP layer: the first handed over as it came, the second straight.
      expect(viaYoga).toHaveLength(2)
      expect({ status: handed.status, body: await handed.text() }).toEqual({ status: direct.status, body: await direct.text() })
    }
  })

  test('a subscription refused as it starts gets its errors, then the end', async () => {
    viaYoga.length = 0
    const refused = await events(await sse({ query: 'subscription($n: Int!) { count(to: $n) }', variables: { n: 'three' } }))
    expect(viaYoga).toEqual([])
    expect(refused).toHaveLength(2)
    expect(JSON.parse(refused[0]?.data ?? '{}').errors[0].message).toMatch(/Variable "\$n" got invalid value "three"/)
    expect(refused[1]).toEqual({ event: 'complete', data: '' })
  })
})
