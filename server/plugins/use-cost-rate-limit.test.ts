import { mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { complexityFromQuery } from '@pothos/plugin-complexity'
import { parse } from 'graphql'
import { createClient } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { fixtureDeployment } from '../../test/support/deployment.ts'
import { createHttpServer } from '../createHttpServer.ts'
import { createYoga } from '../createYoga.ts'
import { createDb } from '../db/createDb.ts'
import { schema } from '../schema/index.ts'
import { serveWebSockets } from '../serveWebSockets.ts'
import { type CostRateLimitOptions, clientAddressKey } from './use-cost-rate-limit.ts'

// The operation is a page of 100 jobs after a malformed cursor: it costs what a real page costs, and the resolver
// refuses the cursor (BAD_USER_INPUT) without touching the database, which is never connected here.
const query = '{ jobs(first: 100, after: "bogus") { edges { node { id status } } } }'
const cost = complexityFromQuery(parse(query), { schema, ctx: {}, variables: {} }).complexity

const { db } = createDb({ databaseUrl: 'postgres://127.0.0.1:1/unused' })
let dataDir: string
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-ratelimit-'))
})
afterAll(async () => {
  await db.destroy()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

const yogaWith = (costRateLimit: CostRateLimitOptions | false) =>
  createYoga({ db, viewsSchema: 'chain', deployment: fixtureDeployment, dataDir, costRateLimit }).yoga

type Answer = { errors?: { message: string; extensions?: { code?: string; retryAfterSeconds?: number } }[] }

describe('through yoga.fetch, a client per x-test-client header', () => {
  let clock = 0
  // Three of these operations at once, one more a second.
  const yoga = () =>
    yogaWith({
      key: ({ request }) => request?.headers.get('x-test-client') ?? undefined,
      costPerSecond: cost,
      burst: 3 * cost,
      now: () => clock,
    })
  const send = async (target: ReturnType<typeof yoga>, client?: string) => {
    const res = await target.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(client ? { 'x-test-client': client } : {}) },
      body: JSON.stringify({ query }),
    })
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: ((await res.json()) as Answer).errors?.[0] }
  }

  test('the query costs something worth limiting', () => {
    expect(cost).toBeGreaterThan(100)
  })

  test('a client over its budget gets RATE_LIMITED saying when to retry; another client is unaffected', async () => {
    const target = yoga()
    for (let i = 0; i < 3; i++) expect((await send(target, 'a')).error?.extensions?.code).toBe('BAD_USER_INPUT')
    const limited = await send(target, 'a')
    expect(limited.status).toBe(429)
    expect(limited.retryAfter).toBe('1')
    expect(limited.error?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 })
    expect(limited.error?.message).toBe(
      `rate limited: this operation costs ${cost} and this client may spend ${cost} a second (${3 * cost} at once); retry in 1 s`,
    )
    // b has its own bucket.
    for (let i = 0; i < 3; i++) expect((await send(target, 'b')).error?.extensions?.code).toBe('BAD_USER_INPUT')
    // A second later a has earned one more, and no more.
    clock += 1000
    expect((await send(target, 'a')).error?.extensions?.code).toBe('BAD_USER_INPUT')
    expect((await send(target, 'a')).error?.extensions?.code).toBe('RATE_LIMITED')
    // A request without a key (yoga.fetch with no socket, by default) is not metered.
    for (let i = 0; i < 5; i++) expect((await send(target)).error?.extensions?.code).toBe('BAD_USER_INPUT')
  })

  test('retry-after grows with the debt, and an operation dearer than the burst runs only from a full bucket', async () => {
    clock = 0
    const target = yogaWith({ key: () => 'c', costPerSecond: 10, burst: cost - 1, now: () => clock })
    expect((await send(target)).error?.extensions?.code).toBe('BAD_USER_INPUT')
    const limited = await send(target)
    expect(limited.error?.extensions?.retryAfterSeconds).toBe(Math.ceil(cost / 10))
    clock += cost * 100
    expect((await send(target)).error?.extensions?.code).toBe('BAD_USER_INPUT')
  })

  test('a subscription pays when it starts', async () => {
    const subscription =
      'subscription { jobAssignments(provider: "0x0000000000000000000000000000000000000001", after: "bogus") { cursor } }'
    const subscriptionCost = complexityFromQuery(parse(subscription), { schema, ctx: {}, variables: {} }).complexity
    const target = yogaWith({ key: () => 'd', costPerSecond: 1, burst: Math.max(1, subscriptionCost), now: () => clock })
    const subscribe = async () => {
      const res = await target.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: subscription }),
      })
      const data = (await res.text()).split('\n').find((l) => l.startsWith('data:'))
      return (JSON.parse(data?.slice(5) ?? '{}') as Answer).errors?.[0]?.extensions?.code
    }
    expect([await subscribe(), await subscribe()]).toEqual(['BAD_USER_INPUT', 'RATE_LIMITED'])
  })
})

describe('over a socket, keyed by the peer address', () => {
  const listen = async (costRateLimit: CostRateLimitOptions | false) => {
    const yoga = yogaWith(costRateLimit)
    const server = createHttpServer(yoga)
    const webSockets = serveWebSockets({ server, yoga })
    server.on('close', () => void webSockets.close())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return server
  }
  const send = async (server: Server) => {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query }),
    })
    return { status: res.status, code: ((await res.json()) as Answer).errors?.[0]?.extensions?.code }
  }
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })

  test('a loopback client is unmetered by default', async () => {
    const server = await listen({ costPerSecond: 1, burst: 1 })
    for (let i = 0; i < 3; i++) expect((await send(server)).code).toBe('BAD_USER_INPUT')
    await close(server)
  })

  test('without the loopback exemption, the peer address pays', async () => {
    const server = await listen({ costPerSecond: 1, burst: cost, exemptLoopback: false })
    expect((await send(server)).code).toBe('BAD_USER_INPUT')
    expect(await send(server)).toEqual({ status: 429, code: 'RATE_LIMITED' })
    await close(server)
  })

  test('over WebSocket too', async () => {
    const server = await listen({ costPerSecond: 1, burst: cost, exemptLoopback: false })
    const client = createClient({
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    })
    const code = async () => {
      const { value } = await client.iterate({ query }).next()
      return (value as Answer | undefined)?.errors?.[0]?.extensions?.code
    }
    expect([await code(), await code()]).toEqual(['BAD_USER_INPUT', 'RATE_LIMITED'])
    await client.dispose()
    await close(server)
  })
})

test('client keys: IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
  expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7')
  expect(clientAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
  expect(clientAddressKey('2001:db8:0:12:aaaa::1')).toBe('2001:db8:0:12::/64')
  expect(clientAddressKey('2001:0db8:0000:0012:ffff:1:2:3')).toBe('2001:db8:0:12::/64')
  expect(clientAddressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
  expect(clientAddressKey('::1')).toBe('::1')
  expect(clientAddressKey(undefined)).toBeUndefined()
})
