import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { ContractFunctionRevertedError, encodeErrorResult, formatEther, type PrivateKeyAccount, type PublicClient } from 'viem'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { emissionControllerAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider, useTestSystem } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { createAgentMetrics } from './agentMetrics.ts'
import { type ClaimRewardsParameters, claimRewards } from './claimRewards.ts'
import { Journal } from './journal.ts'
import { approveMarket, claimableOf, closeEpochsThrough, counterValue, holdingsOf, payJob, senderOf } from './testPayouts.ts'
import { TransactionError } from './txSender.ts'

// Claims against a real EmissionController on anvil: jobs paid straight on the contracts, epochs closed as the keeper
// closes them, and the agent's own sender and journal.

const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
const sys = useTestSystem()
let provider: PrivateKeyAccount
let root: string
const journals: Journal[] = []

beforeAll(async () => {
  const [p0, p1] = sys.accounts.providers
  provider = p0
  for (const p of [p0, p1]) await registerProvider(sys, p, { pricePerUnit: TSR / 100n })
  await fund(sys, sys.accounts.requesters[0].address, 10_000n * TSR)
  await approveMarket(sys)
  root = await mkdtemp(path.join(os.tmpdir(), 'tessera-rewards-'))
})

afterEach(async () => {
  await Promise.all(journals.splice(0).map((j) => j.close()))
})

afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A journal in the data dir `name` (fresh or reopened, as after a restart). */
async function journalIn(name: string): Promise<Journal> {
  const journal = await Journal.open({ dataDir: path.join(root, name) })
  journals.push(journal)
  return journal
}

/** claimRewards' parameters for the provider, with a fresh metrics registry; `extra` wins. */
function claimParameters(journal: Journal, extra: Partial<ClaimRewardsParameters> = {}) {
  return {
    provider: provider.address,
    emissionController: sys.controller,
    publicClient: sys.publicClient as PublicClient,
    sender: senderOf(sys, provider, log),
    journal,
    maxEpochs: 64,
    confirmations: 1,
    metrics: createAgentMetrics(),
    log,
    ...extra,
  } satisfies ClaimRewardsParameters
}

const lastClosedEpoch = () => sys.read<bigint>({ address: sys.controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' })
const balance = async () => (await holdingsOf(sys, provider)).balance
const paid = () => payJob(sys, [sys.accounts.providers[0], sys.accounts.providers[1]])
const unique = () => `agent-${Math.random().toString(36).slice(2)}`

describe('claimRewards', () => {
  it("claims a closed epoch's reward: the balance rises by exactly `claimable`, the cursor passes it, one payout counted", async () => {
    const epoch = await paid()
    await closeEpochsThrough(sys, epoch)
    const reward = await claimableOf(sys, epoch, provider)
    expect(reward).toBeGreaterThan(0n)
    const before = await balance()
    const journal = await journalIn(unique())
    const parameters = claimParameters(journal)

    const result = await claimRewards(parameters)
    expect(result).toMatchObject({
      claimed: [{ epoch, amount: reward }],
      refused: [],
      checkedThrough: await lastClosedEpoch(),
      behind: false,
    })
    expect((await balance()) - before).toBe(reward)
    expect(await claimableOf(sys, epoch, provider)).toBe(0n)
    expect(journal.rewardsCheckedThrough).toBe(await lastClosedEpoch())
    const { metrics } = parameters
    expect(await counterValue(metrics.rewardClaims, { result: 'claimed' })).toBe(1)
    expect(await counterValue(metrics.rewardsClaimedTsr)).toBe(Number(formatEther(reward)))
    expect(await counterValue(metrics.rewardsCheckedEpoch)).toBe(Number(await lastClosedEpoch()))

    // Nothing new closed: the next call checks nothing and sends nothing.
    expect(await claimRewards(parameters)).toMatchObject({ claimed: [], refused: [] })
    expect((await balance()) - before).toBe(reward)
  })

  it('does nothing before the first epoch closes', async () => {
    const journal = await journalIn(unique())
    expect(await lastClosedEpoch()).toBe(2n ** 256n - 1n)
    expect(await claimRewards(claimParameters(journal))).toEqual({ claimed: [], refused: [], checkedThrough: undefined, behind: false })
    expect(journal.rewardsCheckedThrough).toBeUndefined()
  })

  it("a restart that lost the cursor doesn't claim twice: the contract refuses, no payout is counted, the scan goes on", async () => {
    const epoch = await paid()
    await closeEpochsThrough(sys, epoch)
    await sys.testClient.mine({ blocks: 1 })
    const reward = await claimableOf(sys, epoch, provider)
    const before = await balance()
    const name = unique()
    const kept = await journalIn(name)
    // Two blocks deep: a restart right after the claim still reads the epoch as unclaimed there.
    const first = await claimRewards(claimParameters(kept, { confirmations: 2 }))
    expect(first.claimed.map((c) => c.epoch)).toEqual([epoch])

    // The cursor's write was lost (a crash between the claim and the journal): the claim is tried again and refused.
    const lost = claimParameters(await journalIn(unique()), { confirmations: 2 })
    const again = await claimRewards(lost)
    expect(again).toMatchObject({ claimed: [], refused: [epoch], checkedThrough: await lastClosedEpoch() })
    expect(await counterValue(lost.metrics.rewardClaims, { result: 'refused' })).toBe(1)
    expect(await counterValue(lost.metrics.rewardClaims, { result: 'claimed' })).toBe(0)
    expect(await counterValue(lost.metrics.rewardsClaimedTsr)).toBe(0)
    expect(lost.journal.rewardsCheckedThrough).toBe(await lastClosedEpoch())

    // The cursor kept: a restart sends nothing at all.
    await kept.close()
    const reopened = claimParameters(await journalIn(name), { confirmations: 2 })
    expect(reopened.journal.rewardsCheckedThrough).toBe(await lastClosedEpoch())
    expect(await claimRewards(reopened)).toMatchObject({ claimed: [], refused: [] })
    expect((await balance()) - before).toBe(reward)
  })

  it('counts an epoch closed only once its close is `confirmations` deep', async () => {
    const epoch = await paid()
    await closeEpochsThrough(sys, epoch)
    const parameters = claimParameters(await journalIn(unique()), { confirmations: 3 })
    const early = await claimRewards(parameters)
    expect(early.claimed).toEqual([])
    expect(early.checkedThrough ?? -1n).toBeLessThan(epoch)
    await sys.testClient.mine({ blocks: 2 })
    const late = await claimRewards(parameters)
    expect(late.claimed.map((c) => c.epoch)).toEqual([epoch])
  })

  it('a bounded scan gets through more closed epochs than one call checks, claiming each paid one once', async () => {
    const first = await paid()
    // Seven epochs later, another paid job; ten epochs closed in all, checked three a call.
    await sys.increaseTime(7n * sys.deployment.params.emission.epochLength)
    const second = await paid()
    expect(second - first).toBeGreaterThanOrEqual(7n)
    await closeEpochsThrough(sys, second + 2n)
    const rewards = [await claimableOf(sys, first, provider), await claimableOf(sys, second, provider)]
    const before = await balance()
    const last = await lastClosedEpoch()
    const parameters = claimParameters(await journalIn(unique()), { maxEpochs: 3 })

    const claimed: bigint[] = []
    let calls = 0
    let previous = -1n
    for (;;) {
      const result = await claimRewards(parameters)
      calls++
      const through = result.checkedThrough ?? -1n
      expect(through - previous).toBeGreaterThan(0n)
      expect(through - previous).toBeLessThanOrEqual(3n)
      previous = through
      claimed.push(...result.claimed.map((c) => c.epoch))
      if (!result.behind) break
    }
    expect(previous).toBe(last)
    expect(calls).toBe(Number((last + 3n) / 3n))
    expect(claimed).toEqual([first, second])
    expect((await balance()) - before).toBe(rewards[0] + rewards[1])
  })

  it('an RPC error mid-call loses no epoch: the claims before it stand, the next call retries from the one that failed', async () => {
    const first = await paid()
    await sys.increaseTime(sys.deployment.params.emission.epochLength)
    const second = await paid()
    await closeEpochsThrough(sys, second)
    const rewards = [await claimableOf(sys, first, provider), await claimableOf(sys, second, provider)]
    const before = await balance()
    const name = unique()
    const journal = await journalIn(name)
    const parameters = claimParameters(journal)

    // The node answers no `claimable` read: nothing is checked, nothing lost.
    const flaky = new Proxy(parameters.publicClient, {
      get: (target, key, receiver) =>
        key === 'readContract'
          ? async (call: { functionName: string }) => {
              if (call.functionName === 'claimable') throw new Error('socket hang up')
              return target.readContract(call as never)
            }
          : Reflect.get(target, key, receiver),
    })
    await expect(claimRewards({ ...parameters, publicClient: flaky })).rejects.toThrow('socket hang up')
    expect(parameters.journal.rewardsCheckedThrough).toBeUndefined()

    // The second claim can't be sent: the first stands and the cursor stops just before the second.
    const sender = parameters.sender
    const failing = {
      send: ((call, options) => {
        if (call.functionName === 'claim' && (call.args as readonly unknown[])[0] === second)
          return Promise.reject(new TransactionError('claim could not be sent', { retryable: true, cause: new Error('ECONNRESET') }))
        return sender.send(call, options)
      }) as typeof sender.send,
    }
    await expect(claimRewards({ ...parameters, sender: failing })).rejects.toThrow('claim could not be sent')
    expect((await balance()) - before).toBe(rewards[0])
    // A restart reads the same cursor from disk.
    await journal.close()
    const restarted = { ...parameters, journal: await journalIn(name) }
    expect(restarted.journal.rewardsCheckedThrough).toBe(second - 1n)

    const retried = await claimRewards(restarted)
    expect(retried.claimed.map((c) => c.epoch)).toEqual([second])
    expect((await balance()) - before).toBe(rewards[0] + rewards[1])
    expect(await counterValue(parameters.metrics.rewardClaims, { result: 'claimed' })).toBe(2)
  })

  it('stops at a claim the contract refuses for another reason (a reorg re-opened the epoch), and retries it next call', async () => {
    const epoch = await paid()
    await closeEpochsThrough(sys, epoch)
    const parameters = claimParameters(await journalIn(unique()))
    const notClosed = new ContractFunctionRevertedError({
      abi: emissionControllerAbi,
      data: encodeErrorResult({ abi: emissionControllerAbi, errorName: 'EpochNotClosed', args: [epoch] }),
      functionName: 'claim',
    })
    const refusing = {
      send: (() => Promise.reject(new TransactionError('claim reverted', { cause: notClosed }))) as typeof parameters.sender.send,
    }
    await expect(claimRewards({ ...parameters, sender: refusing })).rejects.toThrow('claim reverted')
    expect(parameters.journal.rewardsCheckedThrough ?? -1n).toBeLessThan(epoch)
    expect(await counterValue(parameters.metrics.rewardClaims, { result: 'refused' })).toBe(0)
    expect((await claimRewards(parameters)).claimed.map((c) => c.epoch)).toEqual([epoch])
  })
})
