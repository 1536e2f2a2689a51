import type { Logger } from 'pino'
import { type Address, formatEther, type Hash, maxUint256, type PublicClient, parseEventLogs } from 'viem'
import { emissionControllerAbi } from '../contracts/generated/index.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import type { Journal } from './journal.ts'
import { TransactionError, type TxSender } from './txSender.ts'

export type ClaimRewardsParameters = {
  provider: Address
  emissionController: Address
  publicClient: PublicClient
  sender: Pick<TxSender, 'send'>
  /** Keeps the last epoch checked, so a restart resumes the scan after it. */
  journal: Pick<Journal, 'rewardsCheckedThrough' | 'setRewardsCheckedThrough'>
  /** Epochs checked at most in one call, so a provider far behind catches up over several calls. */
  maxEpochs: number
  /**
   * Blocks deep (1: the head) the chain is read at: an epoch counts as closed, and its reward as known, only once its
   * close is that deep, so a reorg can't re-open an epoch the scan already passed.
   */
  confirmations: number
  metrics: Pick<AgentMetrics, 'rewardClaims' | 'rewardsClaimedTsr' | 'rewardsCheckedEpoch'>
  log: Logger
  /** Aborting stops before the next claim; the epochs checked so far are kept. */
  signal?: AbortSignal
}

/** One mined claim: the epoch and the TSR wei it minted (usage + availability, from `RewardClaimed`). */
export type RewardClaim = { epoch: bigint; amount: bigint; txHash: Hash }

export type ClaimRewardsReturnType = {
  /** Claims mined by this call, oldest epoch first. */
  claimed: RewardClaim[]
  /** Epochs whose claim the contract refused as already claimed or empty (a restart raced a claim): not payouts. */
  refused: bigint[]
  /** The last epoch checked once this call is done; undefined while none was. */
  checkedThrough: bigint | undefined
  /** Whether closed epochs remain past `checkedThrough` (this call stopped at `maxEpochs`). */
  behind: boolean
}

/** What `claim` reverts with when there is nothing (left) to claim: the scan goes on past the epoch. */
const refusals = new Set(['AlreadyClaimed', 'NothingToClaim'])

/**
 * Claims the provider's emission rewards of the closed epochs after the journal's cursor, at most `maxEpochs` of them:
 * reads `claimable(epoch, provider)` for each, sends `claim(epoch)` for those above zero one at a time (each through
 * the agent's sender at low priority, so commits and reveals go first), and moves the cursor past every epoch checked.
 * A claim the contract refuses as `AlreadyClaimed` or `NothingToClaim` is passed over, not counted as a payout.
 * Any other failure (an RPC error, a claim that could not be sent or reverted otherwise) is thrown once the cursor is
 * persisted up to the epoch before it, so the next call retries that epoch and everything after it.
 */
export async function claimRewards(parameters: ClaimRewardsParameters): Promise<ClaimRewardsReturnType> {
  const { provider, publicClient, journal, metrics, signal } = parameters
  const controller = { address: parameters.emissionController, abi: emissionControllerAbi } as const
  const head = await publicClient.getBlockNumber({ cacheTime: 0 })
  const depth = BigInt(Math.max(0, parameters.confirmations - 1))
  const blockNumber = head > depth ? head - depth : 0n
  const lastClosed = await publicClient.readContract({ ...controller, functionName: 'lastClosedEpoch', blockNumber })
  const start = journal.rewardsCheckedThrough
  const first = start === undefined ? 0n : start + 1n
  // Before the first close the contract answers uint256's maximum.
  const closed = lastClosed !== maxUint256
  const last = closed ? min(lastClosed, first + BigInt(parameters.maxEpochs) - 1n) : -1n
  const epochs: bigint[] = []
  for (let epoch = first; epoch <= last; epoch++) epochs.push(epoch)
  const rewards = await Promise.all(
    epochs.map((epoch) => publicClient.readContract({ ...controller, functionName: 'claimable', args: [epoch, provider], blockNumber })),
  )

  const claimed: RewardClaim[] = []
  const refused: bigint[] = []
  let checkedThrough = start
  try {
    for (const [i, epoch] of epochs.entries()) {
      if (signal?.aborted) break
      const [usage, availability] = rewards[i]
      if (usage + availability > 0n) {
        const claim = await claimEpoch(parameters, epoch)
        if (claim === 'refused') refused.push(epoch)
        else claimed.push(claim)
      }
      checkedThrough = epoch
    }
  } finally {
    if (checkedThrough !== undefined && checkedThrough !== start) await journal.setRewardsCheckedThrough(checkedThrough)
    if (checkedThrough !== undefined) metrics.rewardsCheckedEpoch.set(Number(checkedThrough))
  }
  return { claimed, refused, checkedThrough, behind: closed && (checkedThrough ?? -1n) < lastClosed }
}

/** Sends `claim(epoch)`: the mined claim, or `refused` when the contract says there is nothing (left) to claim. */
async function claimEpoch(parameters: ClaimRewardsParameters, epoch: bigint): Promise<RewardClaim | 'refused'> {
  const { metrics, log } = parameters
  try {
    const { hash, receipt } = await parameters.sender.send(
      { address: parameters.emissionController, abi: emissionControllerAbi, functionName: 'claim', args: [epoch] },
      { priority: 'low' },
    )
    const amount = parseEventLogs({ abi: emissionControllerAbi, eventName: 'RewardClaimed', logs: receipt.logs }).reduce(
      (sum, event) => sum + event.args.usage + event.args.availability,
      0n,
    )
    metrics.rewardClaims.inc({ result: 'claimed' })
    metrics.rewardsClaimedTsr.inc(Number(formatEther(amount)))
    log.info({ epoch: epoch.toString(), amount: amount.toString(), txHash: hash }, 'emission reward claimed')
    return { epoch, amount, txHash: hash }
  } catch (error) {
    const revert = error instanceof TransactionError ? error.revert : undefined
    if (!revert || !refusals.has(revert.errorName)) throw error
    metrics.rewardClaims.inc({ result: 'refused' })
    log.info({ epoch: epoch.toString(), revert: revert.errorName }, 'emission reward claim refused: nothing left to claim')
    return 'refused'
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
