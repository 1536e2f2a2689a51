import { setMaxListeners } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pino, { type Logger } from 'pino'
import { type Address, createPublicClient, createWalletClient, type Hex, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { fetchDeployment, sendHeartbeat } from '../client/serverClient.ts'
import { subscribeJobAssignments } from '../client/subscribeJobAssignments.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import type { Hardware } from '../protocol/hardware.ts'
import { encodeRegion } from '../protocol/region.ts'
import { retry, sleep } from '../protocol/retry.ts'
import { startAgentHttp } from './agentHttp.ts'
import { createAgentMetrics } from './agentMetrics.ts'
import { detectHardware } from './detectHardware.ts'
import { AgentSetupError, ensureProvider } from './ensureProvider.ts'
import { InferencePool } from './inferencePool.ts'
import { followEntry, type JobContext, processAssignment } from './jobWorkflow.ts'
import { Journal } from './journal.ts'
import { ModelCache } from './modelCache.ts'
import { buildMlp, makeInput } from './models/buildMlp.ts'
import { TxSender } from './txSender.ts'

export type RunAgentParameters = {
  /** The provider's key: it registers, stakes, signs heartbeats and sends commits and reveals. */
  privateKey: Hex
  serverUrl: string
  rpcUrl: string
  /** Model cache and commit–reveal journal. One per provider key. */
  dataDir: string
  /** Ask per unit, TSR wei. */
  pricePerUnit: bigint
  /** Stake to hold, TSR wei; default the registry's minStake × 10. */
  stake?: bigint
  /** Overrides for detected hardware (flags), e.g. `vramMiB` on a CPU machine or a fixed `benchmarkScore`. */
  hardware?: Partial<Hardware>
  /** Region label (≤ 32 bytes) or a 0x bytes32. */
  region?: string
  /** Corrupt every output far above the tolerance (tests the verification). */
  lie?: boolean
  log?: Logger
  /** Aborting it stops the agent, as `stop()` does. */
  signal?: AbortSignal
  /** Serve `/health`, `/ready`, `/metrics` on this port (0: any free one). Off when absent. */
  httpPort?: number
  /** Default 10 000. */
  heartbeatIntervalMs?: number
  /** How often a job in flight re-reads its status on chain. Default 1000. */
  pollIntervalMs?: number
  /** Inference worker threads. Default 1. */
  inferenceWorkers?: number
  /** How long to keep trying to reach the server for the deployment at start. Default 60 000. */
  startupTimeoutMs?: number
  /** How often to re-check registration and top the stake back up (after a slash, say). Default 60 000. */
  maintenanceIntervalMs?: number
}

export type RunAgentReturnType = {
  address: Address
  hardware: Hardware
  /** Base URL of `/health`, `/ready`, `/metrics` when `httpPort` was given. */
  httpUrl?: string
  /** Stops subscribing and heartbeating, lets jobs in flight reach a safe point, closes the pool and journal. */
  stop: () => Promise<void>
}

/** Measures inference throughput (rows per second) on a small MLP in the pool. */
async function benchmarkThroughput(pool: InferencePool): Promise<number> {
  const model = buildMlp({ seed: 1, inputSize: 16, hiddenSize: 32, outputSize: 8 })
  const rows = 1024
  const input = makeInput({ seed: 1, rows, inputSize: 16 })
  const run = () => pool.run({ modelHash: sha256Hex(model), modelBytes: model, input, dims: [rows, 16] })
  await run()
  const runs = 5
  const started = performance.now()
  for (let i = 0; i < runs; i++) await run()
  return (rows * runs) / ((performance.now() - started) / 1000)
}

/**
 * The benchmark, measured once per data dir and kept in `<dataDir>/benchmark.json`: a fresh measurement on
 * every start would differ a little each time and cost a `ProviderRegistry.update` transaction per restart.
 */
async function cachedBenchmark(dataDir: string, pool: InferencePool, log: Logger): Promise<number> {
  const file = path.join(dataDir, 'benchmark.json')
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { rowsPerSecond?: unknown }
    if (typeof saved.rowsPerSecond === 'number' && saved.rowsPerSecond > 0) return saved.rowsPerSecond
  } catch {}
  const rowsPerSecond = Math.round(await benchmarkThroughput(pool))
  await mkdir(dataDir, { recursive: true })
  await writeFile(file, `${JSON.stringify({ rowsPerSecond, measuredAt: new Date().toISOString() })}\n`)
  log.info({ rowsPerSecond }, 'inference benchmark measured')
  return rowsPerSecond
}

function fetchDeploymentRetrying(serverUrl: string, timeoutMs: number, signal: AbortSignal, log: Logger): Promise<Deployment> {
  return retry(() => fetchDeployment({ serverUrl, signal }), {
    untilMs: Date.now() + timeoutMs,
    signal,
    onRetry: (error) => log.warn({ err: error }, 'waiting for the server'),
  })
}

/**
 * Persists the subscription cursor only past assignments that are safe to skip on replay: cursors are
 * settled out of order by concurrent jobs, and the journal's cursor advances over the settled prefix.
 */
class CursorTracker {
  private readonly queue: { cursor: string; settled: boolean }[] = []
  lastReceived: string | undefined
  constructor(
    private readonly journal: Journal,
    private readonly log: Logger,
  ) {}

  add(cursor: string): () => void {
    const item = { cursor, settled: false }
    this.queue.push(item)
    this.lastReceived = cursor
    return () => {
      if (item.settled) return
      item.settled = true
      let last: string | undefined
      while (this.queue[0]?.settled) last = this.queue.shift()?.cursor
      if (last !== undefined) this.journal.setCursor(last).catch((error) => this.log.error({ err: error }, 'cannot persist cursor'))
    }
  }
}

/**
 * Runs a provider agent: reads the deployment from the server, detects hardware, registers and stakes
 * (idempotently), heartbeats, follows its `jobAssignments` subscription, and for each assignment
 * downloads and verifies the model and input, runs inference in a worker pool, uploads the output,
 * journals (fsync) and commits, then reveals once the job is Committed. A restart resumes every
 * unfinished journal entry and replays assignments after the journal's cursor.
 */
export async function runAgent(parameters: RunAgentParameters): Promise<RunAgentReturnType> {
  const account = privateKeyToAccount(parameters.privateKey)
  const address = account.address
  const log = (parameters.log ?? pino({ name: 'tessera-agent' })).child({ provider: address })
  const controller = new AbortController()
  const { signal } = controller
  // Every job in flight waits on this signal: many listeners are expected, not a leak.
  setMaxListeners(0, signal)
  const onOuterAbort = () => void stop()
  if (parameters.signal?.aborted) throw new AgentSetupError('aborted before start')
  parameters.signal?.addEventListener('abort', onOuterAbort, { once: true })

  const metrics = createAgentMetrics()
  const pollIntervalMs = parameters.pollIntervalMs ?? 1000
  const heartbeatIntervalMs = parameters.heartbeatIntervalMs ?? 10_000
  const cleanups: (() => Promise<void>)[] = []
  const background: Promise<unknown>[] = []
  const active = new Map<string, Promise<void>>()
  let ready = false
  let subscribed = false
  let stopping: Promise<void> | undefined

  function stop(): Promise<void> {
    stopping ??= (async () => {
      controller.abort()
      parameters.signal?.removeEventListener('abort', onOuterAbort)
      await Promise.allSettled(background)
      await Promise.allSettled([...active.values()])
      for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => log.warn({ err: error }, 'cleanup failed'))
      metrics.subscriptionConnected.set(0)
      log.info('agent stopped')
    })()
    return stopping
  }

  try {
    const deployment = await fetchDeploymentRetrying(parameters.serverUrl, parameters.startupTimeoutMs ?? 60_000, signal, log)
    const region = encodeRegion(parameters.region)
    const chain = chainOf(deployment.chainId, parameters.rpcUrl)
    const transport = http(parameters.rpcUrl, { retryCount: 3 })
    const pollingInterval = Math.min(500, pollIntervalMs)
    const publicClient = createPublicClient({ chain, transport, pollingInterval }) as PublicClient
    const walletClient = createWalletClient({ chain, transport, account, pollingInterval })
    const rpcChainId = await publicClient.getChainId()
    if (rpcChainId !== deployment.chainId)
      throw new AgentSetupError(
        `RPC ${parameters.rpcUrl} serves chain ${rpcChainId} but the server's deployment is on chain ${deployment.chainId}`,
      )
    // One journal per deployment: a devnet restarted from scratch reuses chain id and addresses, but not the
    // hash of the block the JobMarket was deployed in, and its job ids and feed cursors mean other things.
    const marketBlock = await publicClient.getBlock({ blockNumber: BigInt(deployment.contracts.JobMarket.blockNumber) })
    const journalName = `journal-${deployment.chainId}-${deployment.contracts.JobMarket.address.slice(2, 10).toLowerCase()}-${marketBlock.hash.slice(2, 10)}.jsonl`
    const journal = await Journal.open({ dataDir: parameters.dataDir, name: journalName })
    cleanups.push(() => journal.close())
    const sender = new TxSender(publicClient, walletClient, account, log, (fn, result) =>
      metrics.transactions.inc({ function: fn, result }),
    )

    const pool = new InferencePool({ size: parameters.inferenceWorkers ?? 1 })
    cleanups.push(() => pool.close())
    const hardware = await detectHardware({
      overrides: parameters.hardware,
      epochLength: deployment.params.emission.epochLength,
      benchmark: () => cachedBenchmark(parameters.dataDir, pool, log),
    })
    log.info({ hardware, chainId: deployment.chainId }, 'hardware detected')

    const ensure = () =>
      ensureProvider({
        publicClient,
        sender,
        provider: address,
        registry: deployment.contracts.ProviderRegistry.address,
        token: deployment.contracts.TesseraToken.address,
        hardware,
        pricePerUnit: parameters.pricePerUnit,
        region,
        stake: parameters.stake,
        log,
      })
    const setup = await ensure()
    log.info({ registered: setup.registered, stake: setup.stake.toString(), staked: setup.staked.toString() }, 'provider ready on chain')

    let httpUrl: string | undefined
    if (parameters.httpPort !== undefined) {
      const http = await startAgentHttp({
        port: parameters.httpPort,
        registry: metrics.registry,
        ready: () => ready && subscribed,
        status: () => ({ provider: address, subscribed, activeJobs: active.size }),
      })
      cleanups.push(http.close)
      httpUrl = http.url
    }

    const ctx: JobContext = {
      provider: address,
      serverUrl: parameters.serverUrl,
      jobMarket: deployment.contracts.JobMarket.address,
      publicClient,
      sender,
      journal,
      pool,
      models: new ModelCache({ dataDir: parameters.dataDir, serverUrl: parameters.serverUrl }),
      metrics,
      log,
      lie: parameters.lie ?? false,
      pollIntervalMs,
      signal,
    }

    // One chain of work per job id: a new round of the same job waits for the previous one to wind down.
    const schedule = (jobId: string, work: () => Promise<void>) => {
      const previous = active.get(jobId) ?? Promise.resolve()
      const next: Promise<void> = previous
        .then(work)
        .catch((error) => log.error({ jobId, err: error }, 'job handler crashed'))
        .finally(() => {
          if (active.get(jobId) === next) active.delete(jobId)
          metrics.activeJobs.set(active.size)
        })
      active.set(jobId, next)
      metrics.activeJobs.set(active.size)
    }

    const unfinished = journal.unfinished()
    if (unfinished.length) log.info({ jobs: unfinished.map((e) => e.jobId) }, 'resuming journaled jobs')
    for (const entry of unfinished) schedule(entry.jobId, async () => void (await followEntry(ctx, entry)))

    background.push(
      (async () => {
        while (!signal.aborted) {
          try {
            await sendHeartbeat({
              serverUrl: parameters.serverUrl,
              provider: address,
              sign: (message) => account.signMessage({ message }),
              signal,
            })
            metrics.heartbeats.inc({ result: 'ok' })
          } catch (error) {
            if (signal.aborted) break
            metrics.heartbeats.inc({ result: 'error' })
            log.warn({ err: error }, 'heartbeat failed')
          }
          await sleep(heartbeatIntervalMs, signal)
        }
      })(),
    )

    // Slashes and unbonding eat into the stake while the agent runs: top it back up, re-register if needed.
    background.push(
      (async () => {
        for (;;) {
          await sleep(parameters.maintenanceIntervalMs ?? 60_000, signal)
          if (signal.aborted) break
          try {
            const result = await ensure()
            if (result.staked > 0n || result.registered !== 'unchanged' || result.unpaused)
              log.info(
                { staked: result.staked.toString(), registered: result.registered, unpaused: result.unpaused },
                'provider maintained',
              )
          } catch (error) {
            log.warn({ err: error }, 'provider maintenance failed')
          }
        }
      })(),
    )

    const cursors = new CursorTracker(journal, log)
    let cursorRejected = false
    background.push(
      (async () => {
        const stream = subscribeJobAssignments({
          serverUrl: parameters.serverUrl,
          provider: address,
          // After a reconnect, jobs already received are still in hand: resume after the newest one.
          cursor: () => (cursorRejected ? cursors.lastReceived : (cursors.lastReceived ?? journal.cursor)),
          signal,
          onInvalidCursor: (error) => {
            log.warn({ cursor: cursors.lastReceived ?? journal.cursor, err: error }, 'server refused the cursor; replaying from the start')
            cursorRejected = true
            cursors.lastReceived = undefined
            void journal.clearCursor().catch(() => {})
          },
          onConnect: () => {
            subscribed = true
            metrics.subscriptionConnected.set(1)
            log.info({ cursor: cursors.lastReceived ?? journal.cursor ?? null }, 'subscribed to assignments')
          },
          onDisconnect: (error) => {
            subscribed = false
            metrics.subscriptionConnected.set(0)
            metrics.subscriptionReconnects.inc()
            log.warn({ err: error }, 'assignment stream lost, reconnecting')
          },
        })
        for await (const assignment of stream) {
          if (assignment.provider.toLowerCase() !== address.toLowerCase()) continue
          metrics.assignments.inc()
          log.info(
            {
              jobId: assignment.jobId,
              slot: assignment.slot,
              units: assignment.job.units,
              commitDeadline: assignment.commitDeadline,
              cursor: assignment.cursor,
            },
            'assignment received',
          )
          const settle = cursors.add(assignment.cursor)
          schedule(assignment.jobId, () => processAssignment(ctx, assignment, settle))
        }
      })().catch((error) => log.error({ err: error }, 'subscription loop crashed')),
    )
    ready = true
    log.info({ httpUrl, pricePerUnit: parameters.pricePerUnit.toString(), lie: parameters.lie || undefined }, 'agent running')
    return { address, hardware, httpUrl, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
