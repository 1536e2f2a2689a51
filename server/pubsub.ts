import { setMaxListeners } from 'node:events'
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target'
import type { TypedEventTarget } from '@graphql-yoga/typed-event-target'
import { Redis } from 'ioredis'

/** An assignment as it travels through the pubsub: plain JSON (bigints as decimal strings). */
export type AssignmentEvent = {
  id: string
  jobId: string
  provider: string
  round: number
  slot: number
  pricePerUnit: string
  collateral: string
  commitDeadline: string
  blockNumber: string
  logIndex: number
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

export function createAssignmentPubSub(parameters: { redisUrl?: string } = {}): AssignmentPubSub {
  let target: TypedEventTarget<AssignmentCustomEvent>
  let clients: Redis[] = []
  if (parameters.redisUrl) {
    const publishClient = new Redis(parameters.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 })
    const subscribeClient = new Redis(parameters.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 })
    clients = [publishClient, subscribeClient]
    target = createRedisEventTarget<AssignmentCustomEvent>({ publishClient, subscribeClient })
  } else {
    const local = new EventTarget()
    // One topic per provider; an agent reconnecting several times may briefly hold many listeners.
    setMaxListeners(0, local)
    target = local as TypedEventTarget<AssignmentCustomEvent>
  }
  return {
    publish(event) {
      target.dispatchEvent(new CustomEvent(topic(event.provider), { detail: event }) as AssignmentCustomEvent)
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
          if (queue.length) return { value: queue.shift()!, done: false }
          return { value: undefined, done: true }
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
