import { type Address, maxUint256 } from 'viem'
import { emissionControllerAbi, jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { findRewardEpochs } from '../db/epochs.ts'
import { refundsSinceWithdrawal } from '../db/payments.ts'
import type { WalletContext } from './preparedTransaction.ts'

/** What JobMarket's `withdraw()` would pay `account` now: its `owed` balance, read from the chain. */
export function owedOf(wallet: Pick<WalletContext, 'deployment' | 'publicClient'>, account: Address): Promise<bigint> {
  return wallet.publicClient.readContract({
    address: wallet.deployment.contracts.JobMarket.address,
    abi: jobMarketAbi,
    functionName: 'owed',
    args: [account],
  })
}

/**
 * The refunds among what JobMarket owes `account` (its escrows of cancelled, expired and failed jobs, the unspent rest
 * of completed ones, challenge bonds returned): those indexed since its last withdrawal, at most what it is owed now (a
 * withdrawal the indexer hasn't seen yet has paid them).
 */
export async function refundsOwedOf(
  wallet: Pick<WalletContext, 'deployment' | 'publicClient' | 'views'>,
  account: Address,
): Promise<bigint> {
  const [owed, refunds] = await Promise.all([owedOf(wallet, account), refundsSinceWithdrawal(wallet.views, account)])
  // bigints: Math.min takes numbers only.
  if (refunds > owed) return owed
  return refunds
}

/** How much JobMarket may pull from `owner`'s TSR now (`allowance(owner, JobMarket)`): escrows and challenge bonds. */
export function marketAllowanceOf(wallet: Pick<WalletContext, 'deployment' | 'publicClient'>, owner: Address): Promise<bigint> {
  return wallet.publicClient.readContract({
    address: wallet.deployment.contracts.TesseraToken.address,
    abi: tesseraTokenAbi,
    functionName: 'allowance',
    args: [owner, wallet.deployment.contracts.JobMarket.address],
  })
}

/** `owner`'s TSR balance. */
export function tokenBalanceOf(wallet: Pick<WalletContext, 'deployment' | 'publicClient'>, owner: Address): Promise<bigint> {
  return wallet.publicClient.readContract({
    address: wallet.deployment.contracts.TesseraToken.address,
    abi: tesseraTokenAbi,
    functionName: 'balanceOf',
    args: [owner],
  })
}

/** A closed epoch's reward `claim(epoch)` would mint now. */
export type EpochReward = { epoch: bigint; usage: bigint; availability: bigint; amount: bigint }

/**
 * The rewards `provider` can claim now, oldest epoch first, each as EmissionController's `claimable(epoch, provider)`
 * reads it (what `claim(epoch)` mints): over the closed epochs in which it was paid a fee or passed a challenge as
 * indexed (`findRewardEpochs`; an epoch the indexer hasn't reached yet shows once it has), those with a reward left.
 */
export async function claimableRewardsOf(wallet: WalletContext, provider: Address): Promise<EpochReward[]> {
  const controller = { address: wallet.deployment.contracts.EmissionController.address, abi: emissionControllerAbi } as const
  const [lastClosed, candidates] = await Promise.all([
    wallet.publicClient.readContract({ ...controller, functionName: 'lastClosedEpoch' }),
    findRewardEpochs(wallet.views, {
      provider,
      genesis: wallet.deployment.emissionGenesis,
      epochLength: wallet.deployment.params.emission.epochLength,
    }),
  ])
  // Before the first close the controller answers uint256's maximum.
  if (lastClosed === maxUint256) return []
  const closed = candidates.filter((epoch) => epoch >= 0n && epoch <= lastClosed)
  const rewards = await Promise.all(
    closed.map(async (epoch): Promise<EpochReward> => {
      const [usage, availability] = await wallet.publicClient.readContract({
        ...controller,
        functionName: 'claimable',
        args: [epoch, provider],
      })
      return { epoch, usage, availability, amount: usage + availability }
    }),
  )
  return rewards.filter((r) => r.amount > 0n)
}
