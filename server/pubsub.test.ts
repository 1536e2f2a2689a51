import { Redis } from 'ioredis'
import type { Address } from 'viem'
import { afterAll, describe, expect, test } from 'vitest'
import { type AssignmentEvent, type AssignmentPubSub, createAssignmentPubSub } from './pubsub.ts'

const event = (provider: Address, logIndex: number): AssignmentEvent => ({
  id: `1:${provider}`,
  jobId: 1n,
  provider,
  round: 1,
  slot: 0,
  pricePerUnit: 10n,
  collateral: 100n,
  commitDeadline: 1_700_000_000n,
  blockNumber: 5n,
  logIndex,
})
const alice = '0x00000000000000000000000000000000000000a1'
const bob = '0x00000000000000000000000000000000000000b0'

async function next(it: AsyncIterator<AssignmentEvent>, ms = 3000) {
  return Promise.race([it.next().then((r) => r.value), new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))])
}

describe('in-process pubsub', () => {
  test('delivers to the provider topic only, queued from the moment of subscribing', async () => {
    const pubsub = createAssignmentPubSub()
    const a = pubsub.subscribe(alice.toUpperCase().replace('0X', '0x'))
    pubsub.publish(event(bob, 0))
    pubsub.publish(event(alice, 1))
    pubsub.publish(event(alice, 2))
    expect((await next(a))?.logIndex).toBe(1)
    expect((await next(a))?.logIndex).toBe(2)
    expect(await next(a, 100)).toBeUndefined()
    a.close()
    expect(await a.next()).toEqual({ value: undefined, done: true })
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
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()))
  })

  test('an event published on one replica reaches subscribers on another', async () => {
    const leader = createAssignmentPubSub({ redisUrl })
    const follower = createAssignmentPubSub({ redisUrl })
    replicas.push(leader, follower)
    const sub = follower.subscribe(alice)
    // Redis SUBSCRIBE is asynchronous; publish until the subscription is live.
    let got: AssignmentEvent | undefined
    for (let i = 0; i < 20 && !got; i++) {
      leader.publish(event(alice, 7))
      got = await next(sub, 250)
    }
    expect(got).toEqual(event(alice, 7))
    sub.close()
  })
})
