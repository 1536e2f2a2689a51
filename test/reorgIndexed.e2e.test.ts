import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import pg from 'pg'
import pino from 'pino'
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  maxUint256,
  type PublicClient,
  parseEther,
  type TestClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import type { RunAgentReturnType } from '../agent/runAgent.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { emissionControllerAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { sampleJobSpec } from '../devnet/testSystem.ts'
import type { StartPonderReturnType } from '../indexer/startPonder.ts'
import { chainOf } from '../protocol/chain.ts'
import { JobStatus, jobStatusName } from '../protocol/enums.ts'
import { sleep } from '../protocol/retry.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { createYoga } from '../server/createYoga.ts'
import { createDb } from '../server/db/createDb.ts'
import type { Database } from '../server/db/database.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { type Fetch, gqlData, waitFor } from './support/graphql.ts'
import {
  marketJobs,
  type Removed,
  type ReorgChain,
  removedCount,
  reorgWhen,
  slashedSince,
  stakeOf,
  startBlockPump,
  startRequester,
  stillMined,
} from './support/reorg.ts'
import { startTestAgent, startTestPonder, startTestStack } from './support/stack.ts'

// Reorgs during live traffic on the real stack: anvil, Ponder, the server with its leader (change feed, matcher,
// keeper) and two honest agents. k=2 jobs are submitted over time while the chain is reorganised at depths 1, 5 and
// 20, each time taking out assigns, commits, reveals and settlements (the agreeing last reveals) that were mined and
// already indexed; Ponder reverts them, and the leader and agents send what the chain lost again. Afterwards every job is Completed, nobody slashed,
// and the live server's GraphQL answers equal, field for field, those served from a second Ponder that indexed the
// final chain from scratch: the reorgs left nothing behind in the index.
//
// The agents and the leader's transaction sender confirm 24 blocks deep, above the deepest reorg.

const confirmations = 24
const jobCount = 12
const reorgDepths = [1, 5, 20] as const
const asks = [parseEther('0.001'), parseEther('0.002')]
const agentKeys = [devKeys[2], devKeys[3]] as const
const requesterKey = devKeys[5]

/** The requester's key, signing its blob uploads for the stack's chain. */
const requesterCredentials = () => ({ account: privateKeyToAccount(requesterKey), chainId: stack.deployment.chainId })
/** The second Ponder's views: the final chain indexed from scratch. */
const reindexedViews = 'chain_reindexed'
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })

let stack: Stack
let database: TestDatabase
let dataDir: string
let chain: ReorgChain
let modelHash: Hex
let agents: RunAgentReturnType[] = []
let reindexer: StartPonderReturnType | undefined
let reindexedDb: Kysely<Database> | undefined

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-reorg-indexed-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    // Started by the test, with `confirmations`, which the stack's own agents don't take.
    agents: [],
    // The leader, too, watches its transactions deeper than the deepest reorg.
    leaderConfirmations: confirmations,
    spareProviders: [...agentKeys],
    requesters: [requesterKey],
  })
  const viemChain = chainOf(stack.deployment.chainId, stack.rpcUrl)
  const transport = http(stack.rpcUrl)
  chain = {
    publicClient: createPublicClient({ chain: viemChain, transport, pollingInterval: 50 }) as PublicClient,
    testClient: createTestClient({ chain: viemChain, transport, mode: 'anvil' }) as TestClient<'anvil'>,
    market: stack.deployment.contracts.JobMarket.address,
    batcher: stack.deployment.contracts.JobBatcher.address,
  }
  // The stack's anvil also mines a block every second, which `reorgWhen` could not hold back while it looks at the
  // blocks it reorganises: transactions are mined as they come and the test's pump mines the empty blocks instead.
  await chain.testClient.setIntervalMining({ interval: 0 })
  await chain.testClient.setAutomine(true)

  modelHash = (
    await uploadBlob({
      serverUrl: stack.serverUrl,
      credentials: requesterCredentials(),
      bytes: buildMlp({ seed: 3, inputSize: 16, hiddenSize: 16, outputSize: 4 }),
    })
  ).sha256
  const requester = createWalletClient({ chain: viemChain, transport, account: privateKeyToAccount(requesterKey) })
  const approval = await requester.writeContract({
    address: stack.deployment.contracts.TesseraToken.address,
    abi: tesseraTokenAbi,
    functionName: 'approve',
    args: [chain.market, parseEther('100000')],
  })
  await chain.publicClient.waitForTransactionReceipt({ hash: approval })
}, 240_000)

afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.stop()))
  await reindexedDb?.destroy()
  await reindexer?.stop()
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

/** A k=2 job of 2 to 4 rows on the test's model, its input uploaded to the server first. */
async function jobSpec(i: number) {
  const rows = 2 + (i % 3)
  const input = encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed: 100 + i, rows, inputSize: 16 }) })
  const { sha256: inputHash } = await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes: input })
  const now = async () => (await chain.publicClient.getBlock({ blockTag: 'latest' })).timestamp
  return sampleJobSpec({ now }, { modelHash, inputHash, units: BigInt(rows), maxPricePerUnit: parseEther('0.01') })
}

const assignmentFields = /* GraphQL */ `
  jobId provider round slot price collateral assignedAt commitDeadline commitment committedAt fingerprint outputHash
  revealedAt outcome paid`

/**
 * Everything the API serves from the index, in queries under the server's complexity limit: jobs with their
 * assignments and payments, providers with their stakes, counters, earnings and assignments, closed epochs, the
 * emission analytics, the market's totals and how far the index reached. Left out, as they don't come from the index:
 * `Provider.live` and `MarketStats.liveProviders`, which judge the server's heartbeat table by the server's clock at
 * the moment of the query (so they could flip between two queries). `Provider.lastHeartbeatAt` comes from that table
 * too, but the same one for both servers: it stays.
 */
const indexedQueries = {
  jobs: /* GraphQL */ `
    query {
      jobs(first: 100, orderDirection: asc) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges {
          cursor
          node {
            id status requester txHash submittedAt submittedBlock round
            modelHash inputHash units maxPricePerUnit redundancy verification deadline outputTolerance minVramMiB gpuModel regions
            escrow fees burned refunded commitDeadline revealDeadline finalizedAt fingerprint disputedProviders
            assignments { ${assignmentFields} }
            payments { id kind account amount jobId blockNumber timestamp }
          }
        }
      }
    }`,
  providers: /* GraphQL */ `
    query {
      providers(first: 10) {
        totalCount
        pageInfo { hasNextPage }
        edges {
          cursor
          node {
            address registered registeredAt paused pricePerUnit region encryptionPubKey
            gpuModel gpuCount vramMiB cpuCores memoryMiB benchmarkScore capacity
            stake locked freeStake pendingUnstake unstakeAvailableAt
            jobsCompleted jobsFailed noShowCount slashCount lastHeartbeatAt
            earnings { fees slashShares earnedTotal slashedTotal withdrawn }
            assignments(first: 100) { ${assignmentFields} }
          }
        }
      }
    }`,
  epochs: /* GraphQL */ `
    query {
      epochs(first: 100, orderDirection: asc) {
        totalCount
        pageInfo { hasNextPage }
        edges {
          cursor
          node {
            id blockNumber timestamp fees units usageEmission availabilityEmission baseAvailability cap claimed forfeited
            feeEma phi utilisation utilisationEma limiter
          }
        }
      }
      emissionsVsUsage {
        from to coverageTarget
        totals { burned emitted fees forfeited coverage subsidyShare }
        points {
          epoch startTime endTime fees jobFees burned emitted earnings usageEmission availabilityEmission baseAvailability
          cap coverage subsidyShare units jobsCompleted jobsFailed uniquePayers utilisation utilisationEma feeEma phi forfeited
          limiter
        }
      }
    }`,
  market: /* GraphQL */ `
    query {
      marketStats { jobs providers activeProviders totalFees totalBurned jobsByStatus { status count } }
      _meta { chainId block blockTimestamp chainHead lagBlocks }
    }`,
}

type IndexedView = {
  jobs: { jobs: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: { id: string; status: string } }[] } }
  providers: {
    providers: { pageInfo: { hasNextPage: boolean }; edges: { node: { address: Address; slashCount: number; noShowCount: number } }[] }
  }
  epochs: { epochs: { totalCount: number; pageInfo: { hasNextPage: boolean } } }
  market: { _meta: { block: string | null; chainHead: string | null } }
}

/** The answers to `indexedQueries` of the server at `graphqlUrl`. */
async function indexedView(graphqlUrl: string, fetchFn?: Fetch): Promise<IndexedView> {
  const [jobs, providers, epochs, market] = await Promise.all(
    [indexedQueries.jobs, indexedQueries.providers, indexedQueries.epochs, indexedQueries.market].map((query) =>
      gqlData(graphqlUrl, query, {}, fetchFn),
    ),
  )
  return { jobs, providers, epochs, market } as IndexedView
}

/**
 * Waits until the live index holds the chain's head. Called with the blocks held right before each reorg, so Ponder is
 * not fetching a block the reorg takes out: Ponder 0.16.10 asks for a block's logs by its hash, and retries the node's
 * "unknown block" answer 9 times with backoff (node_modules/ponder/src/rpc/index.ts: RETRY_COUNT, BASE_DURATION,
 * shouldRetry), which stalls its live indexing for over a minute, the leader paused meanwhile. That race is Ponder's,
 * not what this test is after: whether the index comes out of reorgs equal to a fresh one.
 */
async function indexedToHead() {
  const head = await chain.publicClient.getBlockNumber({ cacheTime: 0 })
  await waitFor(
    `the live index at block ${head}`,
    async () => {
      const { _meta } = await gqlData<{ _meta: { block: string | null } }>(stack.graphqlUrl, 'query { _meta { block } }')
      return _meta.block === String(head) ? true : undefined
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  )
}

/**
 * Blocks of this chain that Ponder's sync store (`ponder_sync`, shared by both Ponders) holds with another hash than the
 * chain has now: reorged-out blocks the second Ponder's backfill would read in place of the chain's.
 */
async function staleSyncBlocks(): Promise<string[]> {
  const sql = new pg.Client({ connectionString: database.url })
  await sql.connect()
  try {
    const { rows } = await sql.query<{ number: string; hash: Hex }>('select number, hash from ponder_sync.blocks where chain_id = $1', [
      stack.deployment.chainId,
    ])
    const stale: string[] = []
    for (const row of rows) {
      const block = await chain.publicClient.getBlock({ blockNumber: BigInt(row.number) })
      if (block.hash !== row.hash) stale.push(row.number)
    }
    return stale
  } finally {
    await sql.end()
  }
}

test('reorgs of depth 1, 5 and 20 under the real stack: every job completes, nobody is slashed, the index equals a fresh re-index', async () => {
  const started = Date.now()
  const registry = stack.deployment.contracts.ProviderRegistry.address
  const controller = stack.deployment.contracts.EmissionController.address
  agents = await Promise.all(
    agentKeys.map((privateKey, i) =>
      startTestAgent(stack, { privateKey, pricePerUnit: asks[i], dataDir: path.join(dataDir, `agent${i + 1}`), confirmations }),
    ),
  )
  const providers = agents.map((a) => a.address)
  const stakes = await Promise.all(providers.map((p) => stakeOf(chain, registry, p)))
  const firstBlock = await chain.publicClient.getBlockNumber({ cacheTime: 0 })
  // Empty blocks between transactions, so confirmations keep coming when traffic pauses.
  const pump = { paused: false }
  const stopPump = startBlockPump(chain, pump, 250, log)
  const requester = startRequester(chain, {
    rpcUrl: stack.rpcUrl,
    chain: chainOf(stack.deployment.chainId, stack.rpcUrl),
    account: privateKeyToAccount(requesterKey),
    count: jobCount,
    specOf: jobSpec,
    log,
    pauseMs: 500,
  })
  const removed: Removed[] = []
  try {
    for (const [i, depth] of reorgDepths.entries()) {
      while (requester.state.submitted < (jobCount / reorgDepths.length) * (i + 1)) await sleep(50)
      const wanted =
        depth === 1
          ? ['commitResult']
          : depth === 5
            ? ['commitResult', 'revealResult']
            : ['assign', 'commitResult', 'revealResult', 'settled']
      removed.push(await reorgWhen(chain, { depth, wanted, pump, beforeReorg: indexedToHead }))
    }
    await requester.run
    // Every job Completed on chain and in the index while its windows are still open (they are 120 s). Past the wait
    // the checks below say which are not.
    await waitFor(
      'every job completed, on chain and in the index',
      async () => {
        const jobs = await marketJobs(chain)
        if (!jobs.every((job) => job.status === JobStatus.Completed)) return undefined
        const { jobs: indexed } = await gqlData<{ jobs: { totalCount: number } }>(
          stack.graphqlUrl,
          'query { jobs(where: { status: COMPLETED }) { totalCount } }',
        )
        return indexed.totalCount === jobs.length ? true : undefined
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch((error: unknown) => log.warn({ err: error }, 'not every job completed'))
    // Then past every window: a job still Assigned or Committed now is finalized or expired by the keeper, which
    // slashes whoever it finds missing. The epochs of those 600 s close too: waited for on chain, as the keeper sends
    // `advanceEpoch` only once the index holds a block past their end (a fixed sleep was not enough on a slow machine,
    // and the chain stops mining below).
    await chain.testClient.increaseTime({ seconds: 600 })
    await chain.testClient.mine({ blocks: 1 })
    await waitFor(
      'every ended epoch closed on chain',
      async () => {
        const [current, lastClosed] = await Promise.all([
          chain.publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'currentEpoch' }),
          chain.publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' }),
        ])
        return lastClosed !== maxUint256 && lastClosed + 1n >= current ? true : undefined
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch((error: unknown) => log.warn({ err: error }, 'not every ended epoch closed'))
    await sleep(3000)
  } finally {
    // Bounded, so an agent stuck on a transaction that will never be mined still lets the checks below report.
    await Promise.race([Promise.all(agents.map((a) => a.stop())), sleep(10_000)])
    await stopPump()
  }

  const jobs = await marketJobs(chain)
  const slashed = await slashedSince(chain, registry, firstBlock)
  log.info(
    {
      seconds: Math.round((Date.now() - started) / 1000),
      jobs: jobs.length,
      statuses: jobs.map((j) => jobStatusName(j.status)),
      removed,
      slashed: slashed.map((e) => ({ provider: e.args.provider, jobId: String(e.args.jobId) })),
    },
    'reorg test summary',
  )
  expect(removedCount(removed, 'assign')).toBeGreaterThan(0)
  expect(removedCount(removed, 'commitResult')).toBeGreaterThan(0)
  expect(removedCount(removed, 'revealResult')).toBeGreaterThan(0)
  expect(removedCount(removed, 'settled')).toBeGreaterThan(0)
  // A submission a reorg took out is not sent again: the jobs are those whose submission is still on chain.
  expect(jobs.length).toBe(await stillMined(chain, requester.state.hashes))
  expect(jobs.map((j) => jobStatusName(j.status))).toEqual(jobs.map(() => 'COMPLETED'))
  expect(slashed).toEqual([])
  expect(await Promise.all(providers.map((p) => stakeOf(chain, registry, p)))).toEqual(stakes)

  // The chain stops here (what the leader still sends waits in the pool), so both indexes can reach the same head.
  await chain.testClient.setAutomine(false)
  const head = await chain.publicClient.getBlockNumber({ cacheTime: 0 })
  const live = await waitFor('the live index at the head', async () => {
    const view = await indexedView(stack.graphqlUrl)
    // The server reads the chain head through viem, which caches it for a second: wait for both.
    const { block, chainHead } = view.market._meta
    return block === String(head) && chainHead === String(head) ? view : undefined
  })
  // Every row is in the answers, none left on a next page.
  expect([live.jobs.jobs, live.providers.providers, live.epochs.epochs].map((c) => c.pageInfo.hasNextPage)).toEqual([false, false, false])
  expect(live.jobs.jobs.edges.map((e) => e.node.status)).toEqual(jobs.map(() => 'COMPLETED'))
  expect(live.providers.providers.edges.map((e) => e.node.slashCount)).toEqual(providers.map(() => 0))
  expect(live.providers.providers.edges.map((e) => e.node.noShowCount)).toEqual(providers.map(() => 0))
  expect(live.epochs.epochs.totalCount).toBeGreaterThan(0)

  // Ponder writes to its sync store what its backfill fetched (finalized blocks, at start) and, with `disableCache` as
  // on the devnet, no live block; no reorg here reaches Ponder's finality depth (30 blocks). So the second Ponder, whose
  // backfill reads through the store, can't read a reorged-out block from it.
  expect(await staleSyncBlocks()).toEqual([])
  reindexer = await startTestPonder(stack, { databaseUrl: database.url, deploymentPath: stack.deploymentPath, viewsSchema: reindexedViews })
  reindexedDb = createDb({ databaseUrl: database.url }).db
  const { yoga } = createYoga({
    db: reindexedDb,
    viewsSchema: reindexedViews,
    deployment: stack.deployment,
    dataDir: path.join(dataDir, 'reindexed'),
    publicClient: chain.publicClient,
  })
  const yogaFetch: Fetch = (url, init) => yoga.fetch(url, init)
  const [liveAgain, reindexed] = await Promise.all([indexedView(stack.graphqlUrl), indexedView('http://localhost/graphql', yogaFetch)])
  expect(liveAgain).toEqual(live)
  expect(reindexed).toEqual(live)
  log.info({ seconds: Math.round((Date.now() - started) / 1000) }, 'reorg test done')
}, 180_000)
