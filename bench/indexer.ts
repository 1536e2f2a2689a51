/**
 * The indexer (`indexer/`, our Ponder app) against a bare no-op Ponder app (`bench/noopIndexer/`: the same config,
 * so the same chain, contracts, ABIs, start blocks, filters and chain settings, and an empty handler for every event
 * ours handles) on one anvil chain with a marketplace history (`bench/indexerWorkload.ts`). In blocks A B B A (ours,
 * no-op, no-op, ours), each app:
 *
 * - backfills the history into a fresh schema (Ponder's sync store cleared first, so each fetches the chain itself):
 *   seconds from spawning Ponder until its `/status` shows the head indexed, and from Ponder's own "Started backfill"
 *   to its "Completed backfill"; events per second of each;
 * - then follows the chain while the workload mines a block about every `paceMs` with a steady stream of jobs: the
 *   lag from `evm_mine` answering to the block's checkpoint being committed, read from the app's `_ponder_checkpoint`
 *   table every 10 ms over a Postgres connection of the bench (not through Ponder's `/status`, which would load the
 *   app's own event loop);
 * - then follows it under load, the same way: a block a second, as the devnet mines, each with `load.jobsPerBlock`
 *   new jobs and the next step of those in flight (the blocks of that many jobs a second, hundreds of events each).
 *
 * The chain is reverted to the history's end afterwards, so every start sees the same chain.
 *
 * `npx tsx bench/indexer.ts` runs this alone and rewrites its section of BENCHMARKS.md.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os, { cpus } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { type Abi, type Address, getAbiItem, type Hex, toEventSelector, toHex } from 'viem'
import {
  challengeLedgerAbi,
  emissionControllerAbi,
  jobMarketAbi,
  providerRegistryAbi,
  tesseraTokenAbi,
} from '../contracts/generated/index.ts'
import { freePort } from '../devnet/startAnvil.ts'
import { startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { pollingIntervalOf, webSocketUrlOf } from '../indexer/pollingInterval.ts'
import { clearPonderSyncStore } from '../indexer/startIndexer.ts'
import { type StartPonderReturnType, startPonder } from '../indexer/startPonder.ts'
import { TesseraError } from '../protocol/errors.ts'
import { gatewayAddressOf } from '../protocol/gateway.ts'
import { sleep } from '../protocol/retry.ts'
import { createTestDatabase } from '../test/support/database.ts'
import { type MarketWorkload, marketWorkload, type RpcLog } from './indexerWorkload.ts'
import { jsonRpc } from './jsonRpc.ts'
import { indexedEvents } from './noopIndexer/indexedEvents.ts'
import { quantile } from './quantile.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The bench could not measure what it set out to (the apps disagree on the events, a block was never indexed). */
export class IndexerBenchError extends TesseraError {
  override name = 'IndexerBenchError'
}

type Side = 'ours' | 'no-op'
const apps: Record<Side, { root: string; viewsSchema: string }> = {
  ours: { root: 'indexer', viewsSchema: 'bench_indexer_ours' },
  'no-op': { root: 'bench/noopIndexer', viewsSchema: 'bench_indexer_noop' },
}

/** One start of one app: its backfill, what its metrics said of it, and its lags following the chain. */
export type IndexerRun = {
  side: Side
  /** From spawning Ponder to its `/status` showing the chain head. */
  backfillSeconds: number
  /** From Ponder's "Started backfill indexing" to its "Completed backfill indexing" (fetch and index the finalized range). */
  syncSeconds: number
  /** Events Ponder counted as indexed when the backfill was done (`ponder_indexing_completed_events`). */
  indexedEvents: number
  /** Time spent in the handlers during the backfill (`ponder_indexing_function_duration`), ms. */
  handlerMs: number
  /** Store operations of the handlers during the backfill (`ponder_indexing_store_queries_total`), by method. */
  storeOperations: Record<string, number>
  /** Lag from mined to indexed of each block followed, ms. */
  lagsMs: number[]
  /** The indexer's events in the blocks followed. */
  realtimeEvents: number
  /** The same, for the blocks followed under load. */
  loadLagsMs: number[]
  loadEvents: number
}

/** Per side, over its two runs. */
export type IndexerSideSummary = {
  side: Side
  /** Events on chain ÷ the mean backfill seconds. */
  eventsPerSecond: number
  backfillSeconds: number[]
  /** Events on chain ÷ the mean sync seconds (Ponder's own backfill, without its start and the unfinalized tail). */
  syncEventsPerSecond: number
  syncSeconds: number[]
  handlerMsPerEvent: number
  storeOperationsPerEvent: number
  lagP50Ms: number
  lagP99Ms: number
  lagMaxMs: number
  blocksFollowed: number
  loadLagP50Ms: number
  loadLagP99Ms: number
  loadLagMaxMs: number
}

export type IndexerBenchReturnType = {
  /** Events on chain that the indexer handles (its contracts and the gateway's transfers), and the blocks holding them. */
  events: number
  blocks: number
  jobs: number
  jobsPerBlock: number
  runs: IndexerRun[]
  summaries: IndexerSideSummary[]
  /** Ours ÷ the no-op's backfill rate (and over Ponder's own backfill alone); ours ÷ the no-op's lag p50 and p99. */
  backfillRatio: number
  syncRatio: number
  lagP50Ratio: number
  lagP99Ratio: number
  /** Ours ÷ the no-op's lag p50 and p99 under load. */
  loadLagP50Ratio: number
  loadLagP99Ratio: number
  /** Under load: new jobs a block, blocks followed per start, and what a block held on average. */
  load: { jobsPerBlock: number; blocks: number; eventsPerBlock: number }
  /** What the realtime blocks held on average, their pace, and the blocks mined before measuring. */
  realtimeEventsPerBlock: number
  paceMs: number
  warmUpBlocks: number
  pollingIntervalMs: number
  /** Whether Ponder also subscribes to new heads (`webSocketUrlOf`). */
  subscribesToHeads: boolean
  postgres: string
}

/** Every `Contract:Event` that indexer/src registers a handler for, read from the source. */
export function handledEvents(): string[] {
  const dir = path.join(repoRoot, 'indexer', 'src')
  const names = new Set<string>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')))
    for (const match of readFileSync(path.join(dir, file), 'utf8').matchAll(/ponder\.on\(\s*'([A-Za-z]+:[A-Za-z]+)'/g)) names.add(match[1])
  return [...names].sort()
}

/** Throws unless the no-op app handles exactly the events ours does. */
function assertSameEvents(): void {
  const ours = handledEvents()
  const noop = [...indexedEvents].sort()
  if (ours.join() !== noop.join())
    throw new IndexerBenchError('bench/noopIndexer/indexedEvents.ts and indexer/src handle different events', {
      details: `only ours: ${ours.filter((e) => !noop.includes(e as never)).join(', ')}; only the no-op: ${noop.filter((e) => !ours.includes(e)).join(', ')}`,
    })
}

/**
 * How many Ponder events of the indexer a log makes: 1 for an event of `indexedEvents` at its contract's address, 1
 * for a TesseraToken transfer to the gateway and 1 more if it is also from it (one event per filter that matches, as
 * Ponder counts them), 0 for anything else.
 */
function indexedEventCounter(deployment: TestSystem['deployment']): (log: RpcLog) => number {
  const { contracts } = deployment
  const abis: Record<string, { abi: Abi; address: Address }> = {
    ProviderRegistry: { abi: providerRegistryAbi as Abi, address: contracts.ProviderRegistry.address },
    JobMarket: { abi: jobMarketAbi as Abi, address: contracts.JobMarket.address },
    EmissionController: { abi: emissionControllerAbi as Abi, address: contracts.EmissionController.address },
    ChallengeLedger: { abi: challengeLedgerAbi as Abi, address: contracts.ChallengeLedger.address },
  }
  const wanted = new Set<string>()
  for (const name of indexedEvents) {
    const [contract, event] = name.split(':')
    const entry = abis[contract]
    if (!entry) continue
    const item = entry.abi.find((i) => i.type === 'event' && i.name === event)
    if (item?.type !== 'event') throw new IndexerBenchError(`${contract} has no event ${event}`)
    wanted.add(`${entry.address.toLowerCase()}:${toEventSelector(item)}`)
  }
  const token = contracts.TesseraToken.address.toLowerCase()
  const transfer = toEventSelector(getAbiItem({ abi: tesseraTokenAbi, name: 'Transfer' }))
  const gateway = `0x${gatewayAddressOf(deployment).slice(2).toLowerCase().padStart(64, '0')}`
  return (log) => {
    const [topic0, from, to] = log.topics
    if (log.address.toLowerCase() !== token) return Number(wanted.has(`${log.address.toLowerCase()}:${topic0}`))
    return topic0 === transfer ? Number(from === gateway) + Number(to === gateway) : 0
  }
}

/** The events on chain that the indexer handles, and the blocks holding them. */
async function countIndexedEvents(system: TestSystem): Promise<{ events: number; blocks: number }> {
  const count = indexedEventCounter(system.deployment)
  const { contracts } = system.deployment
  const logs = await jsonRpc(system.rpcUrl).call<(RpcLog & { blockNumber: Hex })[]>('eth_getLogs', [
    {
      fromBlock: toHex(system.deployment.startBlock),
      toBlock: 'latest',
      address: [
        contracts.ProviderRegistry,
        contracts.JobMarket,
        contracts.EmissionController,
        contracts.ChallengeLedger,
        contracts.TesseraToken,
      ].map((c) => c.address),
    },
  ])
  let events = 0
  const blocks = new Set<Hex>()
  for (const log of logs) {
    const n = count(log)
    events += n
    if (n) blocks.add(log.blockNumber)
  }
  return { events, blocks: blocks.size }
}

/** The history: `jobs` jobs, `jobsPerBlock` submitted a block, run to the end, then `finalityBlocks` empty blocks. */
async function buildHistory(workload: MarketWorkload, parameters: { jobs: number; jobsPerBlock: number; finalityBlocks: number }) {
  for (let submitted = 0; submitted < parameters.jobs || workload.inFlight() > 0; submitted += parameters.jobsPerBlock) {
    await workload.mineBlock({ newJobs: Math.max(0, Math.min(parameters.jobsPerBlock, parameters.jobs - submitted)), seconds: 2 })
  }
  // Beyond Ponder's finality depth (30 blocks on chains it doesn't know), so the whole history is a backfill.
  await workload.mineEmpty({ count: parameters.finalityBlocks, seconds: 2 })
}

/** Sums of Ponder's Prometheus metrics by name (over every label set), and by name and one label. */
async function ponderMetrics(
  url: string,
): Promise<{ sum: (name: string) => number; byLabel: (name: string, label: string) => Record<string, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const samples = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
      return match ? { name: match[1], labels: match[2] ?? '', value: Number(match[3]) } : undefined
    })
    .filter((s) => s !== undefined)
  return {
    sum: (name) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0),
    byLabel: (name, label) => {
      const out: Record<string, number> = {}
      for (const s of samples.filter((x) => x.name === name)) {
        const value = new RegExp(`${label}="([^"]*)"`).exec(s.labels)?.[1] ?? ''
        out[value] = (out[value] ?? 0) + s.value
      }
      return out
    },
  }
}

/** The block number of the checkpoint an app's schema has committed (its one chain's), -1 before it has one. */
function checkpointReader(client: pg.Client, schema: string): () => Promise<bigint> {
  const sql = `select latest_checkpoint from "${schema}"._ponder_checkpoint`
  // Ponder's checkpoint: 10 digits of block timestamp, 16 of chain id, 16 of block number, then the event's position.
  return async () => {
    const [row] = (await client.query<{ latest_checkpoint: string }>(sql)).rows
    return row ? BigInt(row.latest_checkpoint.slice(26, 42)) : -1n
  }
}

/**
 * The wall-clock gap after the `i`-th block mined: `paceMs` ± 50 ms in a fixed sweep (61 is prime to 100), so the
 * mining never locks to a phase of Ponder's polling and the lags sample every phase of it.
 */
const gapMs = (paceMs: number, i: number) => paceMs - 50 + ((i * 61) % 100)

/**
 * Mines `warmUp` blocks, then `blocks` more, one every {@link gapMs}, each with `newJobs` new jobs and the next step of
 * those in flight, while reading the app's committed checkpoint every 10 ms: the lag of each block after the warm-up from
 * `evm_mine` answering to the first read that shows it indexed (at most one read late). The warm-up fills the
 * pipeline of jobs and lets Ponder leave its first live blocks behind (each app's first one or two take 0.3–0.8 s).
 * Returns the lags and the indexer's events in the measured blocks.
 */
async function followChain(parameters: {
  workload: MarketWorkload
  databaseUrl: string
  schema: string
  warmUp: number
  blocks: number
  paceMs: number
  newJobs: number
  count: (log: RpcLog) => number
}): Promise<{ lagsMs: number[]; events: number }> {
  const client = new pg.Client({ connectionString: parameters.databaseUrl })
  await client.connect()
  const indexed = checkpointReader(client, parameters.schema)
  const seen: { block: bigint; at: number }[] = []
  const mined: { block: bigint; at: number; events: number }[] = []
  let watching = true
  const watcher = (async () => {
    while (watching) {
      const block = await indexed()
      seen.push({ block, at: performance.now() })
      await sleep(10)
    }
  })()
  try {
    for (let i = 0; i < parameters.warmUp + parameters.blocks; i++) {
      const start = performance.now()
      const block = await parameters.workload.mineBlock({ newJobs: parameters.newJobs, seconds: 1 })
      const events = block.logs.reduce((a, log) => a + parameters.count(log), 0)
      if (i >= parameters.warmUp) mined.push({ block: block.number, at: block.minedAt, events })
      await sleep(Math.max(0, gapMs(parameters.paceMs, i) - (performance.now() - start)))
    }
    const last = mined.at(-1)?.block ?? 0n
    const deadline = performance.now() + 10_000
    while ((seen.at(-1)?.block ?? -1n) < last) {
      if (performance.now() > deadline) throw new IndexerBenchError(`${parameters.schema} did not index block ${last} within 10 s`)
      await sleep(10)
    }
  } finally {
    watching = false
    await watcher
    await client.end()
  }
  const lagsMs = mined.map(({ block, at }) => {
    const first = seen.find((s) => s.block >= block && s.at >= at)
    if (!first) throw new IndexerBenchError(`block ${block} was never seen indexed`)
    return first.at - at
  })
  return { lagsMs, events: mined.reduce((a, m) => a + m.events, 0) }
}

/**
 * Seconds from spawning Ponder to the first line of its log matching each pattern (`undefined` for one not seen yet),
 * and a log function for {@link startPonder} that watches for them (and prints every line with `TESSERA_BENCH_VERBOSE`).
 */
function logClock(side: Side, patterns: Record<string, RegExp>) {
  const t0 = performance.now()
  const seen: Record<string, number> = {}
  const log = (line: string) => {
    for (const [name, pattern] of Object.entries(patterns))
      if (seen[name] === undefined && pattern.test(line)) seen[name] = (performance.now() - t0) / 1000
    if (process.env.TESSERA_BENCH_VERBOSE) console.log(`[${side}] ${line}`)
  }
  return { t0, seen, log }
}

/**
 * One start of `side`: its backfill timed, its metrics read, then `blocks` blocks followed, then `load.blocks` under
 * load; Ponder stopped after.
 */
async function runSide(parameters: {
  side: Side
  system: TestSystem
  workload: MarketWorkload
  databaseUrl: string
  deploymentPath: string
  run: number
  warmUp: number
  blocks: number
  paceMs: number
  load: LoadPlan
}): Promise<IndexerRun> {
  const { side, system, workload, databaseUrl } = parameters
  await clearPonderSyncStore({ databaseUrl, chainId: system.deployment.chainId })
  const schema = `bench_${side === 'ours' ? 'ours' : 'noop'}_${parameters.run}_${Date.now().toString(36)}`
  const clock = logClock(side, { started: /Started backfill indexing/, completed: /Completed backfill indexing/ })
  let ponder: StartPonderReturnType | undefined
  try {
    ponder = await startPonder({
      databaseUrl,
      rpcUrl: system.rpcUrl,
      chainId: system.deployment.chainId,
      deploymentPath: parameters.deploymentPath,
      schema,
      viewsSchema: apps[side].viewsSchema,
      root: apps[side].root,
      port: await freePort(),
      readyTimeoutMs: 300_000,
      log: clock.log,
    })
    const backfillSeconds = (performance.now() - clock.t0) / 1000
    const { started, completed } = clock.seen
    if (started === undefined || completed === undefined) throw new IndexerBenchError(`${side}: Ponder never logged its backfill`)
    const metrics = await ponderMetrics(ponder.url)
    const restore = await workload.snapshot()
    const count = indexedEventCounter(system.deployment)
    const followed = await followChain({ ...parameters, schema, count, newJobs: 1 })
    const { jobsPerBlock, ...load } = parameters.load
    const loaded = await followChain({ ...parameters, ...load, schema, count, newJobs: jobsPerBlock })
    await ponder.stop()
    await restore()
    return {
      side,
      backfillSeconds,
      syncSeconds: completed - started,
      indexedEvents: metrics.sum('ponder_indexing_completed_events'),
      handlerMs: metrics.sum('ponder_indexing_function_duration_sum'),
      storeOperations: metrics.byLabel('ponder_indexing_store_queries_total', 'method'),
      lagsMs: followed.lagsMs,
      realtimeEvents: followed.events,
      loadLagsMs: loaded.lagsMs,
      loadEvents: loaded.events,
    }
  } finally {
    await ponder?.stop()
  }
}

/** Per side: the mean backfill rate over its runs, and the lag quantiles over all its blocks. */
function summarize(runs: IndexerRun[], events: number): IndexerSideSummary[] {
  return (['ours', 'no-op'] as const).map((side) => {
    const mine = runs.filter((r) => r.side === side)
    const seconds = mine.map((r) => r.backfillSeconds)
    const syncSeconds = mine.map((r) => r.syncSeconds)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    const lags = mine.flatMap((r) => r.lagsMs)
    const loadLags = mine.flatMap((r) => r.loadLagsMs)
    const operations = mine.reduce((a, r) => a + Object.values(r.storeOperations).reduce((x, y) => x + y, 0), 0)
    return {
      side,
      eventsPerSecond: events / mean(seconds),
      backfillSeconds: seconds,
      syncEventsPerSecond: events / mean(syncSeconds),
      syncSeconds,
      handlerMsPerEvent: mine.reduce((a, r) => a + r.handlerMs, 0) / (events * mine.length),
      storeOperationsPerEvent: operations / (events * mine.length),
      lagP50Ms: quantile(lags, 0.5),
      lagP99Ms: quantile(lags, 0.99),
      lagMaxMs: Math.max(...lags),
      blocksFollowed: lags.length,
      loadLagP50Ms: quantile(loadLags, 0.5),
      loadLagP99Ms: quantile(loadLags, 0.99),
      loadLagMaxMs: Math.max(...loadLags),
    }
  })
}

/** `select version()`, shortened to its first two words ("PostgreSQL 15.20"). */
async function postgresVersion(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ version: string }>('select version()')
    return rows[0].version.split(' ').slice(0, 2).join(' ')
  } finally {
    await client.end()
  }
}

/**
 * The blocks followed under load: `jobsPerBlock` new jobs each, a block a second (the devnet's pace under load), after
 * `warmUp` blocks that fill the pipeline (a job's steps take four blocks).
 */
type LoadPlan = { jobsPerBlock: number; blocks: number; warmUp: number; paceMs: number }

/**
 * Builds the history (`jobs`, by default `TESSERA_BENCH_INDEXER_JOBS` or 1,000, `jobsPerBlock` a block), then runs
 * ours and the no-op in blocks A B B A, each backfilling it and then following `blocks` blocks mined every `paceMs`
 * (after `warmUp` more), then `load.blocks` blocks of `load.jobsPerBlock` new jobs (default 50: the target's 50 jobs/s). Throws `IndexerBenchError` when an app's backfill counted other events than the chain holds.
 */
export async function indexerBench(
  parameters: {
    jobs?: number
    jobsPerBlock?: number
    warmUp?: number
    blocks?: number
    paceMs?: number
    load?: { jobsPerBlock?: number; blocks?: number }
  } = {},
): Promise<IndexerBenchReturnType> {
  assertSameEvents()
  const jobs = parameters.jobs ?? Number.parseInt(process.env.TESSERA_BENCH_INDEXER_JOBS ?? '1000', 10)
  const jobsPerBlock = parameters.jobsPerBlock ?? 25
  const load: LoadPlan = {
    jobsPerBlock: parameters.load?.jobsPerBlock ?? 50,
    blocks: parameters.load?.blocks ?? 20,
    warmUp: 5,
    paceMs: 1000,
  }
  const follow = { warmUp: parameters.warmUp ?? 5, blocks: parameters.blocks ?? 40, paceMs: parameters.paceMs ?? 500, load }
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-indexer-'))
  const deploymentPath = path.join(tmpDir, 'deployment.json')
  const database = await createTestDatabase()
  let system: TestSystem | undefined
  try {
    system = await startTestSystem({ out: deploymentPath })
    const workload = await marketWorkload({ system })
    await buildHistory(workload, { jobs, jobsPerBlock, finalityBlocks: 40 })
    const { events, blocks } = await countIndexedEvents(system)
    const runs: IndexerRun[] = []
    for (const [run, side] of (['ours', 'no-op', 'no-op', 'ours'] as const).entries()) {
      const result = await runSide({ side, system, workload, databaseUrl: database.url, deploymentPath, run, ...follow })
      if (result.indexedEvents !== events)
        throw new IndexerBenchError(`${side} indexed ${result.indexedEvents} events in its backfill, the chain holds ${events}`)
      runs.push(result)
    }
    const summaries = summarize(runs, events)
    const [ours, noop] = summaries
    return {
      events,
      blocks,
      jobs,
      jobsPerBlock,
      runs,
      summaries,
      backfillRatio: ours.eventsPerSecond / noop.eventsPerSecond,
      syncRatio: ours.syncEventsPerSecond / noop.syncEventsPerSecond,
      lagP50Ratio: ours.lagP50Ms / noop.lagP50Ms,
      lagP99Ratio: ours.lagP99Ms / noop.lagP99Ms,
      loadLagP50Ratio: ours.loadLagP50Ms / noop.loadLagP50Ms,
      loadLagP99Ratio: ours.loadLagP99Ms / noop.loadLagP99Ms,
      load: {
        jobsPerBlock: load.jobsPerBlock,
        blocks: load.blocks,
        eventsPerBlock: runs.reduce((a, r) => a + r.loadEvents, 0) / runs.reduce((a, r) => a + r.loadLagsMs.length, 0),
      },
      realtimeEventsPerBlock: runs.reduce((a, r) => a + r.realtimeEvents, 0) / runs.reduce((a, r) => a + r.lagsMs.length, 0),
      paceMs: follow.paceMs,
      warmUpBlocks: follow.warmUp,
      pollingIntervalMs: pollingIntervalOf(system.deployment.chainId),
      subscribesToHeads: webSocketUrlOf(system.deployment.chainId, system.rpcUrl) !== undefined,
      postgres: await postgresVersion(database.url),
    }
  } finally {
    await system?.stop()
    await database.drop()
    await rm(tmpDir, { recursive: true, force: true })
  }
}

/** The BENCHMARKS.md section of a run. */
export function indexerSection(bench: IndexerBenchReturnType): string[] {
  const cpu = cpus()
  const [ours, noop] = bench.summaries
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const ms = (x: number) => x.toFixed(0)
  const seconds = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ')
  const row = (s: IndexerSideSummary) =>
    `| ${s.side} | ${seconds(s.backfillSeconds)} | ${n(s.eventsPerSecond)} | ${seconds(s.syncSeconds)} | ${n(s.syncEventsPerSecond)} | ` +
    `${s.handlerMsPerEvent.toFixed(3)} | ${s.storeOperationsPerEvent.toFixed(2)} | ${ms(s.lagP50Ms)} | ${ms(s.lagP99Ms)} | ${ms(s.lagMaxMs)} |`
  const backfillMet = bench.backfillRatio >= 0.8
  const lagMet = ours.lagP99Ms <= 300
  const loadLagMet = ours.loadLagP99Ms <= 300
  const loadRow = (s: IndexerSideSummary) => `| ${s.side} | ${ms(s.loadLagP50Ms)} | ${ms(s.loadLagP99Ms)} | ${ms(s.loadLagMaxMs)} |`
  return [
    '## Indexer: backfill and realtime lag against a no-op Ponder app',
    '',
    'Time, so ratios: our indexer (`indexer/`) against a no-op Ponder app (`bench/noopIndexer/`: the indexer’s own ' +
      'config, so the same chain, contracts, ABIs, start blocks, filters and chain settings, a one-table schema and an ' +
      `empty handler for each of the ${indexedEvents.length} events ours handles) on one anvil, in blocks A B B A (ours, ` +
      `no-op, no-op, ours), measured on ${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ` +
      `${process.versions.node}, ${bench.postgres}, ${new Date().toISOString().slice(0, 10)}, by \`npx tsx bench/indexer.ts\`. ` +
      `The chain holds a marketplace history (\`bench/indexerWorkload.ts\`): ${n(bench.jobs)} jobs, ${bench.jobsPerBlock} ` +
      'submitted a block, each assigned to 2 or 3 providers, committed and revealed a block per step, the last reveal ' +
      'settling it (every tenth cancelled instead), epochs closed and claimed, fees withdrawn, asks updated, deposits to the gateway: ' +
      `**${n(bench.events)} events** the indexer handles in ${n(bench.blocks)} blocks, then 40 empty blocks, so all of ` +
      'it lies beyond Ponder’s finality depth (30).',
    '',
    '**Backfill**: each start on a fresh schema with Ponder’s sync store cleared, so each app fetches the chain itself ' +
      'as on a first start; timed from spawning Ponder until its `/status` shows the head (events/s: the events on ' +
      'chain over that time, over the mean of the two starts), and over Ponder’s own backfill alone, from its ' +
      '“Started backfill indexing” to its “Completed backfill indexing” (fetching and indexing the finalized range: ' +
      'without the process start and build, and the unfinalized tail). Handler time and store operations per event: ' +
      'Ponder’s metrics (`ponder_indexing_function_duration`, `ponder_indexing_store_queries_total`) over the backfill. ' +
      'Both apps’ backfills are mostly Ponder’s own: its JSON-RPC client paces itself per endpoint (20 requests a second ' +
      'at first, raised by 5 % at a time once saturated), and on the devnet both are given the RPC URL ten times over ' +
      '(`rpcEndpointsOf`), so the pace no longer bounds them; the fetched blocks, transactions and logs go through its ' +
      'sync store.',
    '',
    `**Realtime**: each app then follows ${bench.summaries[0].blocksFollowed / 2} blocks (after ${bench.warmUpBlocks} ` +
      `not counted: Ponder’s first live blocks take up to a second), mined ${bench.paceMs - 50}–${bench.paceMs + 50} ms apart ` +
      `in a fixed sweep so the mining never locks to Ponder’s polling phase, ${bench.realtimeEventsPerBlock.toFixed(1)} ` +
      'indexer events a block on average (a job submitted each block, and the next step of those in flight). Lag: from ' +
      '`evm_mine` answering to the block’s checkpoint read committed in the app’s `_ponder_checkpoint` table, polled ' +
      'over a Postgres connection of the bench every 10 ms (not `/status`, which would load the app’s own event loop), ' +
      `so at most ~10 ms late; the chain is reverted to the history’s end afterwards. Ponder polls the devnet every ${bench.pollingIntervalMs} ms` +
      (bench.subscribesToHeads
        ? ' and subscribes to its new heads over anvil’s WebSocket, so a block reaches it as it is mined (`indexer/pollingInterval.ts`, patches/ponder).'
        : ' (`indexer/pollingInterval.ts`).'),
    '',
    '| app | backfill (s, each start) | events/s | Ponder’s backfill (s) | events/s | handler (ms/event) | store ops/event | lag p50 (ms) | lag p99 (ms) | lag max (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    row(ours),
    row(noop),
    `| **ours ÷ no-op** | | **${bench.backfillRatio.toFixed(2)}** | | **${bench.syncRatio.toFixed(2)}** | | | ` +
      `${bench.lagP50Ratio.toFixed(2)} | ${bench.lagP99Ratio.toFixed(2)} | |`,
    '',
    `**Realtime under load**: each app then follows ${bench.load.blocks} more blocks (after 5 that fill the pipeline), ` +
      `mined a second apart as the devnet mines under load, each with ${bench.load.jobsPerBlock} new jobs and the next ` +
      `step of those in flight: ${bench.load.eventsPerBlock.toFixed(0)} indexer events a block on average, the blocks ` +
      `of ${bench.load.jobsPerBlock} jobs a second. Lag measured as above.`,
    '',
    '| app | lag p50 (ms) | lag p99 (ms) | lag max (ms) |',
    '| --- | ---: | ---: | ---: |',
    loadRow(ours),
    loadRow(noop),
    `| **ours ÷ no-op** | ${bench.loadLagP50Ratio.toFixed(2)} | ${bench.loadLagP99Ratio.toFixed(2)} | |`,
    '',
    `Targets: backfill ≥ 0.8× the no-op’s rate: ${backfillMet ? 'met' : '**not met**'} (${bench.backfillRatio.toFixed(2)}× from ` +
      `spawn to head, ${bench.syncRatio.toFixed(2)}× over Ponder’s own backfill); realtime lag p99 ≤ 300 ms: ` +
      `${lagMet ? 'met' : '**not met**'} (ours ${ms(ours.lagP99Ms)} ms, the no-op ${ms(noop.lagP99Ms)} ms); under load ` +
      `${loadLagMet ? 'met' : '**not met**'} (ours ${ms(ours.loadLagP99Ms)} ms, the no-op ${ms(noop.loadLagP99Ms)} ms).` +
      (noop.loadLagP99Ms > 300
        ? ' Under load the no-op app misses it too: with empty handlers, what Ponder itself takes to fetch, check and ' +
          `commit ${bench.load.eventsPerBlock.toFixed(0)} events a block is already more than 300 ms at p99 on this machine.`
        : ''),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await indexerBench()
  writeSection(benchmarksFile, indexerSection(bench))
  const rounded = bench.runs.map(({ lagsMs, loadLagsMs, ...r }) => ({
    ...r,
    lagsMs: lagsMs.map(Math.round),
    loadLagsMs: loadLagsMs.map(Math.round),
  }))
  console.log(JSON.stringify({ ...bench, runs: rounded }, null, 2))
  process.exit(0)
}
