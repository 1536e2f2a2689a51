/**
 * Reads: the marketplace's queries on our API (`bench/apiServer.ts`, forked: the server's Yoga with its response cache,
 * as `startServer` runs it) against Ponder's built-in GraphQL over the same tables and data (the indexer's `/graphql`,
 * `indexer/src/api`), on a devnet with `TESSERA_BENCH_QUERY_JOBS` (default 1,000) jobs, each assigned to two providers.
 * Each query runs for `seconds` with `concurrency` clients in a closed loop, ours (and ours without the response cache,
 * in a second API process) and Ponder's in blocks A B C C B A; the table gives requests per second and p50/p99 latency
 * of each, and the ratios of the rates. Where Ponder's schema has no relation (jobs with their assignments), its side
 * is what a client must send to get the same data: the jobs, then their assignments by `jobId_in`, one after the
 * other. `npx tsx bench/queries.ts` runs this alone and rewrites its section of BENCHMARKS.md.
 */
import { cpus } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { maxUint256 } from 'viem'
import { emissionControllerAbi, jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider, sampleJobSpec } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { defaultOffloadComplexity } from '../server/plugins/use-offloaded-execution.ts'
import { startIndexedTestChain } from '../test/support/stack.ts'
import { forkApiServer } from './forkApiServer.ts'
import { quantile } from './quantile.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

const viewsSchema = 'bench_queries'

type Side = 'ours' | 'uncached' | 'ponder'

export type QueryRun = {
  query: string
  side: Side
  requests: number
  perSecond: number
  p50Ms: number
  p99Ms: number
}

export type QueriesBenchReturnType = {
  jobs: number
  concurrency: number
  seconds: number
  runs: QueryRun[]
  /** ours ÷ Ponder's requests per second, per query; and ours without the response cache ÷ Ponder's. */
  ratios: { query: string; ratio: number; uncachedRatio: number }[]
  /**
   * A trivial query's latency on one API process alone, and while `heavyClients` clients send the heaviest page the
   * limits allow (1,000 jobs with their assignments, a different page each time so no cache answers it), per server.
   */
  isolation: {
    server: 'ours' | 'uncached' | 'oneThread'
    aloneP50Ms: number
    aloneP99Ms: number
    loadedP50Ms: number
    loadedP99Ms: number
    heavyPerSecond: number
  }[]
  heavyClients: number
}

type Request = () => Promise<void>

/** A GraphQL POST that fails loudly on an error, so a broken query can't pass for a fast one. */
async function post(url: string, query: string, variables: Record<string, unknown> = {}): Promise<{ data: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] }
  if (!response.ok || body.errors || !body.data) throw new Error(`${url}: ${JSON.stringify(body.errors ?? response.status)} for ${query}`)
  return body as { data: Record<string, unknown> }
}

/** `concurrency` clients sending `request` back to back for `seconds`: latencies in ms. */
async function closedLoop(request: Request, concurrency: number, seconds: number): Promise<number[]> {
  const until = performance.now() + seconds * 1000
  const latencies: number[] = []
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now()
        await request()
        latencies.push(performance.now() - t0)
      }
    }),
  )
  return latencies
}

export async function queriesBench(
  parameters: { jobs?: number; concurrency?: number; seconds?: number } = {},
): Promise<QueriesBenchReturnType> {
  const jobCount = parameters.jobs ?? Number.parseInt(process.env.TESSERA_BENCH_QUERY_JOBS ?? '1000', 10)
  const concurrency = parameters.concurrency ?? 8
  const seconds = parameters.seconds ?? 3
  const chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-bench-queries-',
    viewsSchema,
    prepare: async (s) => {
      for (const p of s.accounts.providers) await registerProvider(s, p, { stake: 10_000n * TSR })
      await fund(s, s.accounts.requesters[0].address, 100_000n * TSR)
    },
  })
  const stops: (() => void)[] = []
  try {
    const { system } = chain
    const requester = system.accounts.requesters[0]
    const [p0, p1] = system.accounts.providers
    if (!p0 || !p1) throw new Error('the test system has no providers')
    await system.write(requester, {
      address: system.token,
      abi: tesseraTokenAbi,
      functionName: 'approve',
      args: [system.market, maxUint256],
    })
    // The jobs' fields matter only in what the queries read: sampleJobSpec's, at 4 units, alive for 30 days.
    const spec = await sampleJobSpec(system, { units: 4n, maxPricePerUnit: TSR / 10n, deadline: (await system.now()) + 30n * 86_400n })
    const first = await system.read<bigint>({ address: system.market, abi: jobMarketAbi, functionName: 'nextJobId' })
    for (let i = 0; i < jobCount; i++) {
      await system.write(requester, { address: system.market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
      await system.write(system.accounts.matcher, {
        address: system.market,
        abi: jobMarketAbi,
        functionName: 'assign',
        args: [first + BigInt(i), [p0.address, p1.address]],
      })
    }
    // Closed epochs for the epochs query.
    for (let e = 0; e < 3; e++) {
      await system.increaseTime(chain.deployment.params.emission.epochLength)
      await system.write(system.accounts.deployer, {
        address: chain.deployment.contracts.EmissionController.address,
        abi: emissionControllerAbi,
        functionName: 'advanceEpoch',
      })
    }
    const api = await forkApiServer({ chain, viewsSchema, busScope: 'bench-queries' })
    stops.push(api.stop)
    const bare = await forkApiServer({ chain, viewsSchema, busScope: 'bench-queries', cacheResponses: false })
    stops.push(bare.stop)
    const oneThread = await forkApiServer({ chain, viewsSchema, busScope: 'bench-queries', queryThreads: 0 })
    stops.push(oneThread.stop)
    const ours = `http://127.0.0.1:${api.port}/graphql`
    const uncached = `http://127.0.0.1:${bare.port}/graphql`
    const ponder = `${chain.ponder.url}/graphql`
    // Both sides have indexed everything before the clock starts.
    for (;;) {
      const { data } = await post(ours, '{ jobs { totalCount } }')
      if ((data.jobs as { totalCount: number }).totalCount >= jobCount) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const lastJob = (first + BigInt(jobCount) - 1n).toString()

    type Pair = { query: string; ours: (url: string) => Request; ponder: Request }
    const pairs: Pair[] = [
      {
        query: '100 jobs with their assignments',
        ours: (url) => async () => {
          await post(url, '{ jobs(first: 100) { edges { node { id status units assignments { provider outcome } } } } }')
        },
        ponder: async () => {
          const { data } = await post(ponder, '{ jobs(limit: 100, orderBy: "id", orderDirection: "desc") { items { id status units } } }')
          const ids = (data.jobs as { items: { id: string }[] }).items.map((j) => j.id)
          await post(
            ponder,
            'query ($ids: [BigInt]) { assignments(where: { jobId_in: $ids }, limit: 1000) { items { jobId provider outcome } } }',
            {
              ids,
            },
          )
        },
      },
      {
        query: 'one job',
        ours: (url) => async () => {
          await post(url, `{ job(id: "${lastJob}") { id status units maxPricePerUnit requester } }`)
        },
        ponder: async () => {
          await post(ponder, `{ job(id: "${lastJob}") { id status units maxPricePerUnit requester } }`)
        },
      },
      {
        query: 'providers (flat)',
        ours: (url) => async () => {
          await post(url, '{ providers(first: 50) { edges { node { address stake pricePerUnit } } } }')
        },
        ponder: async () => {
          await post(ponder, '{ providers(limit: 50) { items { address stake pricePerUnit } } }')
        },
      },
      {
        query: 'epochs (flat)',
        ours: (url) => async () => {
          await post(url, '{ epochs(first: 50) { edges { node { id fees } } } }')
        },
        ponder: async () => {
          await post(ponder, '{ epochs(limit: 50, orderBy: "id", orderDirection: "desc") { items { id fees } } }')
        },
      },
    ]
    const runs: QueryRun[] = []
    for (const pair of pairs) {
      const requests: Record<Side, Request> = { ours: pair.ours(ours), uncached: pair.ours(uncached), ponder: pair.ponder }
      // Warm all three (parse caches, the first cache fill), then A B C C B A.
      for (const request of Object.values(requests)) await request()
      const latencies: Record<Side, number[]> = { ours: [], uncached: [], ponder: [] }
      for (const side of ['ours', 'uncached', 'ponder', 'ponder', 'uncached', 'ours'] as const)
        latencies[side].push(...(await closedLoop(requests[side], concurrency, seconds / 2)))
      for (const side of ['ours', 'uncached', 'ponder'] as const)
        runs.push({
          query: pair.query,
          side,
          requests: latencies[side].length,
          perSecond: latencies[side].length / seconds,
          p50Ms: quantile(latencies[side], 0.5),
          p99Ms: quantile(latencies[side], 0.99),
        })
    }
    const ratios = pairs.map((p) => {
      const rate = (side: Side) => runs.find((r) => r.query === p.query && r.side === side)?.perSecond ?? Number.NaN
      return { query: p.query, ratio: rate('ours') / rate('ponder'), uncachedRatio: rate('uncached') / rate('ponder') }
    })
    // A trivial query alone, then beside four clients paging through 1,000 jobs with their assignments at a time (the
    // heaviest page the complexity limit lets through with that selection), each page different so no cache answers
    // it; A B B A per server.
    const heavyClients = 4
    const heavy = (url: string) => {
      let page = 0
      return async () => {
        const to = BigInt(jobCount) - BigInt((page++ * 7) % Math.max(1, jobCount))
        await post(
          url,
          `{ jobs(first: 1000, where: { id_in: [${Array.from({ length: 50 }, (_, i) => `"${to - BigInt(i)}"`).join(',')}] }) { edges { node { id status units escrow requester assignments { provider outcome price collateral } } } } }`,
        )
        await post(
          url,
          `{ jobs(first: 1000) { edges { node { id status units escrow requester assignments { provider outcome price collateral } } } } }`.replace(
            'first: 1000',
            `first: ${990 + (page % 10)}`,
          ),
        )
      }
    }
    const trivial = (url: string) => async () => {
      await post(url, '{ __typename }')
    }
    const isolation: QueriesBenchReturnType['isolation'] = []
    for (const [server, url] of [
      ['ours', ours],
      ['uncached', uncached],
      ['oneThread', `http://127.0.0.1:${oneThread.port}/graphql`],
    ] as const) {
      const alone: number[] = []
      const loaded: number[] = []
      let heavyRequests = 0
      for (const block of ['alone', 'loaded', 'loaded', 'alone'] as const) {
        if (block === 'alone') alone.push(...(await closedLoop(trivial(url), 1, seconds / 2)))
        else {
          const stopAt = performance.now() + (seconds / 2) * 1000
          const load = Array.from({ length: heavyClients }, async () => {
            const next = heavy(url)
            while (performance.now() < stopAt) {
              await next()
              heavyRequests += 2
            }
          })
          loaded.push(...(await closedLoop(trivial(url), 1, seconds / 2)))
          await Promise.all(load)
        }
      }
      isolation.push({
        server,
        aloneP50Ms: quantile(alone, 0.5),
        aloneP99Ms: quantile(alone, 0.99),
        loadedP50Ms: quantile(loaded, 0.5),
        loadedP99Ms: quantile(loaded, 0.99),
        heavyPerSecond: heavyRequests / seconds,
      })
    }
    return { jobs: jobCount, concurrency, seconds, runs, ratios, isolation, heavyClients }
  } finally {
    for (const stop of stops) stop()
    await chain.stop()
  }
}

const isolationServers = {
  ours: 'ours',
  uncached: 'ours without the cache',
  oneThread: 'ours, every query on the request thread',
} as const

/** The BENCHMARKS.md section of a run. */
export function queriesSection(bench: QueriesBenchReturnType): string[] {
  const cpu = cpus()
  const rate = (query: string, side: Side) => bench.runs.find((r) => r.query === query && r.side === side)
  return [
    '## Reads: our API against Ponder’s built-in GraphQL',
    '',
    `Time, so ratios: ${bench.jobs.toLocaleString('en-US')} jobs, each assigned to two providers, indexed by Ponder on a ` +
      `devnet; ${bench.concurrency} clients in a closed loop for ${bench.seconds} s per side and query, measured on ${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ` +
      `${process.versions.node}, ${new Date().toISOString().slice(0, 10)}, by \`bench/queries.ts\`. Ours is the server's Yoga ` +
      'in a process of its own with its response cache (answers from memory until the indexed head moves, as ' +
      '`startServer` runs it), and the same without the cache in another (every request read from Postgres: what a ' +
      "query costs on the first ask after each block); Ponder's is the indexer's `/graphql` over the same tables, the " +
      "three in blocks A B C C B A. Where Ponder's schema has no " +
      'relation (jobs with their assignments), its side sends what a client must: the jobs, then their assignments by ' +
      '`jobId_in`. The bench process, both servers and Postgres share the machine.',
    '',
    '| query | ours (req/s) | ours p50 / p99 (ms) | uncached (req/s) | uncached p50 / p99 (ms) | Ponder (req/s) | Ponder p50 / p99 (ms) | ratio | uncached ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...bench.ratios.map(({ query, ratio, uncachedRatio }) => {
      const [o, u, p] = (['ours', 'uncached', 'ponder'] as const).map((side) => rate(query, side))
      const cell = (r: QueryRun | undefined) => (r ? `${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)}` : '')
      return (
        `| ${query} | ${o?.perSecond.toFixed(0)} | ${cell(o)} | ${u?.perSecond.toFixed(0)} | ${cell(u)} | ${p?.perSecond.toFixed(0)} | ` +
        `${cell(p)} | ${ratio.toFixed(2)} | ${uncachedRatio.toFixed(2)} |`
      )
    }),
    '',
    `A trivial query (\`{ __typename }\`, one client) alone and while ${bench.heavyClients} clients page through 1,000 jobs ` +
      'with their assignments at a time (a different page each time, so the cache never answers them), on the same API ' +
      'process, blocks A B B A. The leader does not run in the bench’s API process. Ours runs queries of complexity ' +
      `${defaultOffloadComplexity.toLocaleString('en-US')} and more (the heavy pages) on a query thread, as \`startServer\` does; ` +
      'the last row runs every query on the request thread.',
    '',
    '| server | alone p50 / p99 (ms) | under the heavy clients p50 / p99 (ms) | ratio (p99) | heavy requests/s |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...bench.isolation.map(
      (i) =>
        `| ${isolationServers[i.server]} | ${i.aloneP50Ms.toFixed(1)} / ${i.aloneP99Ms.toFixed(1)} | ` +
        `${i.loadedP50Ms.toFixed(1)} / ${i.loadedP99Ms.toFixed(1)} | ${(i.loadedP99Ms / i.aloneP99Ms).toFixed(1)} | ${i.heavyPerSecond.toFixed(0)} |`,
    ),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await queriesBench()
  writeSection(benchmarksFile, queriesSection(bench))
  console.log(JSON.stringify(bench, null, 2))
  process.exit(0)
}
