import pino from 'pino'
import type { PublicClient } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emissionControllerAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { TestSystem } from '../devnet/testSystem.ts'
import { waitFor } from '../test/support/graphql.ts'
import { createAgentMetrics } from './agentMetrics.ts'
import { payoutLoop } from './payoutLoop.ts'
import { type RunAgentParameters, type RunAgentReturnType, runAgent } from './runAgent.ts'
import { approveMarket, claimableOf, closeEpochsThrough, counterValue, currentEpoch, holdingsOf, payJob } from './testPayouts.ts'
import { type AgentTestBed, startAgentTestBed, stopAgentTestBed, testAgentParameters } from './testServer.ts'
import type { TxSender } from './txSender.ts'

const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })

describe('payoutLoop', () => {
  it('never rejects: a failed claim round or withdrawal is counted and tried again next tick, until aborted', async () => {
    const controller = new AbortController()
    let ticks = 0
    const publicClient = {
      getBlockNumber: async () => {
        if (++ticks === 3) controller.abort()
        throw new Error('node down')
      },
      readContract: async () => {
        throw new Error('node down')
      },
    } as unknown as PublicClient
    const metrics = createAgentMetrics()
    const sender = { send: () => Promise.reject(new Error('nothing to send')) } as unknown as TxSender
    await payoutLoop({
      provider: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
      emissionController: '0x0000000000000000000000000000000000000001',
      jobMarket: '0x0000000000000000000000000000000000000002',
      publicClient,
      sender,
      journal: { rewardsCheckedThrough: undefined, setRewardsCheckedThrough: async () => {} },
      confirmations: 2,
      minWithdraw: 0n,
      intervalMs: 5,
      maxEpochsPerTick: 64,
      metrics,
      log,
      signal: controller.signal,
    })
    expect(ticks).toBe(3)
    // The third tick was aborted mid-way: not an error.
    expect(await counterValue(metrics.rewardClaims, { result: 'error' })).toBe(2)
    expect(await counterValue(metrics.withdrawals, { result: 'error' })).toBe(2)
  })
})

// Through runAgent on anvil, with the stand-in server: an agent started with payouts on claims its reward of a closed
// epoch and withdraws what it was paid; restarted, it pays nothing out twice.
describe('runAgent with payouts', () => {
  let bed: AgentTestBed
  let system: TestSystem
  const agents: RunAgentReturnType[] = []

  beforeAll(async () => {
    bed = await startAgentTestBed('tessera-payouts-')
    system = bed.system
    // Both providers registered and staked as their agents want it, so a later start changes nothing on chain.
    for (const [key, name] of [
      [devKeys[2], 'p1'],
      [devKeys[3], 'p2'],
    ] as const)
      await (await runAgent(agentParameters(key, name))).stop()
    await approveMarket(system)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()))
    await stopAgentTestBed(bed)
  })

  /** The test bed's parameters for an agent that only pays out: no chain watch or job claims to race the test. */
  const agentParameters = (key: `0x${string}`, name: string, extra: Partial<RunAgentParameters> = {}) =>
    testAgentParameters(bed, log, key, name, { chainWatchIntervalMs: 0, claimJobs: false, ...extra })

  const start = async (extra: Partial<RunAgentParameters>) => {
    const agent = await runAgent(agentParameters(devKeys[2], 'p1', { httpPort: 0, ...extra }))
    agents.push(agent)
    return agent
  }
  /** The agent's sample of metric `name` with `labels`, 0 when it has none. */
  const metric = async (agent: RunAgentReturnType, name: string, labels = '') => {
    const text = await (await fetch(new URL('/metrics', agent.httpUrl))).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
    return line ? Number(line.split(' ').at(-1)) : 0
  }
  const lastClosedEpoch = () =>
    system.read<bigint>({ address: system.controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' })

  it('claims the reward and withdraws the earnings once, and a restart pays nothing out again', async () => {
    const provider = system.accounts.providers[0]
    const epoch = await payJob(system, [provider, system.accounts.providers[1]])
    await closeEpochsThrough(system, epoch)
    // The close two blocks deep, as the agent's default confirmations want it.
    await system.testClient.mine({ blocks: 1 })
    const reward = await claimableOf(system, epoch, provider)
    const before = await holdingsOf(system, provider)
    expect(reward).toBeGreaterThan(0n)
    expect(before.owed).toBeGreaterThan(0n)

    const agent = await start({ payoutIntervalMs: 100 })
    await waitFor(
      'the agent paid out',
      async () =>
        (await metric(agent, 'tessera_agent_reward_claims_total', 'result="claimed"')) === 1 &&
        (await metric(agent, 'tessera_agent_withdrawals_total', 'result="withdrawn"')) === 1
          ? true
          : undefined,
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    expect(await holdingsOf(system, provider)).toEqual({ balance: before.balance + reward + before.owed, owed: 0n })
    await agent.stop()

    // One more epoch closed, without a job: the restarted agent checks it, and only it.
    await closeEpochsThrough(system, await currentEpoch(system))
    await system.testClient.mine({ blocks: 1 })
    const last = await lastClosedEpoch()
    expect(last).toBeGreaterThan(epoch)
    const again = await start({ payoutIntervalMs: 100 })
    await waitFor(
      'the restarted agent checked its rewards',
      async () => ((await metric(again, 'tessera_agent_rewards_checked_epoch')) === Number(last) ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    // A few ticks more: still nothing claimed, refused or withdrawn.
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const result of ['claimed', 'refused', 'error'])
      expect(await metric(again, 'tessera_agent_reward_claims_total', `result="${result}"`)).toBe(0)
    expect(await metric(again, 'tessera_agent_withdrawals_total', 'result="withdrawn"')).toBe(0)
    expect(await holdingsOf(system, provider)).toEqual({ balance: before.balance + reward + before.owed, owed: 0n })
    await again.stop()
  }, 60_000)

  it('pays nothing out without payoutIntervalMs', async () => {
    const provider = system.accounts.providers[0]
    await payJob(system, [provider, system.accounts.providers[1]])
    const before = await holdingsOf(system, provider)
    const agent = await start({})
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await metric(agent, 'tessera_agent_rewards_checked_epoch')).toBe(0)
    expect(await holdingsOf(system, provider)).toEqual(before)
  }, 30_000)
})
