import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import {
  type Address,
  encodeErrorResult,
  type Hex,
  type Log,
  type PrivateKeyAccount,
  parseEther,
  parseEventLogs,
  slice,
  toFunctionSelector,
} from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobMarketAbi, providerRegistryAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { TestSystem } from '../devnet/testSystem.ts'
import { firstDisagreementOf } from '../protocol/agreement.ts'
import { JobStatus } from '../protocol/enums.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { failureFingerprintOf, type JobFailureReason } from '../protocol/jobInputs.ts'
import { buildOutputTree, openingOf } from '../protocol/outputTree.ts'
import { sleep } from '../protocol/retry.ts'
import { takeOf } from '../protocol/settlement.ts'
import { decodeTensorBlob } from '../protocol/tensorBlob.ts'
import { BPS } from '../protocol/units.ts'
import { waitFor as pollFor } from '../test/support/graphql.ts'
import { buildBroadcast } from './models/buildBroadcast.ts'
import { buildMlp } from './models/buildMlp.ts'
import { encodeGetJob } from './roundReads.ts'
import { type RunAgentParameters, runAgent } from './runAgent.ts'
import {
  type AgentTestBed,
  chainAssignment,
  journaledEntry,
  startAgentTestBed,
  stopAgentTestBed,
  submitAndAssignJob,
  type TestServer,
  testAgentParameters,
} from './testServer.ts'

let bed: AgentTestBed
let system: TestSystem
let server: TestServer
let modelHash: Hex
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })

beforeAll(async () => {
  bed = await startAgentTestBed('tessera-agent-')
  ;({ system, server } = bed)
  const model = buildMlp({ seed: 7, inputSize: 16, hiddenSize: 32, outputSize: 8 })
  modelHash = sha256Hex(model)
  server.blobs.set(modelHash, model)
  // p2 registered up front, so each test can assign to it whether or not its agent is up yet.
  await (await runAgent(agentParameters(devKeys[3], 'p2'))).stop()
}, 120_000)

afterAll(() => stopAgentTestBed(bed))

const agentParameters = (key: Hex, name: string, extra: Partial<RunAgentParameters> = {}) => testAgentParameters(bed, log, key, name, extra)
const waitFor = <T>(what: string, check: () => Promise<T | undefined | false>) =>
  pollFor(what, async () => (await check()) || undefined, { intervalMs: 100, timeoutMs: 30_000 })

const readJob = (jobId: bigint) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
const readJobCount = async () =>
  (await system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'nextJobId' })) - 1n
const readSlot = (jobId: bigint, a: Address) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getSlot', args: [jobId, a] })
const readProvider = (a: Address) =>
  system.publicClient.readContract({ address: system.registry, abi: providerRegistryAbi, functionName: 'getProvider', args: [a] })

/** Submits a k=2 job as requester 0 and assigns it to `providers` as the matcher; publishes the assignments. */
const submitAndAssign = (providers: PrivateKeyAccount[], seed: number, rows = 4, tamper = false) =>
  submitAndAssignJob(bed, { providers, modelHash, seed, rows, tamper })

const readOwed = (a: Address) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'owed', args: [a] })
const readLocked = (a: Address, jobId: bigint) =>
  system.publicClient.readContract({ address: system.registry, abi: providerRegistryAbi, functionName: 'lockedFor', args: [a, jobId] })
const waitRevealed = (jobId: bigint) => waitFor('job revealed', async () => (await readJob(jobId)).status === JobStatus.Revealed)

/** The statuses a verdict leaves a job in. */
const verdicts: number[] = [JobStatus.Completed, JobStatus.FailedInvalid, JobStatus.Failed, JobStatus.Disputed]

/**
 * Waits for the job's verdict: the last reveal's, when no two results differ, or else `finalize`'s, sent as the keeper
 * once the job is Revealed (the caller lets any proof window pass first). Returns the job after it and the verdict's
 * events of this job (market and registry).
 */
async function settle(jobId: bigint) {
  const status = await waitFor('job revealed or settled', async () => {
    const { status } = await readJob(jobId)
    return (status === JobStatus.Revealed || verdicts.includes(status)) && status
  })
  const receipt =
    status === JobStatus.Revealed
      ? await system.write(system.accounts.deployer, { address: system.market, abi: jobMarketAbi, functionName: 'finalize', args: [jobId] })
      : await verdictReceipt(jobId)
  return { job: await readJob(jobId), events: settlementOf(receipt.logs, jobId) }
}

/** The receipt of the transaction that judged `jobId` last (a JobFinalized or JobDisputed). */
async function verdictReceipt(jobId: bigint) {
  const logs = await system.publicClient.getContractEvents({ address: system.market, abi: jobMarketAbi, args: { jobId }, fromBlock: 0n })
  const verdict = logs.filter((log) => log.eventName === 'JobFinalized' || log.eventName === 'JobDisputed').at(-1)
  if (!verdict) throw new Error(`job ${jobId} has no verdict on chain`)
  return system.publicClient.getTransactionReceipt({ hash: verdict.transactionHash })
}

async function settleAndCheck(jobId: bigint) {
  return (await settle(jobId)).job
}

/** JobMarket's `Outcome` enum, as `SlotSettled` reports it. */
const SlotOutcome = { Agreed: 0, Dissented: 1, NoReveal: 2, Released: 3 } as const

/**
 * What a verdict did to `jobId`'s money, event for event: fees paid, refunds, slashes, and how each slot settled. A
 * provider's batch may settle other jobs in the same transaction: their events are left out.
 */
function settlementOf(logs: Log[], jobId: bigint) {
  const events = parseEventLogs({ abi: [...jobMarketAbi, ...providerRegistryAbi], logs }).filter(
    (e) => (e.args as { jobId?: bigint }).jobId === jobId,
  )
  const args = <T>(eventName: string) => events.filter((e) => e.eventName === eventName).map((e) => e.args as T)
  return {
    paid: args<{ provider: Address; amount: bigint }>('ProviderPaid').map((a) => [a.provider, a.amount]),
    refunded: args<{ amount: bigint }>('Refunded').map((a) => a.amount),
    slashed: args<{ provider: Address }>('Slashed').map((a) => a.provider),
    settled: args<{ provider: Address; outcome: number }>('SlotSettled').map((a) => [a.provider, a.outcome]),
  }
}

/** Waits for the agent with data dir `name` to finish its journal entry for `jobId` (mining past its confirmations). */
async function doneEntry(name: string, jobId: bigint) {
  await system.testClient.mine({ blocks: 2 })
  return waitFor(`${name} done with job ${jobId}`, async () => {
    const entry = await journaledEntry(bed, name, jobId)
    return entry?.state === 'done' && entry
  })
}

/** Both providers' slots of `jobId` hold `reason` revealed, with no output. */
async function expectReportedFailure(jobId: bigint, providers: PrivateKeyAccount[], reason: JobFailureReason) {
  for (const p of providers)
    expect(await readSlot(jobId, p.address)).toMatchObject({
      revealed: true,
      fingerprint: failureFingerprintOf(reason),
      outputHash: zeroHash,
    })
}

const zeroHash = `0x${'00'.repeat(32)}`

type RpcRequest = { id: unknown; method: string; params?: [{ data?: Hex; input?: Hex }] }

/** A JSON-RPC node in front of `upstream`: `intercept` sees each request first, and what it doesn't answer goes on. */
async function startNodeProxy(upstream: string, intercept: (request: RpcRequest) => object | undefined) {
  const answer = async (request: RpcRequest) => {
    const answered = intercept(request)
    if (answered) return answered
    const response = await fetch(upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    })
    return response.json()
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[]
      const result = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/**
 * A JSON-RPC node in front of `upstream` that answers the first `refusals` simulations and estimates (`eth_call`,
 * `eth_estimateGas`, `eth_fillTransaction`) of calls to `selector` as JobMarket would have a block earlier, before the
 * job was assigned: reverted with `UnexpectedStatus(jobId, Open)`. Everything else, and those after, go to `upstream`.
 */
async function startLaggingNode(upstream: string, options: { selector: Hex; refusals: number }) {
  let refused = 0
  const node = await startNodeProxy(upstream, (request) => {
    const data = request.params?.[0]?.data ?? request.params?.[0]?.input
    if (
      !['eth_call', 'eth_estimateGas', 'eth_fillTransaction'].includes(request.method) ||
      !data?.startsWith(options.selector) ||
      refused >= options.refusals
    )
      return undefined
    refused++
    const jobId = BigInt(slice(data, 4, 36))
    const revert = encodeErrorResult({ abi: jobMarketAbi, errorName: 'UnexpectedStatus', args: [jobId, JobStatus.Open] })
    return { jsonrpc: '2.0', id: request.id, error: { code: 3, message: 'execution reverted', data: revert } }
  })
  return { ...node, refused: () => refused }
}
const metricsOf = async (agent: { httpUrl?: string }) => (await fetch(`${agent.httpUrl}/metrics`)).text()

describe('runAgent against anvil', () => {
  it('registers and stakes minStake × 10, heartbeats, and does nothing on chain when restarted', async () => {
    const [p1] = system.accounts.providers
    const agent = await runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0 }))
    expect(agent.address).toBe(p1.address)
    const minStake = system.deployment.params.registry.minStake
    const provider = await readProvider(p1.address)
    expect(provider.registered).toBe(true)
    expect(provider.stake).toBe(minStake * 10n)
    expect(provider.pricePerUnit).toBe(parseEther('0.001'))
    expect(provider.hardware.benchmarkScore).toBe(1000)
    await waitFor('a heartbeat', async () => server.heartbeats.some((h) => h.provider === p1.address))
    await waitFor('ready', async () => (await fetch(`${agent.httpUrl}/ready`)).status === 200)
    const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/tessera_agent_heartbeats_total\{result="ok"\} [1-9]/)
    await agent.stop()

    const nonce = await system.publicClient.getTransactionCount({ address: p1.address })
    const again = await runAgent(agentParameters(devKeys[2], 'p1'))
    expect(await system.publicClient.getTransactionCount({ address: p1.address })).toBe(nonce)
    await again.stop()
    // A new ask is an update, not a second registration.
    const repriced = await runAgent(agentParameters(devKeys[2], 'p1', { pricePerUnit: parseEther('0.002') }))
    expect((await readProvider(p1.address)).pricePerUnit).toBe(parseEther('0.002'))
    await repriced.stop()
    const back = await runAgent(agentParameters(devKeys[2], 'p1'))
    await back.stop()
    // A measured benchmark is kept in the data dir, so restarts without a fixed score send nothing either.
    const measured = await runAgent(agentParameters(devKeys[2], 'p1', { hardware: {} }))
    await measured.stop()
    const nonce2 = await system.publicClient.getTransactionCount({ address: p1.address })
    const measuredAgain = await runAgent(agentParameters(devKeys[2], 'p1', { hardware: {} }))
    await measuredAgain.stop()
    expect(await system.publicClient.getTransactionCount({ address: p1.address })).toBe(nonce2)
    expect((await readProvider(p1.address)).hardware.benchmarkScore).toBeGreaterThan(1000)
  })

  it('tops the stake back up while running when part of it starts unbonding', async () => {
    const [p1] = system.accounts.providers
    const agent = await runAgent(agentParameters(devKeys[2], 'p1', { maintenanceIntervalMs: 100 }))
    try {
      const target = system.deployment.params.registry.minStake * 10n
      await system.write(p1, {
        address: system.registry,
        abi: providerRegistryAbi,
        functionName: 'requestUnstake',
        args: [parseEther('100')],
      })
      const p = await waitFor('the top-up', async () => {
        const p = await readProvider(p1.address)
        return p.stake - p.pendingUnstake >= target && p
      })
      expect(p.pendingUnstake).toBe(parseEther('100'))
      expect(p.stake).toBe(target + parseEther('100'))
    } finally {
      await agent.stop()
    }
  })

  it('refuses to start with a clear error when the wallet holds too little TSR', async () => {
    await expect(runAgent(agentParameters(devKeys[4], 'poor'))).rejects.toThrow(/holds 0 TSR but needs 1000 TSR more/)
  })

  it('runs a k=2 job end to end: compute, commit, reveal, and both agree', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
    const a2 = await runAgent(agentParameters(devKeys[3], 'p2'))
    try {
      const jobId = await submitAndAssign([p1, p2], 11)
      const job = await settleAndCheck(jobId)
      expect(job.status).toBe(JobStatus.Completed)
      const [s1, s2] = await Promise.all([p1, p2].map((p) => readSlot(jobId, p.address)))
      expect(s1.fingerprint).toBe(s2.fingerprint)
      expect(s1.outputHash).toBe(s2.outputHash)
      expect(server.blobs.has(s1.outputHash)).toBe(true)
      const owed = await system.publicClient.readContract({
        address: system.market,
        abi: jobMarketAbi,
        functionName: 'owed',
        args: [p1.address],
      })
      expect(owed).toBeGreaterThanOrEqual(parseEther('0.004'))
    } finally {
      await Promise.all([a1.stop(), a2.stop()])
    }
  })

  it('hears of an assignment from the chain at the next head when the server never publishes it, and completes it', async () => {
    const [p1, p2] = system.accounts.providers
    // The windows read once at the start and then a minute later: the assignment can only come from the new head.
    const fast = { chainWatchIntervalMs: 60_000, httpPort: 0 }
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', fast))
    const a2 = await runAgent(agentParameters(devKeys[3], 'p2', fast))
    try {
      // The server never publishes this round: only the chain knows of it.
      const jobId = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash, seed: 17, rows: 3, publish: false })
      const job = await settleAndCheck(jobId)
      expect(job.status).toBe(JobStatus.Completed)
      for (const agent of [a1, a2]) expect(await metricsOf(agent)).toMatch(/tessera_agent_chain_assignments_total [1-9]/)
      expect(await readOwed(p1.address)).toBeGreaterThan(0n)
    } finally {
      await Promise.all([a1.stop(), a2.stop()])
    }
  })

  it('reads the head as often as headIntervalMs asks while idle, and still hears of an assignment at the next head', async () => {
    const [p1, p2] = system.accounts.providers
    // Each agent behind a node of its own that counts its head reads; the windows read once, at the start.
    const headReads = [0, 0]
    const nodes = await Promise.all(
      [0, 1].map((i) =>
        startNodeProxy(system.rpcUrl, (request) => {
          if (request.method === 'eth_blockNumber') headReads[i]++
          return undefined
        }),
      ),
    )
    // Data folders of their own: a journal holding an earlier test's job in flight would read the head for it.
    const quiet = { chainWatchIntervalMs: 60_000 }
    const a1 = await runAgent(agentParameters(devKeys[2], 'idle-p1', { ...quiet, rpcUrl: nodes[0].url, headIntervalMs: 1_000 }))
    const a2 = await runAgent(agentParameters(devKeys[3], 'idle-p2', { ...quiet, rpcUrl: nodes[1].url }))
    try {
      const before = [...headReads]
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      const [slow, fast] = headReads.map((reads, i) => reads - before[i])
      // Every second against every quarter second (the default), over the same 3 s.
      expect(slow).toBeGreaterThanOrEqual(2)
      expect(slow).toBeLessThanOrEqual(5)
      expect(fast).toBeGreaterThanOrEqual(3 * slow)
      const jobId = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash, seed: 19, rows: 2, publish: false })
      expect((await settleAndCheck(jobId)).status).toBe(JobStatus.Completed)
    } finally {
      await Promise.all([a1.stop(), a2.stop()])
      await Promise.all(nodes.map((node) => node.stop()))
    }
  })

  it('fetches the input the server names while it reads the chain; where the chain names another, runs that and stops the first fetch', async () => {
    const [p1, p2] = system.accounts.providers
    const onlyServer = { chainWatchIntervalMs: 0 }
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', onlyServer))
    const a2 = await runAgent(agentParameters(devKeys[3], 'p2', onlyServer))
    // The server names, for p1 only, an input the chain doesn't, and answers it 503 (retryable) for as long as asked.
    const [named, stale] = [sha256Hex(randomBytes(32)), sha256Hex(randomBytes(32))]
    server.held.set(named, 0)
    try {
      const jobId = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash, seed: 23, rows: 3, publish: false })
      const job = await readJob(jobId)
      for (const [slot, p] of [p1, p2].entries()) {
        const assignment = chainAssignment({ jobId, provider: p.address, slot, job })
        server.publish(slot === 0 ? { ...assignment, job: { ...assignment.job, inputHash: named } } : assignment)
      }
      // Both ran the chain's input, so they agree.
      expect((await settleAndCheck(jobId)).status).toBe(JobStatus.Completed)
      // An assignment no longer current (the job completed) is skipped, and its fetch stopped too.
      await doneEntry('p1', jobId)
      server.held.set(stale, 0)
      const later = chainAssignment({ jobId, provider: p1.address, slot: 0, job: { ...job, commitDeadline: job.commitDeadline + 1n } })
      server.publish({ ...later, job: { ...later.job, inputHash: stale } })
      await waitFor('the stale assignment fetched', async () => (server.held.get(stale) ?? 0) > 0)
      const asked = [server.held.get(named) ?? 0, server.held.get(stale) ?? 0]
      expect(asked[0]).toBeGreaterThan(0) // fetched before the chain was read
      await sleep(2_000) // past the retries' backoff (250, 500 and 1,000 ms)
      expect([server.held.get(named), server.held.get(stale)]).toEqual(asked) // and not since
    } finally {
      server.held.delete(named)
      server.held.delete(stale)
      await Promise.all([a1.stop(), a2.stop()])
    }
  })

  it('commits without reading the job again when no block came since it verified the assignment', async () => {
    const [p1, p2] = system.accounts.providers
    // What p1's agent asks its node once the job is known, in order: its reads of the job (in a multicall's calldata
    // too), and its sends.
    const asked: string[] = []
    let getJobOf = ''
    const node = await startNodeProxy(system.rpcUrl, (request) => {
      const data = request.params?.[0]?.data ?? ''
      if (request.method === 'eth_call' && getJobOf && data.includes(getJobOf)) asked.push('getJob')
      if (request.method === 'eth_sendRawTransaction' && getJobOf) asked.push('send')
      return undefined
    })
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', { rpcUrl: node.url, chainWatchIntervalMs: 0 }))
    let a2: Awaited<ReturnType<typeof runAgent>> | undefined
    try {
      // Blocks come only with transactions here, and p2's agent isn't up: none is mined between p1's verification of
      // the assignment and its commit.
      const jobId = (await readJobCount()) + 1n
      getJobOf = encodeGetJob(jobId).slice(2)
      await submitAndAssign([p1, p2], 37)
      await waitFor("p1's commit", async () => (await readSlot(jobId, p1.address)).commitment !== zeroHash)
      expect(asked.slice(0, asked.indexOf('send') + 1)).toEqual(['getJob', 'send'])
      a2 = await runAgent(agentParameters(devKeys[3], 'p2'))
      expect((await settleAndCheck(jobId)).status).toBe(JobStatus.Completed)
    } finally {
      await Promise.all([a1.stop(), a2?.stop()])
      await node.stop()
    }
  })

  it('handles several jobs at once without nonce clashes', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
    const a2 = await runAgent(agentParameters(devKeys[3], 'p2'))
    try {
      const jobIds = []
      for (let i = 0; i < 5; i++) jobIds.push(await submitAndAssign([p1, p2], 100 + i, 2 + i))
      const jobs = []
      for (const jobId of jobIds) jobs.push(await settleAndCheck(jobId)) // one deployer nonce at a time
      expect(jobs.map((j) => j.status)).toEqual(jobIds.map(() => JobStatus.Completed))
    } finally {
      await Promise.all([a1.stop(), a2.stop()])
    }
  })

  it('keeps trying a commit its node refuses as reverting several polls in a row (a node a block behind), and commits', async () => {
    const [p1, p2] = system.accounts.providers
    // p1's node hasn't seen the assign yet: it answers p1's commit simulations and estimates with UnexpectedStatus
    // (the job still Open), more times in a row than the agent once gave a job up after (three: a no-show, slashed).
    const node = await startLaggingNode(system.rpcUrl, {
      selector: toFunctionSelector('commitResult(uint256,bytes32,bytes32)'),
      refusals: 6,
    })
    // Each commit its own transaction, as the lagging node recognises it (a batch's simulation refuses alike:
    // agent/marketCalls.test.ts).
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', { rpcUrl: node.url, batchCalls: false }))
    const a2 = await runAgent(agentParameters(devKeys[3], 'p2'))
    try {
      const jobId = await submitAndAssign([p1, p2], 31)
      const { job, events } = await settle(jobId)
      expect(node.refused()).toBe(6)
      expect(job.status).toBe(JobStatus.Completed)
      expect(events.slashed).toEqual([])
      expect(events.settled).toEqual([
        [p1.address, SlotOutcome.Agreed],
        [p2.address, SlotOutcome.Agreed],
      ])
    } finally {
      await Promise.all([a1.stop(), a2.stop()])
      await node.stop()
    }
  })

  it('reveals after a restart between commit and reveal, resuming from the journal', async () => {
    const [p1, p2] = system.accounts.providers
    const agents: { stop: () => Promise<void> }[] = []
    try {
      const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
      agents.push(a1)
      const jobId = await submitAndAssign([p1, p2], 12)
      const commitment = await waitFor('p1 to commit', async () => {
        const s = await readSlot(jobId, p1.address)
        return s.commitment !== `0x${'00'.repeat(32)}` && s.commitment
      })
      await a1.stop() // p1 is down: its salt exists only in its journal.
      agents.push(await runAgent(agentParameters(devKeys[3], 'p2')))
      await waitFor('the job to be committed', async () => (await readJob(jobId)).status === JobStatus.Committed)
      agents.push(await runAgent(agentParameters(devKeys[2], 'p1')))
      const job = await settleAndCheck(jobId)
      expect(job.status).toBe(JobStatus.Completed)
      const s1 = await readSlot(jobId, p1.address)
      expect(s1.commitment).toBe(commitment)
      expect(s1.revealed).toBe(true)
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('commits while the server refuses its output upload, and reveals only once the upload went through', async () => {
    const [p1, p2] = system.accounts.providers
    const agents = [await runAgent(agentParameters(devKeys[2], 'p1')), await runAgent(agentParameters(devKeys[3], 'p2'))]
    server.uploadHold.on = true
    try {
      const refused = server.uploadHold.refused
      const jobId = await submitAndAssign([p1, p2], 41)
      await waitFor('both commits while uploads are refused', async () => (await readJob(jobId)).status === JobStatus.Committed)
      expect(server.uploadHold.refused).toBeGreaterThan(refused)
      // Nothing on chain needs the bytes before a reveal shows their hash: no reveal goes out without them.
      await sleep(1_500)
      expect((await readJob(jobId)).status).toBe(JobStatus.Committed)
      server.uploadHold.on = false
      expect((await settleAndCheck(jobId)).status).toBe(JobStatus.Completed)
      const { outputHash } = await readSlot(jobId, p1.address)
      expect(server.blobs.has(outputHash)).toBe(true)
    } finally {
      server.uploadHold.on = false
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('after a restart between commit and reveal with its upload never done, uploads its own copy, then reveals', async () => {
    const [p1, p2] = system.accounts.providers
    const agents: { stop: () => Promise<void> }[] = []
    server.uploadHold.on = true
    try {
      const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
      agents.push(a1)
      const jobId = await submitAndAssign([p1, p2], 43)
      await waitFor('p1 to commit while uploads are refused', async () => (await readSlot(jobId, p1.address)).commitment !== zeroHash)
      await a1.stop() // p1's output is on no server: only in its own copy.
      agents.push(await runAgent(agentParameters(devKeys[3], 'p2')))
      await waitFor('the job to be committed', async () => (await readJob(jobId)).status === JobStatus.Committed)
      server.uploadHold.on = false
      await waitFor("p2's reveal", async () => (await readSlot(jobId, p2.address)).revealed)
      const { outputHash } = await readSlot(jobId, p2.address)
      const uploadsBefore = server.uploads.get(outputHash) ?? 0
      agents.push(await runAgent(agentParameters(devKeys[2], 'p1')))
      expect((await settleAndCheck(jobId)).status).toBe(JobStatus.Completed)
      expect((await readSlot(jobId, p1.address)).outputHash).toBe(outputHash)
      expect(server.uploads.get(outputHash)).toBe(uploadsBefore + 1)
    } finally {
      server.uploadHold.on = false
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('a server that refuses every output upload: both still reveal once they waited uploadWaitMs, and are paid, not slashed', async () => {
    const [p1, p2] = system.accounts.providers
    const agents = [
      await runAgent(agentParameters(devKeys[2], 'p1', { uploadWaitMs: 1_000 })),
      await runAgent(agentParameters(devKeys[3], 'p2', { uploadWaitMs: 1_000 })),
    ]
    server.uploadHold.on = true
    try {
      const jobId = await submitAndAssign([p1, p2], 47)
      const { job, events } = await settle(jobId)
      expect(job.status).toBe(JobStatus.Completed)
      expect(events.slashed).toEqual([])
      expect(events.paid.map(([provider]) => provider)).toEqual(expect.arrayContaining([p1.address, p2.address]))
      expect(server.blobs.has((await readSlot(jobId, p1.address)).outputHash)).toBe(false)
    } finally {
      server.uploadHold.on = false
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('rejects an input blob whose bytes do not match its hash, and does not commit', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0 }))
    try {
      const jobId = await submitAndAssign([p1, p2], 14, 4, true)
      // Counted once for each way the assignment came (the server's feed, the chain's new head): each tries it.
      await waitFor('the failure to be counted', async () =>
        /tessera_agent_jobs_total\{outcome="error"\} [1-9]/.test(await (await fetch(`${a1.httpUrl}/metrics`)).text()),
      )
      const s1 = await readSlot(jobId, p1.address)
      expect(s1.commitment).toBe(`0x${'00'.repeat(32)}`)
    } finally {
      await a1.stop()
    }
  })

  it('opens an element of its own output when asked, from its own copy even when the server lost the blob', async () => {
    const [p1, p2] = system.accounts.providers
    // p2 lies, so the two results differ and the job waits out the proof window: two that agree would be settled by
    // the last reveal, leaving nothing to ask.
    const agents = [
      await runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0, chainWatchIntervalMs: 300 })),
      await runAgent(agentParameters(devKeys[3], 'p2', { httpPort: 0, chainWatchIntervalMs: 300, lie: true })),
    ]
    try {
      const jobId = await submitAndAssign([p1, p2], 21)
      await waitRevealed(jobId)
      const slot = await readSlot(jobId, p1.address)
      const output = server.blobs.get(slot.outputHash)
      if (!output) throw new Error('no output blob')
      const length = decodeTensorBlob(output).data.length
      server.blobs.delete(slot.outputHash)
      // A griefer asks past the end: the answer is the last element, as JobMarket accepts.
      const asked = await system.write(system.accounts.deployer, {
        address: system.market,
        abi: jobMarketAbi,
        functionName: 'requestOpening',
        args: [jobId, p1.address, 10_000n],
      })
      const opened = await waitFor('p1 opened an element', async () => {
        const logs = await system.publicClient.getContractEvents({
          address: system.market,
          abi: jobMarketAbi,
          eventName: 'ElementOpened',
          args: { jobId, provider: p1.address },
          fromBlock: asked.blockNumber,
        })
        return logs[0]
      })
      expect(opened.args.index).toBe(BigInt(length - 1))
      // p1 answered and nobody proved the two apart: past the window both count as agreeing.
      await system.increaseTime(system.deployment.params.market.proofWindow + 1n)
      const { job, events } = await settle(jobId)
      expect(job.status).toBe(JobStatus.Completed)
      expect(events.slashed).toEqual([])
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('a lying agent dissents: no majority at k=2, the job goes to a tie-break with both collaterals still locked', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0 }))
    const liar = await runAgent(agentParameters(devKeys[3], 'p2', { lie: true, httpPort: 0 }))
    try {
      const jobId = await submitAndAssign([p1, p2], 13)
      await waitRevealed(jobId)
      // The keeper's part: each output blob the agents uploaded opens against its fingerprint, and the liar's is out
      // of tolerance somewhere; proven, the two can't agree.
      const trees = await Promise.all(
        [p1, p2].map(async (p) => {
          const slot = await readSlot(jobId, p.address)
          const blob = server.blobs.get(slot.outputHash)
          if (!blob) throw new Error(`no output blob ${slot.outputHash}`)
          const tree = buildOutputTree(decodeTensorBlob(blob).data, 16)
          expect(tree.fingerprint).toBe(slot.fingerprint)
          return tree
        }),
      )
      const where = firstDisagreementOf({ a: trees[0], b: trees[1], toleranceBits: 16 })
      expect(where).not.toBeNull()
      const index = where === 'length' ? 0 : (where as number)
      await system.write(system.accounts.deployer, {
        address: system.market,
        abi: jobMarketAbi,
        functionName: 'proveDisagreement',
        args: [jobId, p1.address, openingOf(trees[0], index), p2.address, openingOf(trees[1], index)],
      })
      await system.increaseTime(system.deployment.params.market.proofWindow + 1n)
      const { job, events } = await settle(jobId)
      expect(job.status).toBe(JobStatus.Disputed)
      expect(job.disputed).toEqual([p1.address, p2.address])
      // Nobody is judged yet: the tie-break's verdict settles this round too.
      expect(events).toEqual({ paid: [], refunded: [], slashed: [], settled: [] })
      const [s1, s2] = await Promise.all([p1, p2].map((p) => readSlot(jobId, p.address)))
      expect(s1.fingerprint).not.toBe(s2.fingerprint)
      for (const [p, slot] of [
        [p1, s1],
        [p2, s2],
      ] as const) {
        expect(slot.assigned).toBe(false)
        expect(slot.collateral).toBeGreaterThan(0n)
        expect(await readLocked(p.address, jobId)).toBe(slot.collateral)
      }
      for (const [name, agent] of [
        ['p1', a1],
        ['p2', liar],
      ] as const) {
        expect((await doneEntry(name, jobId)).reason).toMatch(/^disputed/)
        expect(await metricsOf(agent)).toMatch(/tessera_agent_jobs_total\{outcome="disputed"\} 1\b/)
      }
    } finally {
      await Promise.all([a1.stop(), liar.stop()])
    }
  })
})

describe('runAgent when a job cannot run', () => {
  const runBoth = (extra: Partial<RunAgentParameters> = {}) =>
    Promise.all([
      runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0, ...extra })),
      runAgent(agentParameters(devKeys[3], 'p2', { httpPort: 0, ...extra })),
    ])
  /** Random bytes stored as a model: onnxruntime won't load them. */
  const junkModel = () => {
    const junk = new Uint8Array(randomBytes(512))
    server.blobs.set(sha256Hex(junk), junk)
    return sha256Hex(junk)
  }

  it('a model that does not load: both report MODEL_INVALID, the job ends FAILED_INVALID, each is paid the failure fee, nobody is slashed', async () => {
    const [p1, p2] = system.accounts.providers
    const agents = await runBoth()
    try {
      const [stakes, owed] = await Promise.all([
        Promise.all([p1, p2].map(async (p) => (await readProvider(p.address)).stake)),
        Promise.all([p1, p2].map((p) => readOwed(p.address))),
      ])
      const jobId = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash: junkModel(), seed: 15, rows: 4 })
      // The same failure twice: the second reveal settles the job.
      const { job, events } = await settle(jobId)
      expect(job.status).toBe(JobStatus.FailedInvalid)
      await expectReportedFailure(jobId, [p1, p2], 'MODEL_INVALID')
      const { escrow } = await readJob(jobId)
      const slots = await Promise.all([p1, p2].map((p) => readSlot(jobId, p.address)))
      const { failureFeeBps } = system.deployment.params.market
      const fees = slots.map((slot) => (slot.ask * 4n * failureFeeBps) / BPS)
      expect(fees[0]).toBeGreaterThan(0n)
      const paid = fees[0] + fees[1]
      expect(events).toEqual({
        paid: [
          [p1.address, fees[0]],
          [p2.address, fees[1]],
        ],
        refunded: [escrow - paid - takeOf(paid, system.deployment.params.market)],
        slashed: [],
        settled: [
          [p1.address, SlotOutcome.Agreed],
          [p2.address, SlotOutcome.Agreed],
        ],
      })
      expect(await Promise.all([p1, p2].map((p) => readOwed(p.address)))).toEqual([owed[0] + fees[0], owed[1] + fees[1]])
      expect(await Promise.all([p1, p2].map(async (p) => (await readProvider(p.address)).stake))).toEqual(stakes)
      expect(await Promise.all([p1, p2].map((p) => readLocked(p.address, jobId)))).toEqual([0n, 0n])
      for (const [name, agent] of [
        ['p1', agents[0]],
        ['p2', agents[1]],
      ] as const) {
        expect(await doneEntry(name, jobId)).toMatchObject({ failure: 'MODEL_INVALID', reason: 'failed invalid: agreed' })
        expect(await metricsOf(agent)).toMatch(/tessera_agent_failures_reported_total\{reason="MODEL_INVALID"\} 1\b/)
      }
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('an input that does not fit (rows other than units, or not a tensor blob): both report INPUT_MISMATCH', async () => {
    const [p1, p2] = system.accounts.providers
    const agents = await runBoth()
    try {
      const wrongUnits = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash, seed: 16, rows: 4, units: 5n })
      const notATensor = await submitAndAssignJob(bed, {
        providers: [p1, p2],
        modelHash,
        seed: 17,
        rows: 4,
        input: new TextEncoder().encode('{"not":"a tensor blob"}'),
      })
      for (const jobId of [wrongUnits, notATensor]) {
        expect((await settle(jobId)).job.status).toBe(JobStatus.FailedInvalid)
        await expectReportedFailure(jobId, [p1, p2], 'INPUT_MISMATCH')
      }
      for (const agent of agents)
        expect(await metricsOf(agent)).toMatch(/tessera_agent_failures_reported_total\{reason="INPUT_MISMATCH"\} 2\b/)
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('an inference that runs out of memory: both report OUT_OF_MEMORY, the job fails, both are released unpaid and unslashed', async () => {
    const [p1, p2] = system.accounts.providers
    // Its output would be 2^52 bytes, past what any process can address: onnxruntime fails the allocation.
    const greedy = buildBroadcast({ inputSize: 16, copies: 2n ** 44n })
    server.blobs.set(sha256Hex(greedy), greedy)
    const agents = await runBoth()
    try {
      const jobId = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash: sha256Hex(greedy), seed: 18, rows: 4 })
      const { job, events } = await settle(jobId)
      expect(job.status).toBe(JobStatus.Failed)
      await expectReportedFailure(jobId, [p1, p2], 'OUT_OF_MEMORY')
      const { escrow } = await readJob(jobId)
      expect(events).toEqual({
        paid: [],
        refunded: [escrow],
        slashed: [],
        settled: [
          [p1.address, SlotOutcome.Released],
          [p2.address, SlotOutcome.Released],
        ],
      })
      expect(await Promise.all([p1, p2].map((p) => readLocked(p.address, jobId)))).toEqual([0n, 0n])
      expect(await doneEntry('p1', jobId)).toMatchObject({ failure: 'OUT_OF_MEMORY', reason: 'job FAILED' })
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('an inference that cannot be done before the commit margin: both report TIMEOUT rather than stay silent', async () => {
    const [p1, p2] = system.accounts.providers
    // A margin longer than the commit window: no inference can be done in time, yet the commit still can. The agent
    // reads the deadline against its own clock, and earlier tests moved the chain's ahead (past proof windows).
    const chainAheadMs = Math.max(0, Number(await system.now()) * 1000 - Date.now())
    const commitMarginMs = Number(system.deployment.params.market.commitWindow) * 1000 + chainAheadMs + 60_000
    const agents = await runBoth({ commitMarginMs })
    try {
      const jobId = await submitAndAssign([p1, p2], 19)
      const { job, events } = await settle(jobId)
      expect(job.status).toBe(JobStatus.Failed)
      await expectReportedFailure(jobId, [p1, p2], 'TIMEOUT')
      expect(events.slashed).toEqual([])
      expect(events.settled).toEqual([
        [p1.address, SlotOutcome.Released],
        [p2.address, SlotOutcome.Released],
      ])
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('reveals a failure after a restart between commit and reveal, from the journal', async () => {
    const [p1, p2] = system.accounts.providers
    const agents: { stop: () => Promise<void> }[] = []
    try {
      const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
      agents.push(a1)
      const jobId = await submitAndAssignJob(bed, { providers: [p1, p2], modelHash: junkModel(), seed: 20, rows: 4 })
      const commitment = await waitFor('p1 to commit', async () => {
        const s = await readSlot(jobId, p1.address)
        return s.commitment !== zeroHash && s.commitment
      })
      await a1.stop() // p1 is down: its salt exists only in its journal.
      expect(await journaledEntry(bed, 'p1', jobId)).toMatchObject({ failure: 'MODEL_INVALID', commitment })
      agents.push(await runAgent(agentParameters(devKeys[3], 'p2')))
      await waitFor('the job to be committed', async () => (await readJob(jobId)).status === JobStatus.Committed)
      agents.push(await runAgent(agentParameters(devKeys[2], 'p1')))
      expect((await settle(jobId)).job.status).toBe(JobStatus.FailedInvalid)
      await expectReportedFailure(jobId, [p1, p2], 'MODEL_INVALID')
      expect((await readSlot(jobId, p1.address)).commitment).toBe(commitment)
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })
})
