import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import pino from 'pino'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { blobAuthHeaders } from '../client/blobAuth.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { freePort } from '../devnet/startAnvil.ts'
import { fund, registerProvider, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { type StartIndexerParameters, type StartIndexerReturnType, startIndexer } from '../indexer/startIndexer.ts'
import { JobStatus } from '../protocol/enums.ts'
import { TSR } from '../protocol/units.ts'
import { createYoga } from '../server/createYoga.ts'
import { createDb } from '../server/db/createDb.ts'
import type { Database } from '../server/db/database.ts'
import { migrateToLatest } from '../server/db/migrateToLatest.ts'
import { createChainClients } from '../server/leader/chainClients.ts'
import { startLeader } from '../server/leader/startLeader.ts'
import { createMetrics } from '../server/metrics.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { defined } from './support/defined.ts'
import { type Fetch, gqlData, waitFor } from './support/graphql.ts'
import { approveAndSubmitJob, sendHeartbeat } from './support/market.ts'

// The indexer stops while the chain moves on. The server must say so (`/ready` 503 naming the last indexed block, the
// chain head and, when the indexer runs in its process, its error) and its leader must not act on the stale views: a
// job whose providers come alive meanwhile is not assigned (their feed comes from the same indexer, so they would never
// hear of it, and the keeper would slash them as no-shows). Once the indexer is back, both resume.

const viewsSchema = 'chain_stopped'
let system: TestSystem
let database: TestDatabase
let indexerParameters: StartIndexerParameters
let indexer: StartIndexerReturnType
let db: Kysely<Database>
let tmpDir: string
let stopLeader: (() => Promise<void>) | undefined
const metrics = createMetrics()
/** The server as deployed apart from the indexer: it sees only the views and the chain. */
let yoga: ReturnType<typeof createYoga>['yoga']
/** The server as `tessera dev` runs it, in the indexer's process: it also hears the indexer's state. */
let sameProcessYoga: ReturnType<typeof createYoga>['yoga']

type Readiness = {
  ready: boolean
  reason?: string
  indexing?: { block: string | null; chainHead: string | null; lagBlocks: number | null; error: string | null }
}

async function ready(server = yoga): Promise<{ status: number; body: Readiness }> {
  const res = await server.fetch('http://localhost/ready')
  return { status: res.status, body: (await res.json()) as Readiness }
}

const yogaFetch: Fetch = (url, init) => yoga.fetch(url, init)
const gql = <T>(query: string, variables?: Record<string, unknown>) => gqlData<T>('http://localhost/graphql', query, variables, yogaFetch)

/** Stores `text` as a blob, the upload signed by the requester (a funded account, as the server asks). */
async function putBlob(text: string): Promise<Hex> {
  const sha256 = `0x${createHash('sha256').update(text).digest('hex')}` as Hex
  const url = new URL('http://localhost/blobs')
  const credentials = { account: system.accounts.requesters[0], chainId: system.deployment.chainId }
  const auth = await blobAuthHeaders({ credentials, url, method: 'PUT', content: sha256 })
  const res = await yoga.fetch(url, { method: 'PUT', body: text, headers: { 'x-content-sha256': sha256, ...auth } })
  expect(res.status).toBe(201)
  return sha256
}

async function onChainStatus(jobId: bigint): Promise<number> {
  const job = await system.read<{ status: number }>({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
  return job.status
}

/** A metric's value as `/metrics` prints it, undefined when absent. */
async function metric(line: RegExp): Promise<number | undefined> {
  const text = await (await yoga.fetch('http://localhost/metrics')).text()
  const match = text.split('\n').find((l) => line.test(l))
  return match === undefined ? undefined : Number(match.split(' ').at(-1))
}

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-indexer-stopped-'))
  const deploymentPath = path.join(tmpDir, 'deployment.json')
  system = await startTestSystem({ out: deploymentPath })
  for (const p of system.accounts.providers.slice(0, 2)) await registerProvider(system, p, { pricePerUnit: TSR / 100n })
  await fund(system, system.accounts.requesters[0].address, 1000n * TSR)
  database = await createTestDatabase()
  indexerParameters = { databaseUrl: database.url, rpcUrl: system.rpcUrl, deploymentPath, viewsSchema, port: await freePort() }
  indexer = await startIndexer(indexerParameters)
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  const { publicClient, walletClient } = createChainClients({
    rpcUrl: system.rpcUrl,
    chainId: system.deployment.chainId,
    serverKey: devKeys[1],
  })
  const common = { db, viewsSchema, deployment: system.deployment, dataDir: path.join(tmpDir, 'data'), publicClient }
  const server = createYoga({ ...common, metrics, indexing: { maxStallSeconds: 2 } })
  yoga = server.yoga
  sameProcessYoga = createYoga({ ...common, indexerState: () => indexer.state() }).yoga
  const leader = startLeader({
    databaseUrl: database.url,
    db,
    views: server.context.views,
    deployment: system.deployment,
    publicClient,
    walletClient,
    pubsub: server.pubsub,
    log: pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' }),
    metrics,
    chainIntervalMs: 200,
    indexing: server.indexing,
  })
  stopLeader = leader.stop
}, 240_000)

afterAll(async () => {
  await stopLeader?.()
  await db?.destroy()
  await indexer?.stop()
  await system?.stop()
  await database?.drop()
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true })
})

describe('an indexer that stops', () => {
  test('/ready turns 503 naming the block and the error, the leader pauses, and both resume with the indexer', async () => {
    // A runnable job nobody can take yet: no provider has heartbeated.
    const [modelHash, inputHash] = [await putBlob('model'), await putBlob('input')]
    const { jobId } = await approveAndSubmitJob(system, system.accounts.requesters[0], { modelHash, inputHash })
    await waitFor('the job indexed', async () => {
      const { job } = await gql<{ job: { status: string } | null }>('query($id: BigInt!) { job(id: $id) { status } }', {
        id: String(jobId),
      })
      return job?.status === 'OPEN' ? true : undefined
    })
    expect(await ready()).toEqual({ status: 200, body: { ready: true } })
    expect(await ready(sameProcessYoga)).toEqual({ status: 200, body: { ready: true } })

    await indexer.stop()
    // In the indexer's process the server knows at once.
    const stopped = await ready(sameProcessYoga)
    expect(stopped.status).toBe(503)
    const last = defined(stopped.body.indexing?.block, 'the last indexed block')
    expect(stopped.body.reason).toMatch(
      new RegExp(`^the indexer has stopped: last indexed block ${last}, chain head \\d+; indexer error: Ponder was stopped$`),
    )
    expect(stopped.body.indexing?.error).toBe('Ponder was stopped')
    // Apart from it, the server notices once the chain moves on and the new block stays unindexed.
    await system.testClient.mine({ blocks: 1 })
    const stale = await waitFor(
      '/ready to answer 503',
      async () => {
        const r = await ready()
        return r.status === 503 ? r : undefined
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    )
    const head = BigInt(defined(stale.body.indexing?.chainHead, 'the chain head'))
    expect(head).toBeGreaterThan(BigInt(last))
    expect(stale.body).toEqual({
      ready: false,
      reason: expect.stringMatching(
        new RegExp(
          `^indexing has stalled: block \\d+ is still not indexed after \\d+ s: last indexed block ${last}, chain head ${head}; ` +
            'indexer error: unknown$',
        ),
      ),
      indexing: { block: last, chainHead: String(head), lagBlocks: Number(head - BigInt(last)), error: null },
    })
    await waitFor('the leader to pause', async () => ((await metric(/^tessera_server_leader_paused /)) === 1 ? true : undefined), {
      timeoutMs: 5_000,
      intervalMs: 100,
    })

    // The providers come alive: a leader acting on stale views would assign the job now.
    for (const p of system.accounts.providers.slice(0, 2)) await sendHeartbeat('http://localhost/graphql', p, yogaFetch)
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    expect(await onChainStatus(jobId)).toBe(JobStatus.Open)
    expect(await metric(/^tessera_server_leader_transactions_total\{action="assign"/)).toBeUndefined()

    // The indexer restarts (resuming its schema): both resume, and the job gets assigned.
    indexer = await startIndexer(indexerParameters)
    await waitFor('/ready to answer 200', async () => ((await ready()).status === 200 ? true : undefined), { timeoutMs: 10_000 })
    await waitFor('the job assigned', async () => ((await onChainStatus(jobId)) === JobStatus.Assigned ? true : undefined), {
      timeoutMs: 15_000,
    })
    expect(await metric(/^tessera_server_leader_paused /)).toBe(0)
  }, 120_000)
})
