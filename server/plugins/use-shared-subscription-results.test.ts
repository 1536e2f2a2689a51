import type { ExecutionResult } from 'graphql'
import { createSchema, createYoga } from 'graphql-yoga'
import pino from 'pino'
import { describe, expect, test } from 'vitest'
import { parseSse } from '../../client/subscribeJobAssignments.ts'
import { UserInputError } from '../errors.ts'
import { createFanout } from '../fanout.ts'
import { listenWhileLive } from '../listen.ts'
import { errorMasker } from './use-error-masking.ts'
import { useSharedSubscriptionResults } from './use-shared-subscription-results.ts'

// A subscription whose field counts its executions: subscribers sharing a document and variables share one execution
// per event; other variables, or an event object of their own, get theirs.

type Tick = { n: number }

/** What the masking logged, as the server's logger would have. */
const logged: string[] = []
const maskError = errorMasker({ log: pino({ level: 'error' }, { write: (line: string) => void logged.push(line) }) })

function setUp(shared: boolean) {
  const fanout = createFanout<'tick', Tick>()
  let executions = 0
  const schema = createSchema<Record<string, unknown>>({
    typeDefs: 'type Query { ok: Boolean } type Subscription { tick(scale: Int!): Int! }',
    resolvers: {
      Subscription: {
        tick: {
          subscribe: () => fanout.subscribe('tick'),
          resolve: (event: Tick, args: { scale: number }) => {
            executions++
            // Asynchronous and synchronous failures: the shared execution's promise and its value are masked alike.
            if (event.n < 0) return Promise.reject(new Error(`a secret ${event.n}`))
            if (event.n === 0) throw new UserInputError('zero is not a tick')
            return event.n * args.scale
          },
        },
      },
    },
  })
  const yoga = createYoga({ schema, maskedErrors: false, plugins: shared ? [useSharedSubscriptionResults({ maskError })] : [] })
  const subscribe = async (scale: number) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription ($s: Int!) { tick(scale: $s) }', variables: { s: scale } }),
    })
    const events = parseSse(response.body as ReadableStream<Uint8Array>)
    return async () => {
      for (;;) {
        const { value, done } = await events.next()
        if (done) throw new Error('ended')
        if (value.event !== 'next') continue
        const result = JSON.parse(value.data) as { data: { tick: number } | null; errors?: { message: string }[] }
        return result.errors ? result.errors.map((e) => e.message).join() : (result.data as { tick: number }).tick
      }
    }
  }
  return { fanout, subscribe, executions: () => executions }
}

async function run(shared: boolean, n = 5) {
  const { fanout, subscribe, executions } = setUp(shared)
  const same = await Promise.all(Array.from({ length: 50 }, () => subscribe(2)))
  const other = await subscribe(3)
  // Let every subscription reach its source before the first event.
  while (fanout.keys().length === 0) await new Promise((r) => setTimeout(r, 5))
  await new Promise((r) => setTimeout(r, 50))
  const reads = [...same, other].map((next) => next())
  fanout.publish('tick', { n })
  const values = await Promise.all(reads)
  return { values, executions: executions() }
}

describe('useSharedSubscriptionResults', () => {
  test('one execution per event for each document and variables, not per subscriber; every subscriber its value', async () => {
    const shared = await run(true)
    expect(shared.values).toEqual([...Array(50).fill(10), 15])
    expect(shared.executions).toBe(2)
    // The peer without the plugin: one execution per subscriber.
    const plain = await run(false)
    expect(plain.values).toEqual(shared.values)
    expect(plain.executions).toBe(51)
  })

  test('errors are masked once per event for all its subscribers: the unexpected logged once, a user’s error kept', async () => {
    logged.length = 0
    const failed = await run(true, -1)
    expect(failed.values).toEqual(Array(51).fill('Unexpected error.'))
    expect(failed.executions).toBe(2)
    // Once per execution (two documents-and-variables), not once per subscriber; the secret only in the log.
    expect(logged).toHaveLength(2)
    expect(logged[0]).toContain('a secret -1')
    const refused = await run(true, 0)
    expect(refused.values).toEqual(Array(51).fill('zero is not a tick'))
  })

  test('a listener gets each event’s result once computed, in the events’ order; next() after it stops waits for them', async () => {
    // Computed in another order than published: the listener gets them in the published one.
    const first = await listenedSubscription()
    const ordered: number[] = []
    const listening = listenWhileLive<TickResult>(first.stream, (result) => ordered.push(tickOf(result)) < 2)
    expect(listening).toBeDefined()
    first.fanout.publish('tick', { n: 1, delayMs: 60 })
    first.fanout.publish('tick', { n: 2, delayMs: 0 })
    await listening
    expect(ordered).toEqual([1, 2])
    await first.stream.return(undefined)

    // The writer is full after 1, so listening stops there; 2, still being computed then, was on its way: it still
    // comes to the listener, and the next() after waits for it.
    const { fanout, stream } = await listenedSubscription()
    const written: number[] = []
    const stopped = listenWhileLive<TickResult>(stream, (result) => written.push(tickOf(result)) !== 1)
    fanout.publish('tick', { n: 1, delayMs: 20 })
    fanout.publish('tick', { n: 2, delayMs: 80 })
    await stopped
    fanout.publish('tick', { n: 3, delayMs: 0 })
    const next = await stream.next()
    expect(written).toEqual([1, 2])
    expect(next.value && tickOf(next.value)).toBe(3)
    await stream.return(undefined)
  })
})

type TickResult = ExecutionResult<{ tick: number }>
const tickOf = (result: TickResult) => result.data?.tick as number

/**
 * A subscription through the plugin whose results take each event's `delayMs` to compute, as the transports get it
 * from envelop (server/serveEventStreams.ts), and the fan-out that feeds it.
 */
async function listenedSubscription() {
  const fanout = createFanout<'tick', { n: number; delayMs: number }>()
  const schema = createSchema<Record<string, unknown>>({
    typeDefs: 'type Query { ok: Boolean } type Subscription { tick: Int! }',
    resolvers: {
      Subscription: {
        tick: {
          subscribe: () => fanout.subscribe('tick'),
          resolve: (event: { n: number; delayMs: number }) => new Promise((r) => setTimeout(() => r(event.n), event.delayMs)),
        },
      },
    },
  })
  const yoga = createYoga({ schema, maskedErrors: false, plugins: [useSharedSubscriptionResults({ maskError })] })
  const enveloped = yoga.getEnveloped({})
  const stream = (await enveloped.subscribe({
    schema: enveloped.schema,
    document: enveloped.parse('subscription { tick }'),
    contextValue: await enveloped.contextFactory(),
  })) as AsyncGenerator<TickResult>
  return { fanout, stream }
}
