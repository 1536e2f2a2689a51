/**
 * Test helpers for the payout tests (`claimRewards`, `withdrawEarnings`, `payoutLoop`): jobs paid straight on the
 * contracts, epochs closed as the keeper closes them, and a provider's own sender.
 */
import type { Logger } from 'pino'
import { createWalletClient, http, maxUint256, type PrivateKeyAccount, type PublicClient } from 'viem'
import { emissionControllerAbi, jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { sampleJobSpec, type TestSystem } from '../devnet/testSystem.ts'
import { jobMarketOf, labelledResult, marketEvents, runMarketRound } from '../test/support/market.ts'
import { TxSender } from './txSender.ts'

type System = Pick<
  TestSystem,
  'read' | 'write' | 'publicClient' | 'market' | 'controller' | 'token' | 'accounts' | 'now' | 'increaseTime' | 'deployment'
>

/**
 * Requester 0 submits the sample job (100 units, k=2), the matcher assigns `providers` and both reveal the same result,
 * the second reveal settling the job: each is owed its ask × 100 and its fee is recorded in the current emission epoch,
 * which is returned. The requester must have approved the market (see {@link approveMarket}).
 */
export async function payJob(system: System, providers: [PrivateKeyAccount, PrivateKeyAccount]): Promise<bigint> {
  const market = jobMarketOf(system)
  const requester = system.accounts.requesters[0]
  const submitted = await market.write(requester, 'submitJob', [await sampleJobSpec(system)])
  const jobId = marketEvents(submitted, 'JobSubmitted')[0].args.jobId as bigint
  const settled = await runMarketRound(system, jobId, providers, [labelledResult('same'), labelledResult('same')])
  if (!settled) throw new Error(`job ${jobId}: no reveal settled it`)
  return system.publicClient.readContract({
    address: system.controller,
    abi: emissionControllerAbi,
    functionName: 'currentEpoch',
    blockNumber: settled.blockNumber,
  })
}

/** Requester 0 lets the market take any escrow. */
export async function approveMarket(system: System): Promise<void> {
  await system.write(system.accounts.requesters[0], {
    address: system.token,
    abi: tesseraTokenAbi,
    functionName: 'approve',
    args: [system.market, maxUint256],
  })
}

/** Moves the chain's clock past `epoch` and closes every ended epoch (`advanceEpoch(64)`, as the keeper does). */
export async function closeEpochsThrough(system: System, epoch: bigint): Promise<void> {
  const current = await currentEpoch(system)
  if (current <= epoch) await system.increaseTime((epoch - current + 1n) * system.deployment.params.emission.epochLength)
  await system.write(system.accounts.deployer, {
    address: system.controller,
    abi: emissionControllerAbi,
    functionName: 'advanceEpoch',
    args: [64n],
  })
}

/** The emission epoch of the chain's latest block. */
export function currentEpoch(system: Pick<TestSystem, 'read' | 'controller'>): Promise<bigint> {
  return system.read<bigint>({ address: system.controller, abi: emissionControllerAbi, functionName: 'currentEpoch' })
}

/** What `provider` can claim for `epoch` (usage + availability). */
export async function claimableOf(system: Pick<TestSystem, 'read' | 'controller'>, epoch: bigint, provider: PrivateKeyAccount) {
  const [usage, availability] = await system.read<[bigint, bigint]>({
    address: system.controller,
    abi: emissionControllerAbi,
    functionName: 'claimable',
    args: [epoch, provider.address],
  })
  return usage + availability
}

/** `account`'s TSR balance and what JobMarket owes it. */
export async function holdingsOf(system: Pick<TestSystem, 'read' | 'token' | 'market'>, account: PrivateKeyAccount) {
  const [balance, owed] = await Promise.all([
    system.read<bigint>({ address: system.token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [account.address] }),
    system.read<bigint>({ address: system.market, abi: jobMarketAbi, functionName: 'owed', args: [account.address] }),
  ])
  return { balance, owed }
}

/** A sender for `account`'s transactions on `system`, as the agent builds its own. */
export function senderOf(system: Pick<TestSystem, 'chain' | 'rpcUrl' | 'publicClient'>, account: PrivateKeyAccount, log: Logger) {
  const walletClient = createWalletClient({ chain: system.chain, transport: http(system.rpcUrl), account, pollingInterval: 50 })
  return new TxSender(system.publicClient as PublicClient, walletClient, account, log)
}

/** The value of `counter`'s sample with `labels` (0 when it has none). */
export async function counterValue(
  counter: { get: () => Promise<{ values: { value: number; labels: object }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await counter.get()
  const sample = values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
  return sample?.value ?? 0
}
