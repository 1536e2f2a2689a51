import pino from 'pino'
import { type Address, createWalletClient, decodeFunctionData, type Hash, type Hex, http, type PublicClient, parseEther } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { type AgentTestBed, startAgentTestBed, startTwoAgents, stopAgentTestBed, type TestServer } from '../agent/testServer.ts'
import { TxSender } from '../agent/txSender.ts'
import { jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { sampleJobSpec, type TestSystem } from '../devnet/testSystem.ts'
import { JobStatus, jobStatusName } from '../protocol/enums.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { sleep } from '../protocol/retry.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { createChainClients } from '../server/leader/chainClients.ts'
import { createTransactionSender } from '../server/leader/transactionSender.ts'

// Reorgs during live traffic: two honest agents work k=2 jobs through commit and reveal while the chain is
// reorganised at depths 1, 5 and 20, each time taking out commits, reveals, assigns and finalizes that were mined.
// The leader's part is played by its transaction sender driven from the chain (assign Open jobs, finalize, expire,
// publish each assignment round to the agents), so no indexer is needed. Agents and sender confirm at a depth above
// the deepest reorg. Afterwards every job must be Completed, nobody slashed, and no nonce left with a gap.

const confirmations = 24
const jobCount = 12
const reorgDepths = [1, 5, 20] as const
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })

let bed: AgentTestBed
let system: TestSystem
let server: TestServer
let modelHash: Hex

beforeAll(async () => {
  bed = await startAgentTestBed('tessera-reorg-')
  ;({ system, server } = bed)
  const { requesters } = system.accounts
  await system.write(requesters[0], {
    address: system.token,
    abi: tesseraTokenAbi,
    functionName: 'approve',
    args: [system.market, parseEther('100000')],
  })
  const model = buildMlp({ seed: 3, inputSize: 16, hiddenSize: 16, outputSize: 4 })
  modelHash = sha256Hex(model)
  server.blobs.set(modelHash, model)
}, 120_000)

afterAll(() => stopAgentTestBed(bed))

const readJob = (jobId: bigint, blockNumber?: bigint) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId], blockNumber })
const nextJobId = (blockNumber?: bigint) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'nextJobId', blockNumber })
const stakeOf = async (a: Address) =>
  (await system.publicClient.readContract({ address: system.registry, abi: providerRegistryAbi, functionName: 'getProvider', args: [a] }))
    .stake
const noncesOf = async (address: Address) => ({
  latest: await system.publicClient.getTransactionCount({ address, blockTag: 'latest' }),
  pending: await system.publicClient.getTransactionCount({ address, blockTag: 'pending' }),
})

/** Runs `tick` every `ms` until stopped; a failed tick is logged and the next one runs. */
function every(ms: number, tick: () => Promise<void>) {
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      await tick().catch((error: unknown) => log.warn({ err: error }, 'test loop tick failed'))
      await sleep(ms)
    }
  })()
  return async () => {
    stopped = true
    await loop
  }
}

/**
 * The leader's chain work, read from the chain instead of the index: assign Open jobs to the two providers, publish
 * each assignment round once, finalize Revealed jobs (and Committed ones past the reveal window), expire
 * assignments past the commit window. Every transaction goes through the leader's transaction sender.
 */
function startLeaderRole(providers: Address[]) {
  const { walletClient, publicClient } = createChainClients({
    rpcUrl: system.rpcUrl,
    chainId: system.deployment.chainId,
    serverKey: devKeys[1],
  })
  if (!walletClient) throw new Error('no wallet client')
  const sender = createTransactionSender({
    publicClient,
    walletClient,
    log: log.child({ part: 'leader' }),
    confirmations,
    reconcileIntervalMs: 200,
  })
  const published = new Set<string>()
  const stop = every(150, async () => {
    const head = await system.publicClient.getBlock({ blockTag: 'latest' })
    // The change feed's part: each JobAssigned event once, by its block hash and log index as an indexer keys it, so
    // an assignment a reorg took out and the sender put back is published again.
    const assigned = await system.publicClient.getContractEvents({
      address: system.market,
      abi: jobMarketAbi,
      eventName: 'JobAssigned',
      fromBlock: head.number > 64n ? head.number - 64n : 0n,
      toBlock: head.number,
    })
    for (const event of assigned) {
      const { jobId, provider, slot, commitDeadline } = event.args
      const id = `${event.blockHash}:${event.logIndex}`
      if (published.has(id) || jobId === undefined || provider === undefined || slot === undefined) continue
      published.add(id)
      const { spec } = await readJob(jobId, head.number)
      server.publish({
        jobId: String(jobId),
        provider,
        slot,
        pricePerUnit: parseEther('0.001').toString(),
        collateral: '0',
        commitDeadline: String(commitDeadline),
        job: {
          id: String(jobId),
          modelHash: spec.modelHash,
          inputHash: spec.inputHash,
          units: String(spec.units),
          outputTolerance: spec.outputTolerance,
          redundancy: spec.redundancy,
          deadline: String(spec.deadline),
        },
      })
    }
    const count = await nextJobId(head.number)
    const actionable: [string, bigint][] = []
    for (let id = 1n; id < count; id++) {
      const job = await readJob(id, head.number)
      if (job.status === JobStatus.Open) actionable.push(['assign', id])
      else if (job.status === JobStatus.Assigned) {
        if (head.timestamp > job.commitDeadline) actionable.push(['expireAssignment', id])
      } else if (job.status === JobStatus.Revealed || (job.status === JobStatus.Committed && head.timestamp > job.revealDeadline))
        actionable.push(['finalize', id])
    }
    const keys = new Set(actionable.map(([action, id]) => `${action}:${id}`))
    sender.settle((key) => keys.has(key))
    for (const [action, id] of actionable)
      await sender.send({
        key: `${action}:${id}`,
        action,
        address: system.market,
        abi: jobMarketAbi,
        functionName: action,
        args: action === 'assign' ? [id, providers] : [id],
        meta: undefined,
      })
  })
  return { sender, stop }
}

/** Submits `jobCount` k=2 jobs as requester 0, one at a time; `submitted` counts them. */
function startRequester() {
  const state = { submitted: 0, done: false, hashes: [] as Hash[] }
  const account = system.accounts.requesters[0]
  const walletClient = createWalletClient({ chain: system.chain, transport: http(system.rpcUrl), account, pollingInterval: 50 })
  const submitter = new TxSender(system.publicClient as PublicClient, walletClient, account, log, undefined, { droppedAfterMs: 1000 })
  const run = (async () => {
    for (let i = 0; i < jobCount; i++) {
      const rows = 2 + (i % 3)
      const input = encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed: 100 + i, rows, inputSize: 16 }) })
      const inputHash = sha256Hex(input)
      server.blobs.set(inputHash, input)
      const spec = await sampleJobSpec(system, { modelHash, inputHash, units: BigInt(rows), maxPricePerUnit: parseEther('0.01') })
      // Sent through the agent's sender: a submission a reorg takes out before its receipt was seen fails instead of
      // waiting for a receipt that never comes. That job then doesn't exist; the requester goes on with the next.
      const sent = await submitter
        .send({ address: system.market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
        .catch((error: unknown) => log.info({ err: error }, 'submission lost'))
      if (sent) state.hashes.push(sent.hash)
      state.submitted++
      await sleep(250)
    }
    state.done = true
  })()
  return { state, run }
}

type Removed = Record<string, number>

/** Which of the transactions in blocks `from..to` a predicate wants, by function name (JobMarket calls only). */
async function callsIn(from: bigint, to: bigint): Promise<{ hash: Hash; name: string }[]> {
  const calls: { hash: Hash; name: string }[] = []
  for (let n = from; n <= to; n++) {
    const block = await system.publicClient.getBlock({ blockNumber: n, includeTransactions: true })
    for (const tx of block.transactions) {
      if (tx.to?.toLowerCase() !== system.market.toLowerCase()) continue
      calls.push({ hash: tx.hash, name: decodeFunctionData({ abi: jobMarketAbi, data: tx.input }).functionName })
    }
  }
  return calls
}

/**
 * Waits (up to 15 s) until the last `depth` blocks hold the calls `wanted` names, then reorganises them away (replaced
 * by as many empty blocks) and returns what the reorg took out; past the wait it reorganises whatever is there (a
 * frozen market sends nothing: the checks after the traffic say what went wrong). Blocks are held back (no automine,
 * no pump) while it looks and reorgs, so the blocks it looked at are the ones that go; what is sent meanwhile waits
 * in the pool.
 */
async function reorgWhen(depth: number, wanted: string[], pump: { paused: boolean }): Promise<Removed> {
  pump.paused = true
  const until = Date.now() + 15_000
  try {
    for (;;) {
      await system.testClient.setAutomine(false)
      const head = await system.publicClient.getBlockNumber({ cacheTime: 0 })
      const calls = await callsIn(head - BigInt(depth) + 1n, head)
      if (wanted.every((name) => calls.some((c) => c.name === name)) || Date.now() > until) {
        await system.testClient.request({ method: 'anvil_reorg', params: [depth, []] } as never)
        const removed: Removed = {}
        for (const c of calls)
          if (!(await system.publicClient.getTransactionReceipt({ hash: c.hash }).catch(() => undefined)))
            removed[c.name] = (removed[c.name] ?? 0) + 1
        return removed
      }
      await system.testClient.setAutomine(true)
      await system.testClient.mine({ blocks: 1 }) // what was sent while looking, so traffic goes on
      await sleep(20)
    }
  } finally {
    await system.testClient.setAutomine(true)
    await system.testClient.mine({ blocks: 1 }) // what waited in the pool
    pump.paused = false
  }
}

test('reorgs of depth 1, 5 and 20 during live traffic: every job completes, nobody is slashed, no nonce gap', async () => {
  const started = Date.now()
  const [p1, p2] = system.accounts.providers
  const agents = await startTwoAgents(bed, log, { confirmations })
  const stakes = [await stakeOf(p1.address), await stakeOf(p2.address)]
  const firstBlock = await system.publicClient.getBlockNumber({ cacheTime: 0 })
  // Empty blocks between transactions, so confirmations keep coming when traffic pauses.
  const pump = { paused: false }
  const stopPump = every(100, async () => {
    if (!pump.paused) await system.testClient.mine({ blocks: 1 })
  })
  const leader = startLeaderRole([p1.address, p2.address])
  const requester = startRequester()
  const removed: Removed[] = []
  try {
    for (const [i, depth] of reorgDepths.entries()) {
      while (requester.state.submitted < 3 * (i + 1)) await sleep(50)
      const wanted =
        depth === 1 ? ['commitResult'] : depth === 5 ? ['commitResult', 'revealResult'] : ['assign', 'commitResult', 'revealResult']
      removed.push(await reorgWhen(depth, wanted, pump))
    }
    await requester.run
    // Every job reaches Completed while its windows are still open (they are 120 s).
    const until = Date.now() + 30_000
    for (;;) {
      const count = await nextJobId()
      const statuses = await Promise.all([...Array(Number(count) - 1)].map(async (_, i) => (await readJob(BigInt(i + 1))).status))
      if (statuses.every((s) => s === JobStatus.Completed) || Date.now() > until) break
      await sleep(200)
    }
    // Then past every window: a job still Assigned or Committed now is finalized or expired by the leader role, and
    // slashes whoever it finds missing.
    await system.testClient.increaseTime({ seconds: 600 })
    await system.testClient.mine({ blocks: 1 })
    await sleep(3000)
  } finally {
    await leader.stop()
    // Bounded, so an agent stuck on a transaction that will never be mined still lets the checks below report.
    await Promise.race([Promise.all(agents.map((a) => a.stop())), sleep(10_000)])
    await stopPump()
  }

  const count = await nextJobId()
  const jobs = await Promise.all([...Array(Number(count) - 1)].map((_, i) => readJob(BigInt(i + 1))))
  const slashed = await system.publicClient.getContractEvents({
    address: system.registry,
    abi: providerRegistryAbi,
    eventName: 'Slashed',
    fromBlock: firstBlock,
  })
  const took = (name: string) => removed.reduce((sum, r) => sum + (r[name] ?? 0), 0)
  const summary = {
    seconds: Math.round((Date.now() - started) / 1000),
    jobs: jobs.length,
    statuses: jobs.map((j) => jobStatusName(j.status)),
    removed,
    slashed: slashed.length,
  }
  log.info(summary, 'reorg test summary')

  expect(took('commitResult')).toBeGreaterThan(0)
  expect(took('revealResult')).toBeGreaterThan(0)
  expect(took('assign')).toBeGreaterThan(0)
  // A submission a reorg took out is not sent again: the jobs are those whose submission is still on chain.
  const submitted = await Promise.all(
    requester.state.hashes.map((hash) => system.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)),
  )
  expect(jobs.length).toBe(submitted.filter(Boolean).length)
  expect(summary.statuses).toEqual(jobs.map(() => 'COMPLETED'))
  expect(slashed).toEqual([])
  expect([await stakeOf(p1.address), await stakeOf(p2.address)]).toEqual(stakes)
  for (const address of [system.accounts.matcher.address, p1.address, p2.address]) {
    const { latest, pending } = await noncesOf(address)
    expect(pending).toBe(latest)
  }
}, 120_000)
