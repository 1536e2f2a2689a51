import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { parseSse } from '../client/subscribeJobAssignments.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { freePort } from '../devnet/startAnvil.ts'
import { fund, registerProvider, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import type { StartPonderReturnType } from '../indexer/startPonder.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { waitFor } from './support/graphql.ts'
import { approveAndSubmitJob, sendHeartbeat, uploadRunnableJob } from './support/market.ts'
import { startTestPonder } from './support/stack.ts'

// Two server replicas as separate processes on one database, no Redis: live events go through Postgres
// LISTEN/NOTIFY. Each provider has a subscriber on each replica. The leader is SIGKILLed while a job is being
// assigned; the other replica must take over within 10 s, and every subscriber must get every assignment of its
// provider exactly once: those on the survivor live on the connection they opened first, those on the killed
// replica by resuming from their cursor on the survivor.

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const viewsSchema = 'chain_failover_test'
const verbose = !!process.env.TESSERA_TEST_VERBOSE

type Replica = { name: string; url: string; child: ChildProcess; output: string[]; exited: Promise<number | null> }

let system: TestSystem
let database: TestDatabase
let ponder: StartPonderReturnType
let tmpDir: string
let deploymentPath: string
const replicas: Replica[] = []
let stopping = false

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-failover-'))
  deploymentPath = path.join(tmpDir, 'deployment.json')
  system = await startTestSystem({ out: deploymentPath })
  for (const [i, p] of system.accounts.providers.entries())
    await registerProvider(system, p, { pricePerUnit: (TSR / 100n) * BigInt(i + 1) })
  await fund(system, system.accounts.requesters[0].address, 1000n * TSR)
  database = await createTestDatabase()
  ponder = await startTestPonder(system, { databaseUrl: database.url, deploymentPath, viewsSchema })
}, 240_000)

afterAll(async () => {
  stopping = true
  for (const r of replicas) r.child.kill('SIGTERM')
  await Promise.all(replicas.map((r) => r.exited))
  await ponder?.stop()
  await system?.stop()
  await database?.drop()
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true })
})

/** Runs `server/main.ts` as its own process, configured from the environment as in production, without REDIS_URL. */
async function spawnServer(name: string, env: Record<string, string> = {}): Promise<Replica> {
  const port = await freePort()
  const { REDIS_URL: _, ...inherited } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: repoRoot,
    env: {
      ...inherited,
      DATABASE_URL: database.url,
      TESSERA_VIEWS_SCHEMA: viewsSchema,
      TESSERA_RPC_URL: system.rpcUrl,
      TESSERA_DEPLOYMENT: deploymentPath,
      TESSERA_SERVER_KEY: devKeys[1],
      TESSERA_SERVER_PORT: String(port),
      // Replicas share one blob store (a shared volume here, an object store in production): any of them serves any blob.
      TESSERA_DATA_DIR: path.join(tmpDir, 'shared'),
      TESSERA_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue
      output.push(line)
      if (verbose) console.log(`[${name}] ${line}`)
    }
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  // Whatever way this test process ends, the replica ends with it.
  const kill = () => child.kill('SIGKILL')
  process.once('exit', kill)
  void exited.then(() => process.off('exit', kill))
  const replica = { name, url: `http://127.0.0.1:${port}`, child, output, exited }
  replicas.push(replica)
  return replica
}

async function ready(replica: Replica) {
  await waitFor(
    `${replica.name} to be ready`,
    async () => {
      if (replica.child.exitCode !== null) throw new Error(`${replica.name} exited: ${replica.output.slice(-5).join('\n')}`)
      return (await fetch(`${replica.url}/ready`)).ok || undefined
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
}

async function isLeader(replica: Replica): Promise<boolean> {
  const metrics = await (await fetch(`${replica.url}/metrics`)).text()
  return /^tessera_server_leader 1$/m.test(metrics)
}

type Received = { key: string; jobId: string; connection: number; at: number }

/**
 * A provider's agent as far as assignments go: subscribes over SSE to `urls[0]`, and whenever the stream ends or
 * fails resumes from its last cursor on the next URL, as an agent behind a load balancer would.
 */
function subscribe(provider: Address, urls: string[]) {
  const received: Received[] = []
  const controller = new AbortController()
  let cursor: string | undefined
  let connections = 0
  const query = `subscription($p: Address!, $after: String) { jobAssignments(provider: $p, after: $after) { cursor jobId provider round } }`
  const done = (async () => {
    while (!controller.signal.aborted && !stopping) {
      const url = urls[connections % urls.length]
      connections++
      try {
        const res = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query, variables: { p: provider, after: cursor ?? null } }),
          signal: controller.signal,
        })
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
        for await (const { event, data } of parseSse(res.body)) {
          if (event !== 'next') continue
          const payload = JSON.parse(data) as {
            data?: { jobAssignments: { cursor: string; jobId: string; provider: Address; round: number } }
          }
          const a = payload.data?.jobAssignments
          if (!a) throw new Error(`subscription error: ${data}`)
          cursor = a.cursor
          received.push({
            key: `${a.jobId}:${a.provider.toLowerCase()}:${a.round}`,
            jobId: a.jobId,
            connection: connections,
            at: Date.now(),
          })
        }
      } catch {
        // The replica went away (or refused): resume on the next one.
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  })()
  return {
    provider,
    received,
    connections: () => connections,
    close: async () => {
      controller.abort()
      await done
    },
  }
}

/** Submits a k=3 job (so each of the three providers gets a slot) and returns its id. */
async function submitJob(blobs: { modelHash: Hex; inputHash: Hex }): Promise<bigint> {
  const spec = { ...blobs, minVramMiB: 8192, regions: [encodeRegion('eu')], redundancy: 3 }
  const { jobId } = await approveAndSubmitJob(system, system.accounts.requesters[0], spec)
  return jobId
}

test('two replicas, no Redis: the leader SIGKILLed mid-assignment is replaced in 10 s; no subscriber misses or repeats one', async () => {
  const a = await spawnServer('a')
  await ready(a)
  await waitFor('a to lead', async () => (await isLeader(a)) || undefined, { timeoutMs: 10_000, intervalMs: 100 })
  const b = await spawnServer('b')
  await ready(b)
  expect(await isLeader(b)).toBe(false)

  // A replica on another bus than the running ones refuses to start (a closed Redis port: the refusal comes first).
  const c = await spawnServer('c', { REDIS_URL: 'redis://127.0.0.1:1' })
  expect(await c.exited).toBe(1)
  expect(c.output.join('\n')).toMatch(/ServerConfigError.*Give every replica the same REDIS_URL, or none/)

  const providers = system.accounts.providers
  const onA = providers.map((p) => subscribe(p.address, [a.url, b.url]))
  const onB = providers.map((p) => subscribe(p.address, [b.url, a.url]))
  const subscribers = [...onA, ...onB]
  const beat = () => Promise.all(providers.map((p) => sendHeartbeat(`${b.url}/graphql`, p)))
  await beat()
  const beating = setInterval(() => void beat().catch(() => {}), 10_000)
  const blobs = await uploadRunnableJob(b.url, system.accounts.requesters[0])
  const timings: Record<string, number> = {}
  try {
    const all = (jobs: bigint[]) =>
      waitFor(
        `jobs ${jobs.join(', ')} on every subscriber`,
        async () => subscribers.every((s) => jobs.every((j) => s.received.some((r) => r.jobId === j.toString()))) || undefined,
        { timeoutMs: 30_000, intervalMs: 100 },
      )
    const job1 = await submitJob(blobs)
    await all([job1])

    // Kill the leader the moment the indexer holds job 2's first assignment: its change feed (250 ms) has most likely
    // not published it yet, and the survivor's feed must, from the cursor the dead leader left.
    const job2 = await submitJob(blobs)
    const db = new pg.Client({ connectionString: database.url })
    await db.connect()
    try {
      await waitFor(
        'job 2 to be assigned',
        async () => {
          const { rows } = await db.query(`select 1 from "${viewsSchema}".assignment where job_id = $1 limit 1`, [job2.toString()])
          return rows.length > 0 || undefined
        },
        { timeoutMs: 30_000, intervalMs: 20 },
      )
    } finally {
      await db.end()
    }
    a.child.kill('SIGKILL')
    const killed = Date.now()
    expect(await a.exited).toBe(null)
    const job3 = await submitJob(blobs)
    await waitFor('b to lead', async () => (await isLeader(b)) || undefined, { timeoutMs: 15_000, intervalMs: 50 })
    timings.takeoverMs = Date.now() - killed
    expect(timings.takeoverMs).toBeLessThan(10_000)
    await all([job2, job3])
    timings.job3DeliveredAfterKillMs = Date.now() - killed
    // Informational: whether the killed leader got job 2 out before it died (else the survivor's feed published it).
    timings.job2LiveBeforeKill = Number(onB.some((s) => s.received.some((r) => r.jobId === String(job2) && r.at < killed)))
    const job4 = await submitJob(blobs)
    const submitted4 = Date.now()
    await all([job4])
    timings.job4DeliveredMs = Date.now() - submitted4

    // Nothing more comes: each (job, provider, round) exactly once per subscriber, for its own provider only.
    await new Promise((r) => setTimeout(r, 1500))
    const jobs = [job1, job2, job3, job4].map(String)
    for (const s of subscribers) {
      expect(s.received.map((r) => r.key).sort()).toEqual(jobs.map((j) => `${j}:${s.provider.toLowerCase()}:1`).sort())
    }
    // The survivor's subscribers got it all live on the connection they opened before the first job, without Redis.
    for (const s of onB) {
      expect(s.connections()).toBe(1)
      expect(s.received.every((r) => r.connection === 1)).toBe(true)
    }
    // The killed replica's subscribers were live there too, then resumed on the survivor.
    for (const s of onA) {
      expect(s.received.find((r) => r.jobId === String(job1))?.connection).toBe(1)
      expect(s.connections()).toBeGreaterThanOrEqual(2)
    }
    console.log(`failover timings: ${JSON.stringify(timings)}`)
  } catch (error) {
    for (const r of replicas) console.log(`--- ${r.name} (last lines)\n${r.output.slice(-30).join('\n')}`)
    throw error
  } finally {
    clearInterval(beating)
    await Promise.all(subscribers.map((s) => s.close()))
  }
}, 120_000)
