import { createSchema, createYoga } from 'graphql-yoga'
import { describe, expect, test } from 'vitest'
import { parseSse } from '../../client/subscribeJobAssignments.ts'
import { createFanout } from '../fanout.ts'
import { useSharedSubscriptionResults } from './use-shared-subscription-results.ts'

// A subscription whose field counts its executions: subscribers sharing a document and variables share one execution
// per event; other variables, or an event object of their own, get theirs.

type Tick = { n: number }

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
            return event.n * args.scale
          },
        },
      },
    },
  })
  const yoga = createYoga({ schema, plugins: shared ? [useSharedSubscriptionResults()] : [] })
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
        if (value.event === 'next') return (JSON.parse(value.data) as { data: { tick: number } }).data.tick
      }
    }
  }
  return { fanout, subscribe, executions: () => executions }
}

async function run(shared: boolean) {
  const { fanout, subscribe, executions } = setUp(shared)
  const same = await Promise.all(Array.from({ length: 50 }, () => subscribe(2)))
  const other = await subscribe(3)
  // Let every subscription reach its source before the first event.
  while (fanout.keys().length === 0) await new Promise((r) => setTimeout(r, 5))
  await new Promise((r) => setTimeout(r, 50))
  const reads = [...same, other].map((next) => next())
  fanout.publish('tick', { n: 5 })
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
})
