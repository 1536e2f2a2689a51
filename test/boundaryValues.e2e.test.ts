import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { type Address, keccak256, maxUint64, maxUint256, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { jobMarketAbi, providerRegistryAbi } from '../contracts/generated/index.ts'
import { freePort } from '../devnet/startAnvil.ts'
import { fund, type JobSpecArgs, registerProvider, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { type StartIndexerReturnType, startIndexer } from '../indexer/startIndexer.ts'
import type { Hardware } from '../protocol/hardware.ts'
import { TSR } from '../protocol/units.ts'
import { createYoga } from '../server/createYoga.ts'
import { createDb } from '../server/db/createDb.ts'
import type { Database } from '../server/db/database.ts'
import { migrateToLatest } from '../server/db/migrateToLatest.ts'
import { createChainClients } from '../server/leader/chainClients.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { defined } from './support/defined.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { approveAndSubmitJob } from './support/market.ts'

// Every integer field of a provider and a job spec at its edges: 0, 2^31 (one past int4), 2^32 − 1 and the Solidity
// type's maximum (uint16 fields: 0, 2^15 and 2^16 − 1). Where the contract refuses an edge, the nearest value it takes:
// units, prices and deadlines can't be 0, redundancy is 2–16, outputTolerance 1–23, verification 0. Registering needs
// no stake, so any of these is one transaction away for anybody: the indexer must index them all, stay at the chain
// head, and the API must return each value exactly. Everything happens after Ponder is up (live indexing), as it
// would on a running market.

const viewsSchema = 'chain_boundary'
const u31 = 2n ** 31n
const u32max = 2n ** 32n - 1n
const u16max = 2 ** 16 - 1

let system: TestSystem
let database: TestDatabase
let indexer: StartIndexerReturnType
let db: Kysely<Database>
let yoga: ReturnType<typeof createYoga>['yoga']
let tmpDir: string

/** Hardware as the registry's ABI takes it: viem encodes uint16/uint32 from numbers. */
const hardware = (uint32: bigint, uint16: number): Hardware => ({
  gpuModel: Number(uint32),
  gpuCount: uint16,
  vramMiB: Number(uint32),
  cpuCores: uint16,
  memoryMiB: Number(uint32),
  benchmarkScore: Number(uint32),
})

/** p0 registers at the maximum and updates to all zeros (unstaked); p1 sits at 2^31 / 2^15; p2 at the maximum. */
const providers = () => {
  const [p0, p1, p2] = system.accounts.providers
  return [
    { account: p0, hardware: hardware(0n, 0), pricePerUnit: maxUint256 },
    { account: p1, hardware: hardware(u31, 2 ** 15), pricePerUnit: 1n },
    { account: p2, hardware: hardware(u32max, u16max), pricePerUnit: u31 },
  ]
}

type Spec = JobSpecArgs

/** The jobs submitted, in id order. redundancy (2–16) and outputTolerance (1–23) are bounded by JobMarket itself. */
const specs = (): Omit<Spec, 'modelHash' | 'inputHash' | 'regions' | 'verification'>[] => [
  { units: 1n, maxPricePerUnit: u32max, minVramMiB: 0, gpuModel: 0, redundancy: 2, deadline: u31, outputTolerance: 1 },
  {
    units: u31,
    maxPricePerUnit: u31,
    minVramMiB: Number(u31),
    gpuModel: Number(u31),
    redundancy: 16,
    deadline: u32max,
    outputTolerance: 23,
  },
  {
    units: u32max,
    maxPricePerUnit: 1n,
    minVramMiB: Number(u32max),
    gpuModel: Number(u32max),
    redundancy: 2,
    deadline: maxUint64,
    outputTolerance: 10,
  },
  // Assigned to p1 and p2 below: both have at least 2^31 MiB.
  {
    units: u32max,
    maxPricePerUnit: u31,
    minVramMiB: Number(u31),
    gpuModel: 0,
    redundancy: 2,
    deadline: maxUint64 - 1n,
    outputTolerance: 10,
  },
  { units: maxUint64, maxPricePerUnit: 1n, minVramMiB: Number(u31), gpuModel: 0, redundancy: 2, deadline: maxUint64, outputTolerance: 10 },
]
const submitted: { jobId: bigint; spec: Spec; escrow: bigint }[] = []

async function submitJob(requester: PrivateKeyAccount, partial: ReturnType<typeof specs>[number], i: number) {
  const spec: Spec = {
    ...partial,
    modelHash: keccak256(toHex(`model-${i}`)),
    inputHash: keccak256(toHex(`input-${i}`)),
    regions: [],
    verification: 0,
  }
  const { jobId, escrow } = await approveAndSubmitJob(system, requester, spec)
  submitted.push({ jobId, spec, escrow })
}

const gql = <T>(query: string, variables?: Record<string, unknown>) =>
  gqlData<T>('http://localhost/graphql', query, variables, (url, init) => yoga.fetch(url, init))

type Meta = { block: string | null; chainHead: string | null }

/** Waits until the indexer has processed the chain's latest block: it kept up with everything sent before. */
async function indexerCaughtUp() {
  const head = await system.publicClient.getBlockNumber({ cacheTime: 0 })
  try {
    return await waitFor(
      `the indexer to reach block ${head}`,
      async () => {
        const { _meta } = await gql<{ _meta: Meta }>('{ _meta { block chainHead } }')
        return _meta.block !== null && BigInt(_meta.block) >= head ? _meta : undefined
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    )
  } catch (error) {
    // /ready says why: the last indexed block and the indexer's error.
    const ready = await (await yoga.fetch('http://localhost/ready')).text()
    throw new Error(`${(error as Error).message}; /ready: ${ready}`)
  }
}

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-boundary-'))
  const deploymentPath = path.join(tmpDir, 'deployment.json')
  system = await startTestSystem({ out: deploymentPath })
  database = await createTestDatabase()
  indexer = await startIndexer({
    databaseUrl: database.url,
    rpcUrl: system.rpcUrl,
    deploymentPath,
    viewsSchema,
    port: await freePort(),
    log: process.env.TESSERA_TEST_VERBOSE ? (line) => console.log(`[ponder] ${line}`) : undefined,
  })
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  yoga = createYoga({
    db,
    viewsSchema,
    deployment: system.deployment,
    dataDir: path.join(tmpDir, 'data'),
    publicClient: createChainClients({ rpcUrl: system.rpcUrl, chainId: system.deployment.chainId }).publicClient,
    indexerState: () => indexer.state(),
  }).yoga

  const [p0, p1, p2] = providers()
  // p0 registers at the maximum without staking, then updates to zeros: both events carry every hardware field.
  await registerProvider(system, p0.account, { hardware: hardware(u32max, u16max), pricePerUnit: p0.pricePerUnit, stake: 0n })
  await system.write(p0.account, {
    address: system.registry,
    abi: providerRegistryAbi,
    functionName: 'update',
    args: [p0.hardware, p0.pricePerUnit, `0x${'00'.repeat(32)}`],
  })
  for (const p of [p1, p2]) await registerProvider(system, p.account, { hardware: p.hardware, pricePerUnit: p.pricePerUnit })
  const requester = system.accounts.requesters[0]
  await fund(system, requester.address, 10_000n * TSR)
  for (const [i, spec] of specs().entries()) await submitJob(requester, spec, i)
  const assigned = defined(submitted[3], 'the job to assign')
  await system.write(system.accounts.matcher, {
    address: system.market,
    abi: jobMarketAbi,
    functionName: 'assign',
    args: [assigned.jobId, [p1.account.address, p2.account.address]],
  })
}, 240_000)

afterAll(async () => {
  await db?.destroy()
  await indexer?.stop()
  await system?.stop()
  await database?.drop()
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true })
})

const providerFields = 'address gpuModel gpuCount vramMiB cpuCores memoryMiB benchmarkScore capacity pricePerUnit registered'

type ProviderData = {
  address: Address
  gpuModel: string
  gpuCount: number
  vramMiB: string
  cpuCores: number
  memoryMiB: string
  benchmarkScore: string
  capacity: string
  pricePerUnit: string
  registered: boolean
}

describe('boundary values', () => {
  test('the indexer keeps up with providers and jobs at every edge, and /ready says so', async () => {
    const meta = await indexerCaughtUp()
    expect(meta.chainHead).not.toBeNull()
    const ready = await yoga.fetch('http://localhost/ready')
    expect(await ready.json()).toEqual({ ready: true })
    expect(ready.status).toBe(200)
  })

  test('GraphQL returns every provider field exactly', async () => {
    await indexerCaughtUp()
    for (const p of providers()) {
      const { provider } = await gql<{ provider: ProviderData | null }>(
        `query($a: Address!) { provider(address: $a) { ${providerFields} } }`,
        {
          a: p.account.address,
        },
      )
      expect(provider).toEqual({
        address: p.account.address,
        gpuModel: String(p.hardware.gpuModel),
        gpuCount: p.hardware.gpuCount,
        vramMiB: String(p.hardware.vramMiB),
        cpuCores: p.hardware.cpuCores,
        memoryMiB: String(p.hardware.memoryMiB),
        benchmarkScore: String(p.hardware.benchmarkScore),
        capacity: String(BigInt(p.hardware.gpuCount) * BigInt(p.hardware.benchmarkScore)),
        pricePerUnit: p.pricePerUnit.toString(),
        registered: true,
      })
    }
  })

  test('provider filters, ordering and cursors compare uint32 values past 2^31', async () => {
    await indexerCaughtUp()
    const [p0, p1, p2] = providers().map((p) => p.account.address)
    type Page = { providers: { edges: { cursor: string; node: { address: Address } }[] } }
    const addresses = (page: Page) => page.providers.edges.map((e) => e.node.address)
    const where = async (filter: string) =>
      addresses(await gql<Page>(`{ providers(where: ${filter}) { edges { cursor node { address } } } }`))
    expect((await where(`{ vramMiB_gte: "${u31}" }`)).sort()).toEqual([p1, p2].sort())
    expect(await where(`{ vramMiB_gte: "${u31 + 1n}" }`)).toEqual([p2])
    expect(await where(`{ gpuModel: "${u32max}" }`)).toEqual([p2])
    expect(await where('{ gpuModel: "0" }')).toEqual([p0])

    const byVram = (after?: string) =>
      gql<Page>('query($after: String) { providers(orderBy: VRAM_MIB, first: 1, after: $after) { edges { cursor node { address } } } }', {
        after,
      })
    const first = await byVram()
    const second = await byVram(first.providers.edges[0]?.cursor)
    const third = await byVram(second.providers.edges[0]?.cursor)
    expect([first, second, third].flatMap(addresses)).toEqual([p0, p1, p2])
  })

  test('GraphQL returns every job spec field exactly', async () => {
    await indexerCaughtUp()
    type JobData = {
      id: string
      units: string
      maxPricePerUnit: string
      minVramMiB: string
      gpuModel: string
      redundancy: number
      verification: string
      deadline: string
      outputTolerance: number
      escrow: string
      status: string
    }
    for (const { jobId, spec, escrow } of submitted) {
      const { job } = await gql<{ job: JobData | null }>(
        `query($id: BigInt!) { job(id: $id) {
          id units maxPricePerUnit minVramMiB gpuModel redundancy verification deadline outputTolerance escrow status } }`,
        { id: jobId.toString() },
      )
      expect(job).toMatchObject({
        id: jobId.toString(),
        units: spec.units.toString(),
        maxPricePerUnit: spec.maxPricePerUnit.toString(),
        minVramMiB: String(spec.minVramMiB),
        gpuModel: String(spec.gpuModel),
        redundancy: spec.redundancy,
        verification: 'REDUNDANT',
        deadline: spec.deadline.toString(),
        outputTolerance: spec.outputTolerance,
        escrow: escrow.toString(),
      })
    }
  })

  test('the assignment of a job needing 2^31 MiB: slots, asks and collateral exactly', async () => {
    await indexerCaughtUp()
    const { jobId, spec } = defined(submitted[3], 'the assigned job')
    const [, p1, p2] = providers()
    type AssignmentData = { provider: Address; slot: number; price: string; collateral: string; outcome: string }
    const { job } = await gql<{ job: { status: string; assignments: AssignmentData[] } }>(
      'query($id: BigInt!) { job(id: $id) { status assignments { provider slot price collateral outcome } } }',
      { id: jobId.toString() },
    )
    // Each slot locks its own provider's ask × units × collateralBps, not the job's max price.
    const collateralOf = (ask: bigint) => ((ask * spec.units * system.deployment.params.market.collateralBps) / 10_000n).toString()
    expect(job).toEqual({
      status: 'ASSIGNED',
      assignments: [
        {
          provider: p1.account.address,
          slot: 0,
          price: p1.pricePerUnit.toString(),
          collateral: collateralOf(p1.pricePerUnit),
          outcome: 'PENDING',
        },
        {
          provider: p2.account.address,
          slot: 1,
          price: p2.pricePerUnit.toString(),
          collateral: collateralOf(p2.pricePerUnit),
          outcome: 'PENDING',
        },
      ],
    })
  })

  test('quote takes uint32 requirements past 2^31 and judges them as the contract does', async () => {
    await indexerCaughtUp()
    type Quote = { reason: string; eligibleProviders: number }
    const quote = (minVramMiB: bigint, gpuModel: bigint) =>
      gql<{ quote: Quote }>(`query($spec: QuoteInput!) { quote(spec: $spec) { reason eligibleProviders } }`, {
        spec: {
          units: '1',
          maxPricePerUnit: u31.toString(),
          redundancy: 2,
          minVramMiB: minVramMiB.toString(),
          gpuModel: gpuModel.toString(),
        },
      })
    // p1 and p2 fit (no heartbeats, so not live); only p2 has 2^32 − 1 MiB or GPU model 2^32 − 1.
    expect((await quote(u31, 0n)).quote.reason).toBe('TOO_FEW_LIVE_PROVIDERS')
    expect((await quote(u32max, 0n)).quote.reason).toBe('NOT_ENOUGH_PROVIDERS')
    expect((await quote(0n, u32max)).quote.reason).toBe('NOT_ENOUGH_PROVIDERS')
  })
})
