import { createSchema, createYoga } from 'graphql-yoga'
import pino from 'pino'
import { describe, expect, test } from 'vitest'
import { parseSse } from '../../client/subscribeJobAssignments.ts'
import { UserInputError } from '../errors.ts'
import { createMetrics } from '../metrics.ts'
import { errorMasker, useErrorMasking } from './use-error-masking.ts'
import { useMetrics } from './use-metrics.ts'
import { useSharedSubscriptionResults } from './use-shared-subscription-results.ts'

// The open-subscriptions gauge over every way a subscription ends, and a failing stream's error masked, with the server's plugins (its streams made by
// useSharedSubscriptionResults, which tells their ends) and without the shared plugin (streams envelop's way).

type Mode = 'end' | 'fail' | 'refuse' | 'hang'

const logged: string[] = []
const maskError = errorMasker({ log: pino({ level: 'error' }, { write: (line: string) => void logged.push(line) }) })

function setUp(shared: boolean) {
  const metrics = createMetrics({ defaultMetrics: false })
  const schema = createSchema<Record<string, unknown>>({
    typeDefs: 'type Query { ok: Boolean } type Subscription { feed(mode: String!): Int! }',
    resolvers: {
      Subscription: {
        feed: {
          subscribe: (_: unknown, { mode }: { mode: Mode }) => {
            if (mode === 'refuse') throw new UserInputError('no such feed')
            return (async function* () {
              yield { feed: 1 }
              if (mode === 'fail') throw new Error('a secret')
              if (mode === 'hang') await new Promise(() => {})
            })()
          },
        },
      },
    },
  })
  const plugins = [
    useMetrics({ metrics }),
    useErrorMasking({ maskError }),
    ...(shared ? [useSharedSubscriptionResults({ maskError })] : []),
  ]
  const yoga = createYoga({ schema, maskedErrors: false, plugins })
  /** The SSE events of one subscription (`next` data and `complete`), until the stream closes or `until` is seen. */
  const subscribe = async (mode: Mode, until?: (events: string[]) => Promise<boolean>) => {
    const abort = new AbortController()
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: `subscription { feed(mode: "${mode}") }` }),
      signal: abort.signal,
    })
    const events: string[] = []
    for await (const event of parseSse(response.body as ReadableStream<Uint8Array>)) {
      events.push(event.event === 'next' ? event.data : event.event)
      if (await until?.(events)) break
    }
    abort.abort()
    return events
  }
  const active = async () => (await metrics.subscriptionsActive.get()).values[0]?.value
  return { subscribe, active }
}

/** Waits (up to a second) for the gauge to read 0: an aborted stream ends a few ticks after the client goes. */
async function settled(active: () => Promise<number | undefined>) {
  for (let i = 0; i < 100 && (await active()) !== 0; i++) await new Promise((r) => setTimeout(r, 10))
  return active()
}

describe.each([
  { shared: true, name: 'with useSharedSubscriptionResults (the server’s)' },
  { shared: false, name: 'without it (streams envelop’s way)' },
])('useMetrics: open subscriptions, $name', ({ shared }) => {
  test('a stream that ends, one that fails and one whose client goes each count down once; so does a refused one', async () => {
    const { subscribe, active } = setUp(shared)
    expect(await subscribe('end')).toEqual(['{"data":{"feed":1}}', 'complete'])
    expect(await settled(active)).toBe(0)

    logged.length = 0
    const failed = await subscribe('fail')
    expect(failed[0]).toBe('{"data":{"feed":1}}')
    // The failure reaches the client as an error, not as a quiet end: masked, the secret only in the log.
    expect(failed.slice(1).join()).toMatch(/Unexpected error\./)
    expect(failed.join()).not.toContain('a secret')
    expect(logged.join()).toContain('a secret')
    expect(await settled(active)).toBe(0)

    const refused = await subscribe('refuse')
    expect(refused.join()).toContain('no such feed')
    expect(await settled(active)).toBe(0)

    // One open until its client goes: counted while open.
    let whileOpen: number | undefined
    await subscribe('hang', async (events) => {
      whileOpen = await active()
      return events.length === 1
    })
    expect(whileOpen).toBe(1)
    expect(await settled(active)).toBe(0)
  })
})
