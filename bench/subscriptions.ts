/**
 * Subscription fan-out: N agents of one provider subscribed to `jobAssignments` on one API process
 * (`bench/apiServer.ts`, forked), each event published on the Postgres bus as the leader's change feed does,
 * and the time from the publish to each subscriber's copy. Over SSE (Yoga's, distinct connections) and WebSocket
 * (graphql-transport-ws), the agent's own selection (with `job { … }`, read from the indexed data) against the same
 * selection without `job` (the peer: pure fan-out), and against the floor: a server with nothing but the sockets
 * (`bench/bareFanoutServer.ts`, forked, on the same bus) writing the agents' message, built once per event, to every
 * subscriber. In blocks A B C C B A. Memory per subscriber is the server process's after two full collections,
 * before, with the N subscribers, and after they all disconnected.
 * `TESSERA_BENCH_SUBSCRIBERS` (comma-separated) changes N, `TESSERA_BENCH_TRANSPORTS` (`sse,ws`) the transports; `npx tsx bench/subscriptions.ts` runs this alone and
 * rewrites its section of BENCHMARKS.md.
 */
import { request } from 'node:http'
import { cpus } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { keccak256, toHex } from 'viem'
import WebSocket from 'ws'
import { fund, registerProvider } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { type AssignmentEvent, connectAssignmentPubSub } from '../server/pubsub.ts'
import { approveAndSubmitJob } from '../test/support/market.ts'
import { startIndexedTestChain } from '../test/support/stack.ts'
import { forkApiServer } from './forkApiServer.ts'
import { forkServerProcess } from './forkServerProcess.ts'
import { quantile } from './quantile.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const viewsSchema = 'bench_subscriptions'
const busScope = 'bench-subscriptions'

export type Transport = 'sse' | 'ws'
/** The agents' selection and the peer's on the API, and the agents' message from the bare server (the floor). */
export type Selection = 'withJob' | 'withoutJob' | 'floor'

/** One transport × selection × N: delivery latency and the API process's memory. */
export type FanoutRun = {
  transport: Transport
  selection: Selection
  subscribers: number
  rounds: number
  /** Publish → the last subscriber's copy, per round (ms). */
  lastDeliveryP50: number
  lastDeliveryP99: number
  /** Publish → each copy, over every subscriber and round (ms). */
  deliveryP50: number
  deliveryP99: number
  /** API process memory per subscriber while subscribed (bytes): heap + external, and RSS. */
  heapPerSubscriber: number
  rssPerSubscriber: number
  /** Heap + external left per subscriber once all disconnected (bytes; ≈ 0 when released). */
  heapLeftPerSubscriber: number
  /** The server process's CPU time per timed event, all its threads, the collector's included (ms). */
  cpuPerEvent: number
}

export type SubscriptionsBenchReturnType = { runs: FanoutRun[]; seconds: number }

const queries: Record<Exclude<Selection, 'floor'>, string> = {
  withJob:
    'subscription ($p: Address!) { jobAssignments(provider: $p) { cursor retracted jobId provider slot pricePerUnit collateral ' +
    'commitDeadline job { id modelHash inputHash units outputTolerance redundancy deadline } } }',
  withoutJob:
    'subscription ($p: Address!) { jobAssignments(provider: $p) { cursor retracted jobId provider slot pricePerUnit collateral ' +
    'commitDeadline } }',
}

/** A subscriber: counts the events it got and when; `close()` disconnects. */
type Subscriber = { arrivals: number[]; ready: Promise<void>; close: () => void }

function sseSubscriber(port: number, query: string, provider: string): Subscriber {
  const arrivals: number[] = []
  let resolveReady: () => void = () => {}
  let rejectReady: (e: Error) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  const body = JSON.stringify({ query, variables: { p: provider } })
  const req = request(
    {
      host: '127.0.0.1',
      port,
      path: '/graphql',
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    },
    (res) => {
      if (res.statusCode !== 200) rejectReady(new Error(`SSE subscribe answered ${res.statusCode}`))
      else resolveReady()
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const now = performance.now()
        let at = chunk.indexOf('event: next')
        while (at !== -1) {
          arrivals.push(now)
          at = chunk.indexOf('event: next', at + 1)
        }
      })
      res.on('error', () => {})
    },
  )
  req.on('error', (error) => rejectReady(error))
  req.end(body)
  return { arrivals, ready, close: () => req.destroy() }
}

function wsSubscriber(port: number, query: string, provider: string): Subscriber {
  const arrivals: number[] = []
  const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws')
  const ready = new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })))
    socket.on('message', (raw) => {
      const now = performance.now()
      const message = JSON.parse(String(raw)) as { type: string; payload?: unknown }
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { p: provider } } }))
        resolve()
      } else if (message.type === 'next') arrivals.push(now)
      else if (message.type === 'error') reject(new Error(JSON.stringify(message.payload)))
    })
    socket.on('error', reject)
  })
  return { arrivals, ready, close: () => socket.terminate() }
}

async function untilAll(subscribers: Subscriber[], count: number, timeoutMs: number): Promise<boolean> {
  const started = Date.now()
  while (subscribers.some((s) => s.arrivals.length < count)) {
    if (Date.now() - started > timeoutMs) return false
    await new Promise((r) => setTimeout(r, 5))
  }
  return true
}

export async function subscriptionsBench(
  parameters: { subscribers?: number[]; rounds?: number } = {},
): Promise<SubscriptionsBenchReturnType> {
  const started = performance.now()
  const counts =
    parameters.subscribers ?? (process.env.TESSERA_BENCH_SUBSCRIBERS ?? '1000,5000,10000').split(',').map((n) => Number.parseInt(n, 10))
  const rounds = parameters.rounds ?? 20
  const transports = (process.env.TESSERA_BENCH_TRANSPORTS ?? 'sse,ws').split(',') as Transport[]
  const chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-bench-subscriptions-',
    viewsSchema,
    prepare: async (s) => {
      await registerProvider(s, s.accounts.providers[0])
      await fund(s, s.accounts.requesters[0].address, 100n * TSR)
    },
  })
  let stopApi: (() => void) | undefined
  let stopBare: (() => void) | undefined
  const log = pino({ level: 'warn' })
  const bus = await connectAssignmentPubSub({ databaseUrl: chain.database.url, scope: busScope, log })
  try {
    const { jobId } = await approveAndSubmitJob(chain.system, chain.system.accounts.requesters[0], {
      modelHash: keccak256(toHex('model')),
      inputHash: keccak256(toHex('input')),
    })
    const provider = chain.system.accounts.providers[0].address.toLowerCase() as `0x${string}`
    // The job must be indexed: the subscriptions with `job` read it.
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: chain.database.url })
    await client.connect()
    for (;;) {
      const rows = await client.query(`select 1 from ${viewsSchema}.job where id = $1`, [jobId.toString()])
      if (rows.rowCount) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await client.end()

    const api = await forkApiServer({ chain, viewsSchema, busScope })
    stopApi = api.stop
    // The floor sends the job as the API reads it for the agents' selection.
    const jobSelection = /job (\{[^}]*\})/.exec(queries.withJob)?.[1]
    const answer = await fetch(`http://127.0.0.1:${api.port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ job(id: "${jobId}") ${jobSelection} }` }),
    })
    const { data } = (await answer.json()) as { data?: { job?: unknown } }
    if (!data?.job) throw new Error(`the API did not answer job ${jobId}`)
    const bare = await forkServerProcess(path.join(here, 'bareFanoutServer.ts'), {
      BENCH_DATABASE_URL: chain.database.url,
      BENCH_BUS_SCOPE: busScope,
      BENCH_PROVIDER: provider,
      BENCH_JOB: JSON.stringify(data.job),
    })
    stopBare = bare.stop
    const servers = { withJob: api, withoutJob: api, floor: bare }

    let block = 1_000_000n
    const eventOf = (): AssignmentEvent => {
      block += 1n
      return {
        id: `bench-${block}`,
        jobId,
        provider,
        round: 0,
        slot: 0,
        pricePerUnit: TSR / 100n,
        collateral: TSR / 25n,
        commitDeadline: 2n ** 40n,
        blockNumber: block,
        logIndex: 0,
      }
    }

    const runs: FanoutRun[] = []
    for (const n of counts) {
      for (const transport of transports) {
        type Measured = { last: number[]; all: number[]; heap: number[]; rss: number[]; left: number[]; cpu: number[] }
        const measured: Record<Selection, Measured> = {
          withJob: { last: [], all: [], heap: [], rss: [], left: [], cpu: [] },
          withoutJob: { last: [], all: [], heap: [], rss: [], left: [], cpu: [] },
          floor: { last: [], all: [], heap: [], rss: [], left: [], cpu: [] },
        }
        // The agents' selection, the peer and the floor in blocks A B C C B A (each N subscribers, half the rounds), so
        // drift over the run weighs on all alike; one group at a time, as 2 × 10,000 sockets would pass the bench's file
        // limit.
        for (const selection of ['withJob', 'withoutJob', 'floor', 'floor', 'withoutJob', 'withJob'] as const) {
          const m = measured[selection]
          const { port, memory, cpuMs } = servers[selection]
          const query = queries[selection === 'floor' ? 'withJob' : selection]
          const base = await memory()
          // 500 connections at a time: all at once overflow the server's accept backlog on a slow machine, and a refused
          // one's `ready` rejects before anything awaits it.
          const subscribers: Subscriber[] = []
          while (subscribers.length < n) {
            const batch = Array.from({ length: Math.min(500, n - subscribers.length) }, () =>
              (transport === 'sse' ? sseSubscriber : wsSubscriber)(port, query, provider),
            )
            subscribers.push(...batch)
            await Promise.all(batch.map((s) => s.ready))
          }
          // One event to warm up, and to know every subscription is live (a WebSocket subscribe has no acknowledgement).
          let delivered = false
          for (let warm = 0; warm < 50 && !delivered; warm++) {
            await bus.publish([eventOf()])
            delivered = await untilAll(subscribers, 1, 2_000)
          }
          if (!delivered) throw new Error(`${transport} ${selection} n=${n}: subscribers never got the warm-up event`)
          const loaded = await memory()
          m.heap.push((loaded.heapUsed + loaded.external - base.heapUsed - base.external) / n)
          m.rss.push((loaded.rss - base.rss) / n)
          for (const s of subscribers) s.arrivals.length = 0
          const cpuBefore = await cpuMs()
          for (let round = 1; round <= Math.ceil(rounds / 2); round++) {
            const t0 = performance.now()
            await bus.publish([eventOf()])
            if (!(await untilAll(subscribers, round, 60_000))) throw new Error(`${transport} ${selection} n=${n}: a round timed out`)
            const times = subscribers.map((s) => (s.arrivals[round - 1] as number) - t0)
            m.all.push(...times)
            m.last.push(Math.max(...times))
          }
          m.cpu.push(((await cpuMs()) - cpuBefore) / Math.ceil(rounds / 2))
          for (const s of subscribers) s.close()
          await new Promise((r) => setTimeout(r, 2_000))
          const after = await memory()
          m.left.push((after.heapUsed + after.external - base.heapUsed - base.external) / n)
        }
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
        for (const selection of ['withJob', 'withoutJob', 'floor'] as const) {
          const m = measured[selection]
          runs.push({
            transport,
            selection,
            subscribers: n,
            rounds: m.last.length,
            lastDeliveryP50: quantile(m.last, 0.5),
            lastDeliveryP99: quantile(m.last, 0.99),
            deliveryP50: quantile(m.all, 0.5),
            deliveryP99: quantile(m.all, 0.99),
            heapPerSubscriber: mean(m.heap),
            rssPerSubscriber: mean(m.rss),
            heapLeftPerSubscriber: mean(m.left),
            cpuPerEvent: mean(m.cpu),
          })
        }
      }
    }
    return { runs, seconds: (performance.now() - started) / 1000 }
  } finally {
    stopApi?.()
    stopBare?.()
    await bus.close()
    await chain.stop()
  }
}

/** The BENCHMARKS.md section of a run. */
export function subscriptionsSection(bench: SubscriptionsBenchReturnType): string[] {
  const cpu = cpus()
  const kb = (bytes: number) => (bytes / 1024).toFixed(1)
  const find = (run: FanoutRun, selection: Selection) =>
    bench.runs.find((r) => r.transport === run.transport && r.subscribers === run.subscribers && r.selection === selection)
  const agents = bench.runs.filter((r) => r.selection === 'withJob')
  const transportName = (run: FanoutRun) => (run.transport === 'sse' ? 'SSE' : 'WebSocket')
  const verdict = (ok: boolean) => (ok ? 'met' : 'not met')
  const largest = Math.max(...agents.map((a) => a.subscribers))
  const heaviest = Math.max(...agents.map((r) => r.heapPerSubscriber))
  return [
    '## Subscriptions: fan-out to one provider’s agents',
    '',
    'Time and memory, so ratios: N subscribers of one provider’s `jobAssignments` on one API process (`bench/apiServer.ts`), ' +
      'each event published on the Postgres bus as the leader’s change feed does; the time from the publish to each ' +
      'subscriber’s copy (the last one’s per event, and every copy), over SSE (served past Yoga’s HTTP layer, ' +
      '`server/serveEventStreams.ts`, as `startServer` does) and over WebSocket ' +
      '(graphql-transport-ws). "Agents" select what the agent does, the job included (read from the indexed data); the ' +
      'peer selects the same without `job` (pure fan-out) on the same process. The floor is a server with nothing but the ' +
      'sockets (`bench/bareFanoutServer.ts`, a process of its own on the same bus): it builds the agents’ message once per ' +
      'event and writes it to every socket, so it is what one write per subscriber costs on this machine, to the same ' +
      'subscribers. The three in blocks A B C C B A. Memory is the server ' +
      'process’s heap + external after two full collections, per subscriber, while subscribed and once all disconnected; ' +
      'CPU is the server process’s CPU time (all its threads, the collector’s included) over the timed events, per event: ' +
      'less noisy than the latencies, which the machine’s other work moves. ' +
      `Measured on ${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ${process.versions.node}, ` +
      `${new Date().toISOString().slice(0, 10)}, by \`bench/subscriptions.ts\`; the subscribers run in the bench process on ` +
      'the same cores, so their own parsing is in the times.',
    '',
    '| transport | N | agents: last copy p50 / p99 (ms) | peer: last copy p50 / p99 (ms) | floor: last copy p50 / p99 (ms) | ratio to peer (p99) | ratio to floor (p99) | every copy p99 (ms) | CPU per event: agents / peer / floor (ms) | CPU ratio to floor | KB per subscriber (floor) | KB left after disconnect |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...agents.map((a) => {
      const p = find(a, 'withoutJob')
      const f = find(a, 'floor')
      const times = (r: FanoutRun | undefined) => (r ? `${r.lastDeliveryP50.toFixed(0)} / ${r.lastDeliveryP99.toFixed(0)}` : '')
      const ratio = (r: FanoutRun | undefined) => (r ? (a.lastDeliveryP99 / r.lastDeliveryP99).toFixed(2) : '')
      const cpu = [a, p, f].map((r) => (r ? r.cpuPerEvent.toFixed(1) : '')).join(' / ')
      return (
        `| ${transportName(a)} | ${a.subscribers.toLocaleString('en-US')} | ${times(a)} | ${times(p)} | ${times(f)} | ${ratio(p)} | ${ratio(f)} | ` +
        `${a.deliveryP99.toFixed(0)} | ${cpu} | ${f ? (a.cpuPerEvent / f.cpuPerEvent).toFixed(2) : ''} | ` +
        `${kb(a.heapPerSubscriber)} (${f ? kb(f.heapPerSubscriber) : ''}) | ${kb(a.heapLeftPerSubscriber)} |`
      )
    }),
    '',
    `Targets (issue #9), the agents' selection: ${largest.toLocaleString('en-US')} subscribers on one process, block → last ` +
      'delivery p99 ≤ 250 ms: ' +
      agents
        .filter((a) => a.subscribers === largest)
        .map((a) => {
          const floor = find(a, 'floor')
          const atFloor = floor ? `; the floor ${floor.lastDeliveryP99.toFixed(0)} ms` : ''
          return `${transportName(a)} ${verdict(a.lastDeliveryP99 <= 250)} (${a.lastDeliveryP99.toFixed(0)} ms over ${a.rounds} events${atFloor})`
        })
        .join(', ') +
      `; ≤ 30 KB each: ${verdict(heaviest <= 30 * 1024)} (at most ${kb(heaviest)} KB in any run of the agents' selection).`,
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await subscriptionsBench()
  writeSection(benchmarksFile, subscriptionsSection(bench))
  console.log(JSON.stringify(bench, null, 2))
  process.exit(0)
}
