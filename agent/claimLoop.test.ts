import path from 'node:path'
import pino from 'pino'
import { type Address, parseEther } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { jobMarketAbi, providerRegistryAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { fund, type TestSystem } from '../devnet/testSystem.ts'
import { JobStatus } from '../protocol/enums.ts'
import { TSR } from '../protocol/units.ts'
import { type StartServerReturnType, startServer } from '../server/startServer.ts'
import { gqlData, waitFor } from '../test/support/graphql.ts'
import { approveAndSubmitJob, uploadRunnableJob } from '../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../test/support/stack.ts'
import { type RunAgentReturnType, runAgent } from './runAgent.ts'

// Liveness without the matcher, on real parts: anvil (claimGrace 5 s), Ponder into Postgres, servers without a key (no
// matcher, no keeper) and three real agents. Two ask 0.001 TSR a unit, the third 0.05, above the jobs' max of 0.01.
// First the only server doesn't run the leader at all (no change feed): the agents claim a k=2 job and start the
// assignment themselves. Then a second server runs the leader, change feed only: the agents claim again, and get the
// assignments from the feed too, which the journal recognises. The test plays the keeper (finalize).

const viewsSchema = 'chain_claim_test'
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
let chain: IndexedTestChain
let system: TestSystem
const servers: StartServerReturnType[] = []
let agents: RunAgentReturnType[] = []
let pump: NodeJS.Timeout | undefined

const maxPricePerUnit = TSR / 100n
const asks = [parseEther('0.001'), parseEther('0.001'), parseEther('0.05')]

const startTestServer = async (leader: boolean) => {
  const server = await startServer({
    databaseUrl: chain.database.url,
    viewsSchema,
    rpcUrl: system.rpcUrl,
    deployment: chain.deployment,
    port: 0,
    dataDir: path.join(chain.tmpDir, `server-${servers.length}`),
    leader,
    log: log.child({ part: `server${servers.length}` }),
  })
  servers.push(server)
  return server
}

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-claim-',
    viewsSchema,
    params: { market: { claimGrace: 5n } },
    prepare: async (system) => {
      for (const p of system.accounts.providers) await fund(system, p.address, 5000n * TSR)
      await fund(system, system.accounts.requesters[0].address, 1000n * TSR)
    },
  })
  system = chain.system
  // An automining anvil's clock stands still between transactions: a block a second, as a chain has.
  pump = setInterval(() => void system.testClient.mine({ blocks: 1 }).catch(() => {}), 1000)
  const server = await startTestServer(false)
  agents = await Promise.all(
    // The test system's providers.
    [devKeys[2], devKeys[3], devKeys[4]].map((privateKey, i) =>
      runAgent({
        privateKey,
        serverUrl: server.url,
        rpcUrl: system.rpcUrl,
        dataDir: path.join(chain.tmpDir, `agent-${i}`),
        pricePerUnit: asks[i],
        hardware: { benchmarkScore: 1000 },
        pollIntervalMs: 100,
        claimIntervalMs: 300,
        // Off, so the claim loop's own hand-over is what starts a claimed job here, not the chain watch.
        chainWatchIntervalMs: 0,
        httpPort: 0,
        log: log.child({ agent: i }),
      }),
    ),
  )
}, 240_000)

afterAll(async () => {
  clearInterval(pump)
  await Promise.all(agents.map((a) => a.stop()))
  for (const server of servers.reverse()) await server.stop()
  await chain?.stop()
}, 60_000)

/** An agent's counter `name` with `labels` (0 when it has no such sample). */
async function metric(agent: RunAgentReturnType, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(new URL('/metrics', agent.httpUrl))).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line ? Number(line.split(' ').at(-1)) : 0
}

/** Submits a k=2 job of a runnable model and input and waits for the agents to take it, run it and agree: completed. */
async function runClaimedJob(): Promise<bigint> {
  const { requesters } = system.accounts
  const blobs = await uploadRunnableJob(servers[0].url, requesters[0])
  const { jobId } = await approveAndSubmitJob(system, requesters[0], { ...blobs, maxPricePerUnit })
  await waitFor(
    'the claimed job completed',
    async () => {
      const job = await system.read<{ status: number }>({
        address: system.market,
        abi: jobMarketAbi,
        functionName: 'getJob',
        args: [jobId],
      })
      return job.status === JobStatus.Completed ? true : undefined
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
  return jobId
}

/** Every SlotClaimed and Slashed since the deployment. */
async function claimsAndSlashes() {
  const fromBlock = BigInt(system.deployment.contracts.JobMarket.blockNumber)
  const [claims, slashes] = await Promise.all([
    system.publicClient.getContractEvents({ address: system.market, abi: jobMarketAbi, eventName: 'SlotClaimed', fromBlock }),
    system.publicClient.getContractEvents({ address: system.registry, abi: providerRegistryAbi, eventName: 'Slashed', fromBlock }),
  ])
  return { claimers: claims.map((c) => (c.args.provider as Address).toLowerCase()), slashes }
}

test('without a matcher or change feed, two eligible agents claim a k=2 job, run it and are paid; the third never claims', async () => {
  const [p1, p2] = system.accounts.providers
  const jobId = await runClaimedJob()

  const job = await system.read<{ status: number }>({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
  expect(job.status).toBe(JobStatus.Completed)
  for (const p of [p1, p2]) {
    const owed = await system.read<bigint>({ address: system.market, abi: jobMarketAbi, functionName: 'owed', args: [p.address] })
    expect(owed).toBe(asks[0] * 4n)
  }
  const { claimers, slashes } = await claimsAndSlashes()
  expect(claimers.sort()).toEqual([p1.address.toLowerCase(), p2.address.toLowerCase()].sort())
  expect(slashes).toEqual([])

  // No change feed ran: each agent started the assignment from its own claim.
  for (const agent of agents.slice(0, 2)) {
    expect(await metric(agent, 'tessera_agent_assignments_total')).toBe(0)
    await waitFor(
      'the agent done with the job',
      async () => ((await metric(agent, 'tessera_agent_jobs_total', 'outcome="agreed"')) === 1 ? true : undefined),
      {
        timeoutMs: 20_000,
        intervalMs: 200,
      },
    )
    const claims =
      (await metric(agent, 'tessera_agent_claims_total', 'result="claimed"')) +
      (await metric(agent, 'tessera_agent_claims_total', 'result="filled"'))
    expect(claims).toBe(1)
  }
  // Its ask is above the job's max price: it never tries.
  expect(await metric(agents[2], 'tessera_agent_claims_total', 'result="claimed"')).toBe(0)
  expect(await metric(agents[2], 'tessera_agent_claims_total', 'result="refused"')).toBe(0)

  const indexed = await waitFor(
    'the job completed in the index',
    async () => {
      const data = await gqlData<{ job: { status: string; claimed: boolean; claimers: string[]; openedAt: string } }>(
        new URL('/graphql', servers[0].url).toString(),
        'query($id: BigInt!) { job(id: $id) { status claimed claimers openedAt } }',
        { id: jobId.toString() },
      )
      return data.job.status === 'COMPLETED' ? data.job : undefined
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  )
  expect(indexed).toMatchObject({ status: 'COMPLETED', claimed: true, claimers: [] })
  // What the agents asked: jobs opened at or before a time.
  const opened = async (openedBefore: bigint) =>
    (
      await gqlData<{ jobs: { totalCount: number } }>(
        new URL('/graphql', servers[0].url).toString(),
        'query($id: BigInt!, $t: BigInt!) { jobs(where: { id_in: [$id], openedBefore: $t }) { totalCount } }',
        { id: jobId.toString(), t: openedBefore.toString() },
      )
    ).jobs.totalCount
  const openedAt = BigInt(indexed.openedAt)
  expect([await opened(openedAt - 1n), await opened(openedAt)]).toEqual([0, 1])
}, 120_000)

test('with the change feed running (no matcher), the claimed assignment also comes through the subscription, and is run once', async () => {
  await startTestServer(true)
  const jobId = await runClaimedJob()
  const job = await system.read<{ status: number }>({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
  expect(job.status).toBe(JobStatus.Completed)
  for (const agent of agents.slice(0, 2)) {
    // This job's assignment, and the first job's replayed: both recognised by the journal.
    await waitFor(
      'the change feed delivered',
      async () => ((await metric(agent, 'tessera_agent_assignments_total')) >= 2 ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    )
    await waitFor(
      'the agent done with both jobs',
      async () => ((await metric(agent, 'tessera_agent_jobs_total', 'outcome="agreed"')) === 2 ? true : undefined),
      {
        timeoutMs: 20_000,
        intervalMs: 200,
      },
    )
    expect(await metric(agent, 'tessera_agent_jobs_total', 'outcome="error"')).toBe(0)
    expect(await metric(agent, 'tessera_agent_jobs_total', 'outcome="skipped"')).toBe(0)
  }
  const { slashes } = await claimsAndSlashes()
  expect(slashes).toEqual([])
}, 120_000)
