import { createHash, randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'
import pino from 'pino'
import type { Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { assignmentEvent } from '../test/support/assignments.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import {
  type AssignmentEvent,
  type AssignmentPubSub,
  type AssignmentSubscription,
  connectAssignmentPubSub,
  createAssignmentPubSub,
  encodeBusPayloads,
  type LiveAssignment,
} from './pubsub.ts'
import { ServerConfigError } from './serverConfigError.ts'

/** Job `logIndex`'s assignment of `provider`, logged at (`blockNumber`, `logIndex`), as the bus delivers it. */
const event = (provider: Address, logIndex: number, blockNumber = 5n): AssignmentEvent => ({
  ...assignmentEvent(provider, BigInt(logIndex), blockNumber, logIndex),
  retracted: false,
})
const alice = '0x00000000000000000000000000000000000000a1'
const bob = '0x00000000000000000000000000000000000000b0'
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })

/** The next message, or undefined after `ms`. */
async function next(it: AsyncIterator<LiveAssignment>, ms = 3000): Promise<LiveAssignment | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))
  const value = await Promise.race([it.next().then((r) => r.value as LiveAssignment | undefined), timeout])
  clearTimeout(timer)
  return value
}

/** The assignments' log indexes among the next messages, until `count` of them came or `ms` passed with nothing. */
async function nextAssignments(sub: AssignmentSubscription, count: number, ms = 3000): Promise<number[]> {
  const seen: number[] = []
  while (seen.length < count) {
    const m = await next(sub, ms)
    if (!m) break
    if (m.type === 'assignment') seen.push(m.assignment.logIndex)
  }
  return seen
}

describe('in-process pubsub', () => {
  test('delivers to the provider topic only, queued from the moment of subscribing', async () => {
    const pubsub = createAssignmentPubSub()
    const a = pubsub.subscribe(alice.toUpperCase().replace('0X', '0x'))
    await pubsub.publish([event(bob, 0), event(alice, 1)])
    await pubsub.publish([event(alice, 2)])
    expect(await next(a)).toEqual({ type: 'assignment', assignment: event(alice, 1) })
    expect(await next(a)).toEqual({ type: 'assignment', assignment: event(alice, 2) })
    expect(await next(a, 100)).toBeUndefined()
    a.close()
    expect(await a.next()).toEqual({ value: undefined, done: true })
  })

  test("a subscriber too far behind gets one resync for its whole backlog (it's all in Postgres)", async () => {
    const pubsub = createAssignmentPubSub()
    const a = pubsub.subscribe(alice)
    await pubsub.publish(Array.from({ length: 10_001 }, (_, i) => event(alice, i)))
    await pubsub.publish([event(alice, 20_000)])
    expect(await next(a)).toEqual({ type: 'resync' })
    expect(await next(a)).toEqual({ type: 'assignment', assignment: event(alice, 20_000) })
    expect(await next(a, 100)).toBeUndefined()
    a.close()
  })
})

test('bus payloads stay under the NOTIFY limit of 8000 bytes, in order; an event too large alone becomes a resync', () => {
  const events = Array.from({ length: 300 }, (_, i) => event(alice, i))
  const payloads = encodeBusPayloads(events)
  expect(payloads.length).toBeGreaterThan(5)
  for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000)
  const decoded = payloads.flatMap((p) => JSON.parse(p) as { logIndex: number }[])
  expect(decoded.map((e) => e.logIndex)).toEqual(events.map((e) => e.logIndex))

  const huge = { ...event(alice, 1), id: 'x'.repeat(8000) }
  expect(encodeBusPayloads([event(alice, 0), huge, event(alice, 2)])).toEqual([
    expect.stringContaining('"logIndex":0'),
    'resync',
    expect.stringContaining('"logIndex":2'),
  ])
})

let database: TestDatabase
beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(async () => {
  await database?.drop()
})

/** Runs one statement on the test database. */
async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

describe('Postgres LISTEN/NOTIFY pubsub (the default)', () => {
  const replicas: AssignmentPubSub[] = []
  const scope = `31337:0x${randomBytes(20).toString('hex')}`
  const replica = async (parameters: { scope?: string; redisUrl?: string } = {}) => {
    const r = await connectAssignmentPubSub({ databaseUrl: database.url, scope, log, ...parameters })
    replicas.push(r)
    return r
  }
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()))
  })

  test('an event published on one replica reaches the subscribers on every replica, the publisher included; a retraction stays one', async () => {
    const leader = await replica()
    const follower = await replica()
    const elsewhere = await replica({ scope: '1:0x0000000000000000000000000000000000000001' })
    expect([leader.bus, leader.busId]).toEqual(['postgres', 'postgres'])
    const onFollower = follower.subscribe(alice)
    const onLeader = leader.subscribe(alice)
    const bobs = follower.subscribe(bob)
    const otherDeployment = elsewhere.subscribe(alice)
    const retraction = { ...event(alice, 6), retracted: true }
    await leader.publish([retraction, event(alice, 7), event(bob, 8)])
    expect(await next(onFollower)).toEqual({ type: 'assignment', assignment: retraction })
    expect(await next(onFollower)).toEqual({ type: 'assignment', assignment: event(alice, 7) })
    expect(await next(onLeader)).toEqual({ type: 'assignment', assignment: retraction })
    expect(await next(onLeader)).toEqual({ type: 'assignment', assignment: event(alice, 7) })
    expect(await next(bobs)).toEqual({ type: 'assignment', assignment: event(bob, 8) })
    expect(await next(onFollower, 200)).toBeUndefined()
    expect(await next(otherDeployment, 200)).toBeUndefined()
    for (const s of [onFollower, onLeader, bobs, otherDeployment]) s.close()
  })

  test('a batch far over 8000 bytes arrives whole and in order', async () => {
    const leader = await replica()
    const follower = await replica()
    const sub = follower.subscribe(alice)
    const events = Array.from({ length: 400 }, (_, i) => event(alice, i, 9n))
    await leader.publish(events)
    expect(await nextAssignments(sub, 400)).toEqual(events.map((e) => e.logIndex))
    sub.close()
  })

  test('after losing its listening connection a replica reconnects, tells its subscribers to resync, and hears again', async () => {
    const leader = await replica()
    const follower = await replica()
    const sub = follower.subscribe(alice)
    const killed = await sql<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and application_name like 'tessera-bus:%'
       and pg_terminate_backend(pid)`,
    )
    expect(killed.length).toBeGreaterThanOrEqual(2)
    // Published while the follower is away: this NOTIFY may be lost, which is what the resync is for.
    await leader.publish([event(alice, 1)])
    const messages: LiveAssignment[] = []
    for (let m = await next(sub, 10_000); m; m = await next(sub, 10_000)) {
      messages.push(m)
      if (m.type === 'resync') break
    }
    expect(messages.at(-1)).toEqual({ type: 'resync' })
    await leader.publish([event(alice, 2)])
    expect(await nextAssignments(sub, 1)).toEqual([2])
    sub.close()
  })

  test('a replica on another bus than a live replica of the same deployment refuses to join, naming the fix', async () => {
    await replica()
    // A closed port: the refusal comes before any Redis is tried.
    const onRedis = connectAssignmentPubSub({ databaseUrl: database.url, redisUrl: 'redis://127.0.0.1:1', scope, log })
    await expect(onRedis).rejects.toThrow(ServerConfigError)
    await expect(onRedis).rejects.toThrow(
      /over Postgres LISTEN\/NOTIFY \(no REDIS_URL\), this one over Redis at 127\.0\.0\.1:1\/0.*same REDIS_URL/,
    )
  })
})

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redisUp = await (async () => {
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  try {
    await probe.connect()
    await probe.ping()
    return true
  } catch {
    return false
  } finally {
    probe.disconnect()
  }
})()

if (!redisUp) console.warn(`skipping the Redis pubsub tests: no Redis answers at ${redisUrl} (set REDIS_URL)`)

describe.skipIf(!redisUp)('Redis pubsub (REDIS_URL)', () => {
  const replicas: AssignmentPubSub[] = []
  const scope = `31337:0x${randomBytes(20).toString('hex')}`
  const replica = async () => {
    const r = await connectAssignmentPubSub({ databaseUrl: database.url, redisUrl, scope, log })
    replicas.push(r)
    return r
  }
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()))
  })

  test('an event published on one replica reaches subscribers on another; a replica on Postgres beside them is refused', async () => {
    const leader = await replica()
    const follower = await replica()
    expect(leader.busId).toMatch(/^redis:[0-9a-f]{12}$/)
    // A Postgres-bus replica beside them is refused.
    await expect(connectAssignmentPubSub({ databaseUrl: database.url, scope, log })).rejects.toThrow(
      /over Redis \(REDIS_URL\), this one over Postgres LISTEN\/NOTIFY/,
    )
    const sub = follower.subscribe(alice)
    await leader.publish([event(alice, 7)])
    expect(await next(sub)).toEqual({ type: 'assignment', assignment: event(alice, 7) })
    sub.close()
  })

  test('after its subscriber connection is killed a replica resubscribes and tells its subscribers to resync', async () => {
    const leader = await replica()
    const follower = await replica()
    const sub = follower.subscribe(alice)
    // Only this scope's subscribers (other tests may share the Redis): this test's replicas and the one before's.
    const name = `tessera-bus:${createHash('sha256').update(scope).digest('hex').slice(0, 12)}:subscriber`
    const admin = new Redis(redisUrl)
    try {
      const ids = ((await admin.client('LIST')) as string)
        .split('\n')
        .filter((line) => line.includes(` name=${name} `))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? '')
      expect(ids.length).toBeGreaterThanOrEqual(2)
      for (const id of ids) await admin.client('KILL', 'ID', id)
    } finally {
      admin.disconnect()
    }
    let m = await next(sub, 10_000)
    while (m && m.type !== 'resync') m = await next(sub, 10_000)
    expect(m).toEqual({ type: 'resync' })
    await leader.publish([event(alice, 9)])
    expect(await nextAssignments(sub, 1)).toEqual([9])
    sub.close()
  })
})
