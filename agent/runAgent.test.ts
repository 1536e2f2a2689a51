import pino from 'pino'
import { type Address, type Hex, type PrivateKeyAccount, parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobMarketAbi, providerRegistryAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { TestSystem } from '../devnet/testSystem.ts'
import { JobStatus } from '../protocol/enums.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { waitFor as pollFor } from '../test/support/graphql.ts'
import { buildMlp } from './models/buildMlp.ts'
import { type RunAgentParameters, runAgent } from './runAgent.ts'
import {
  type AgentTestBed,
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
const readSlot = (jobId: bigint, a: Address) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getSlot', args: [jobId, a] })
const readProvider = (a: Address) =>
  system.publicClient.readContract({ address: system.registry, abi: providerRegistryAbi, functionName: 'getProvider', args: [a] })

/** Submits a k=2 job as requester 0 and assigns it to `providers` as the matcher; publishes the assignments. */
const submitAndAssign = (providers: PrivateKeyAccount[], seed: number, rows = 4, tamper = false) =>
  submitAndAssignJob(bed, { providers, modelHash, seed, rows, tamper })

async function finalizeAndCheck(jobId: bigint) {
  await waitFor('job revealed', async () => (await readJob(jobId)).status === JobStatus.Revealed)
  await system.write(system.accounts.deployer, { address: system.market, abi: jobMarketAbi, functionName: 'finalize', args: [jobId] })
  return readJob(jobId)
}

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
      const job = await finalizeAndCheck(jobId)
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

  it('handles several jobs at once without nonce clashes', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
    const a2 = await runAgent(agentParameters(devKeys[3], 'p2'))
    try {
      const jobIds = []
      for (let i = 0; i < 5; i++) jobIds.push(await submitAndAssign([p1, p2], 100 + i, 2 + i))
      const jobs = []
      for (const jobId of jobIds) jobs.push(await finalizeAndCheck(jobId)) // one deployer nonce at a time
      expect(jobs.map((j) => j.status)).toEqual(jobIds.map(() => JobStatus.Completed))
    } finally {
      await Promise.all([a1.stop(), a2.stop()])
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
      const job = await finalizeAndCheck(jobId)
      expect(job.status).toBe(JobStatus.Completed)
      const s1 = await readSlot(jobId, p1.address)
      expect(s1.commitment).toBe(commitment)
      expect(s1.revealed).toBe(true)
    } finally {
      await Promise.all(agents.map((a) => a.stop()))
    }
  })

  it('rejects an input blob whose bytes do not match its hash, and does not commit', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0 }))
    try {
      const jobId = await submitAndAssign([p1, p2], 14, 4, true)
      await waitFor('the failure to be counted', async () =>
        /tessera_agent_jobs_total\{outcome="error"\} 1/.test(await (await fetch(`${a1.httpUrl}/metrics`)).text()),
      )
      const s1 = await readSlot(jobId, p1.address)
      expect(s1.commitment).toBe(`0x${'00'.repeat(32)}`)
    } finally {
      await a1.stop()
    }
  })

  it('a lying agent dissents: no majority at k=2, the job fails', async () => {
    const [p1, p2] = system.accounts.providers
    const a1 = await runAgent(agentParameters(devKeys[2], 'p1'))
    const liar = await runAgent(agentParameters(devKeys[3], 'p2', { lie: true }))
    try {
      const jobId = await submitAndAssign([p1, p2], 13)
      const job = await finalizeAndCheck(jobId)
      expect(job.status).toBe(JobStatus.Failed)
      const [s1, s2] = await Promise.all([p1, p2].map((p) => readSlot(jobId, p.address)))
      expect(s1.fingerprint).not.toBe(s2.fingerprint)
    } finally {
      await Promise.all([a1.stop(), liar.stop()])
    }
  })
})
