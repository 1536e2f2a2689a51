/**
 * Reads: the marketplace's queries on our API (`bench/apiServer.ts`, forked: the server's Yoga with its response cache,
 * as `startServer` runs it) against Ponder's built-in GraphQL over the same tables and data (the indexer's `/graphql`,
 * `indexer/src/api`), on a devnet with `TESSERA_BENCH_QUERY_JOBS` (default 1,000) jobs, each assigned to two providers.
 * Each query runs for `seconds` with `concurrency` clients in a closed loop, ours and Ponder's in blocks A B B A; the
 * table gives requests per second and p50/p99 latency of each, and the ratio of the rates. Where Ponder's schema has
 * no relation (jobs with their assignments), its side is what a client must send to get the same data: the jobs, then
 * their assignments by `jobId_in`, one after the other. `npx tsx bench/queries.ts` runs this alone and rewrites its section of BENCHMARKS.md.
 */
import { cpus } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { keccak256, maxUint256, toHex } from 'viem'
import { emissionControllerAbi, jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { startIndexedTestChain } from '../test/support/stack.ts'
import { forkApiServer } from './forkApiServer.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

const viewsSchema = 'bench_queries'

export type QueryRun = {
  query: string
  side: 'ours' | 'ponder'
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
  /** ours ÷ Ponder's requests per second, per query. */
  ratios: { query: string; ratio: number }[]
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
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
  let stopApi: (() => void) | undefined
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
    const spec = {
      modelHash: keccak256(toHex('model')),
      inputHash: keccak256(toHex('input')),
      units: 4n,
      maxPricePerUnit: TSR / 10n,
      minVramMiB: 0,
      gpuModel: 0,
      regions: [],
      redundancy: 2,
      verification: 0,
      outputTolerance: 10,
      deadline: (await system.now()) + 30n * 86_400n,
    }
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
    stopApi = api.stop
    const ours = `http://127.0.0.1:${api.port}/graphql`
    const ponder = `${chain.ponder.url}/graphql`
    // Both sides have indexed everything before the clock starts.
    for (;;) {
      const { data } = await post(ours, '{ jobs { totalCount } }')
      if ((data.jobs as { totalCount: number }).totalCount >= jobCount) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const lastJob = (first + BigInt(jobCount) - 1n).toString()

    const pairs: { query: string; ours: Request; ponder: Request }[] = [
      {
        query: '100 jobs with their assignments',
        ours: async () => {
          await post(ours, '{ jobs(first: 100) { edges { node { id status units assignments { provider outcome } } } } }')
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
        ours: async () => {
          await post(ours, `{ job(id: "${lastJob}") { id status units maxPricePerUnit requester } }`)
        },
        ponder: async () => {
          await post(ponder, `{ job(id: "${lastJob}") { id status units maxPricePerUnit requester } }`)
        },
      },
      {
        query: 'providers (flat)',
        ours: async () => {
          await post(ours, '{ providers(first: 50) { edges { node { address stake pricePerUnit } } } }')
        },
        ponder: async () => {
          await post(ponder, '{ providers(limit: 50) { items { address stake pricePerUnit } } }')
        },
      },
      {
        query: 'epochs (flat)',
        ours: async () => {
          await post(ours, '{ epochs(first: 50) { edges { node { id fees } } } }')
        },
        ponder: async () => {
          await post(ponder, '{ epochs(limit: 50, orderBy: "id", orderDirection: "desc") { items { id fees } } }')
        },
      },
    ]
    const runs: QueryRun[] = []
    for (const pair of pairs) {
      // Warm both (parse caches, the first cache fill), then A B B A.
      await pair.ours()
      await pair.ponder()
      const latencies = { ours: [] as number[], ponder: [] as number[] }
      for (const side of ['ours', 'ponder', 'ponder', 'ours'] as const)
        latencies[side].push(...(await closedLoop(pair[side], concurrency, seconds / 2)))
      for (const side of ['ours', 'ponder'] as const)
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
      const rate = (side: 'ours' | 'ponder') => runs.find((r) => r.query === p.query && r.side === side)?.perSecond ?? Number.NaN
      return { query: p.query, ratio: rate('ours') / rate('ponder') }
    })
    return { jobs: jobCount, concurrency, seconds, runs, ratios }
  } finally {
    stopApi?.()
    await chain.stop()
  }
}

/** The BENCHMARKS.md section of a run. */
export function queriesSection(bench: QueriesBenchReturnType): string[] {
  const cpu = cpus()
  const rate = (query: string, side: 'ours' | 'ponder') => bench.runs.find((r) => r.query === query && r.side === side)
  return [
    '## Reads: our API against Ponder’s built-in GraphQL',
    '',
    `Time, so ratios: ${bench.jobs.toLocaleString('en-US')} jobs, each assigned to two providers, indexed by Ponder on a ` +
      `devnet; ${bench.concurrency} clients in a closed loop for ${bench.seconds} s per side and query, ours and Ponder's in ` +
      `blocks A B B A, measured on ${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ` +
      `${process.versions.node}, ${new Date().toISOString().slice(0, 10)}, by \`bench/queries.ts\`. Ours is the server's Yoga ` +
      'in a process of its own with its response cache (answers from memory until the indexed head moves, as ' +
      "`startServer` runs it); Ponder's is the indexer's `/graphql` over the same tables. Where Ponder's schema has no " +
      'relation (jobs with their assignments), its side sends what a client must: the jobs, then their assignments by ' +
      '`jobId_in`. The bench process, both servers and Postgres share the machine.',
    '',
    '| query | ours (req/s) | ours p50 / p99 (ms) | Ponder (req/s) | Ponder p50 / p99 (ms) | ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...bench.ratios.map(({ query, ratio }) => {
      const o = rate(query, 'ours')
      const p = rate(query, 'ponder')
      const cell = (r: QueryRun | undefined) => (r ? `${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)}` : '')
      return `| ${query} | ${o?.perSecond.toFixed(0)} | ${cell(o)} | ${p?.perSecond.toFixed(0)} | ${cell(p)} | ${ratio.toFixed(2)} |`
    }),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await queriesBench()
  writeSection(benchmarksFile, queriesSection(bench))
  console.log(JSON.stringify(bench, null, 2))
  process.exit(0)
}
