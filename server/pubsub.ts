import { setMaxListeners } from 'node:events'
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target'
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target'
import { Redis } from 'ioredis'
import type { Address } from 'viem'
import type { IndexedAssignment } from './db/assignments.ts'

/** An assignment as the change feed publishes it and the `jobAssignments` subscription delivers it. */
export type AssignmentEvent = Pick<
  IndexedAssignment,
  'id' | 'jobId' | 'provider' | 'round' | 'slot' | 'pricePerUnit' | 'collateral' | 'commitDeadline' | 'blockNumber' | 'logIndex'
>

/** The event's own fields of an assignment (a fresh object: subscribers never share the publisher's). */
function toAssignmentEvent(assignment: AssignmentEvent): AssignmentEvent {
  const { id, jobId, provider, round, slot, pricePerUnit, collateral, commitDeadline, blockNumber, logIndex } = assignment
  return {
    id,
    jobId,
    provider: provider.toLowerCase() as Address,
    round,
    slot,
    pricePerUnit,
    collateral,
    commitDeadline,
    blockNumber,
    logIndex,
  }
}

/** An event on Redis: JSON with bigints as decimal strings. */
const redisSerializer = {
  stringify: (event: unknown) => JSON.stringify(event, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)),
  parse: (text: string): AssignmentEvent => {
    const e = JSON.parse(text) as { [K in keyof AssignmentEvent]: AssignmentEvent[K] extends bigint ? string : AssignmentEvent[K] }
    const { jobId, pricePerUnit, collateral, commitDeadline, blockNumber } = e
    return {
      ...e,
      jobId: BigInt(jobId),
      pricePerUnit: BigInt(pricePerUnit),
      collateral: BigInt(collateral),
      commitDeadline: BigInt(commitDeadline),
      blockNumber: BigInt(blockNumber),
    }
  },
}

type AssignmentCustomEvent = CustomEvent<AssignmentEvent>

/**
 * Live assignment events per provider. In-process by default; with `redisUrl` the events go
 * through Redis pub/sub so every replica's subscribers see what the leader's change feed publishes.
 */
export type AssignmentPubSub = {
  publish: (event: AssignmentEvent) => void
  /**
   * Starts listening immediately (not on first `next()`), so a caller can attach, then replay
   * from Postgres, and miss nothing in between. `close()` detaches.
   */
  subscribe: (provider: string) => AsyncIterableIterator<AssignmentEvent> & { close: () => void }
  close: () => Promise<void>
}

const topic = (provider: string) => `tessera:jobAssignments:${provider.toLowerCase()}`

/** The assignment pubsub: in-process, or through Redis with `redisUrl`. */
export function createAssignmentPubSub(parameters: { redisUrl?: string } = {}): AssignmentPubSub {
  let target: TypedEventTarget<AssignmentCustomEvent>
  let clients: Redis[] = []
  if (parameters.redisUrl) {
    const publishClient = new Redis(parameters.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 })
    const subscribeClient = new Redis(parameters.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 })
    clients = [publishClient, subscribeClient]
    target = createRedisEventTarget<AssignmentCustomEvent>({ publishClient, subscribeClient, serializer: redisSerializer })
  } else {
    const local = new EventTarget()
    // One topic per provider; an agent reconnecting several times may briefly hold many listeners.
    setMaxListeners(0, local)
    target = local as TypedEventTarget<AssignmentCustomEvent>
  }
  return {
    publish(event) {
      target.dispatchEvent(new CustomEvent(topic(event.provider), { detail: toAssignmentEvent(event) }) as AssignmentCustomEvent)
    },
    subscribe(provider) {
      const name = topic(provider)
      const queue: AssignmentEvent[] = []
      let wake: (() => void) | undefined
      let closed = false
      const listener = (e: AssignmentCustomEvent) => {
        queue.push(e.detail)
        wake?.()
      }
      target.addEventListener(name, listener as unknown as Parameters<typeof target.addEventListener>[1])
      const close = () => {
        if (closed) return
        closed = true
        target.removeEventListener(name, listener as unknown as Parameters<typeof target.addEventListener>[1])
        wake?.()
      }
      const iterator = {
        async next(): Promise<IteratorResult<AssignmentEvent>> {
          while (!queue.length && !closed) await new Promise<void>((r) => (wake = r))
          wake = undefined
          const value = queue.shift()
          return value ? { value, done: false } : { value: undefined, done: true }
        },
        async return(): Promise<IteratorResult<AssignmentEvent>> {
          close()
          return { value: undefined, done: true }
        },
        [Symbol.asyncIterator]() {
          return iterator
        },
        close,
      }
      return iterator as AsyncIterableIterator<AssignmentEvent> & { close: () => void }
    },
    async close() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())))
    },
  }
}
