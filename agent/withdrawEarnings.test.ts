import pino from 'pino'
import { formatEther, type PrivateKeyAccount, type PublicClient } from 'viem'
import { beforeAll, describe, expect, it } from 'vitest'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider, useTestSystem } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { createAgentMetrics } from './agentMetrics.ts'
import { approveMarket, counterValue, holdingsOf, payJob, senderOf } from './testPayouts.ts'
import { type WithdrawEarningsParameters, withdrawEarnings } from './withdrawEarnings.ts'

// Withdrawals against a real JobMarket on anvil: the provider is owed its ask × units for jobs paid on the contracts.

const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
const ask = TSR / 100n
const sys = useTestSystem()
let provider: PrivateKeyAccount

beforeAll(async () => {
  const [p0, p1] = sys.accounts.providers
  provider = p0
  for (const p of [p0, p1]) await registerProvider(sys, p, { pricePerUnit: ask })
  await fund(sys, sys.accounts.requesters[0].address, 10_000n * TSR)
  await approveMarket(sys)
})

/** withdrawEarnings' parameters for the provider, with a fresh metrics registry; `extra` wins. */
function withdrawParameters(extra: Partial<WithdrawEarningsParameters> = {}) {
  return {
    provider: provider.address,
    jobMarket: sys.market,
    publicClient: sys.publicClient as PublicClient,
    sender: senderOf(sys, provider, log),
    minWithdraw: 0n,
    metrics: createAgentMetrics(),
    log,
    ...extra,
  } satisfies WithdrawEarningsParameters
}

const holdings = () => holdingsOf(sys, provider)
const paid = () => payJob(sys, [sys.accounts.providers[0], sys.accounts.providers[1]])

describe('withdrawEarnings', () => {
  it('withdraws everything JobMarket owes: the balance rises by exactly that, nothing is left owed, counted once', async () => {
    await paid()
    const before = await holdings()
    expect(before.owed).toBe(ask * 100n)
    const parameters = withdrawParameters()

    const result = await withdrawEarnings(parameters)
    expect(result).toMatchObject({ owed: before.owed, withdrawn: before.owed })
    expect(await holdings()).toEqual({ balance: before.balance + before.owed, owed: 0n })
    expect(await counterValue(parameters.metrics.withdrawals, { result: 'withdrawn' })).toBe(1)
    expect(await counterValue(parameters.metrics.withdrawnTsr)).toBe(Number(formatEther(before.owed)))

    // Nothing owed: no transaction.
    expect(await withdrawEarnings(parameters)).toEqual({ owed: 0n, withdrawn: 0n })
    expect(await counterValue(parameters.metrics.withdrawals, { result: 'withdrawn' })).toBe(1)
  })

  it('leaves dust below `minWithdraw` owed, and withdraws once the balance reaches it', async () => {
    await paid()
    const owed = ask * 100n
    const parameters = withdrawParameters({ minWithdraw: owed + 1n })
    const before = await holdings()
    expect(await withdrawEarnings(parameters)).toEqual({ owed, withdrawn: 0n })
    expect(await holdings()).toEqual(before)
    expect(await counterValue(parameters.metrics.withdrawals, { result: 'withdrawn' })).toBe(0)

    // A second job doubles the balance, past the minimum.
    await paid()
    const result = await withdrawEarnings(parameters)
    expect(result.withdrawn).toBe(2n * owed)
    expect(await holdings()).toEqual({ balance: before.balance + 2n * owed, owed: 0n })
  })

  it('a withdrawal that another got to first is refused by the contract and counted as no payout', async () => {
    await paid()
    const blockNumber = await sys.publicClient.getBlockNumber({ cacheTime: 0 })
    // The provider's key withdrew from elsewhere; the agent's node still shows the balance.
    await sys.write(provider, { address: sys.market, abi: jobMarketAbi, functionName: 'withdraw', args: [] })
    const before = await holdings()
    const behind = new Proxy(sys.publicClient as PublicClient, {
      get: (target, key, receiver) =>
        key === 'readContract'
          ? (call: object) => target.readContract({ ...call, blockNumber } as never)
          : Reflect.get(target, key, receiver),
    })
    const parameters = withdrawParameters({ publicClient: behind })
    expect(await withdrawEarnings(parameters)).toEqual({ owed: ask * 100n, withdrawn: 0n })
    expect(await holdings()).toEqual(before)
    expect(await counterValue(parameters.metrics.withdrawals, { result: 'refused' })).toBe(1)
    expect(await counterValue(parameters.metrics.withdrawals, { result: 'withdrawn' })).toBe(0)
    expect(await counterValue(parameters.metrics.withdrawnTsr)).toBe(0)
  })
})
