import { sleep } from '../protocol/retry.ts'
import { type ClaimRewardsParameters, claimRewards } from './claimRewards.ts'
import { type WithdrawEarningsParameters, withdrawEarnings } from './withdrawEarnings.ts'

export type PayoutLoopParameters = Omit<ClaimRewardsParameters, 'maxEpochs' | 'metrics' | 'signal'> &
  Omit<WithdrawEarningsParameters, 'metrics'> & {
    intervalMs: number
    /** Closed epochs checked for a reward at most per tick (`claimRewards`' `maxEpochs`). */
    maxEpochsPerTick: number
    metrics: ClaimRewardsParameters['metrics'] & WithdrawEarningsParameters['metrics']
    signal: AbortSignal
  }

/**
 * From start, then every `intervalMs` until `signal` aborts, pays the provider out: claims its emission rewards of
 * closed epochs (`claimRewards`, a bounded scan from the journal's cursor) and withdraws its JobMarket earnings
 * (`withdrawEarnings`). Its transactions go at low priority through the agent's sender, after any commit or reveal
 * waiting. A failed part is logged, counted as an `error` and tried again next tick, the cursor where it stopped.
 * Never rejects.
 */
export async function payoutLoop(parameters: PayoutLoopParameters): Promise<void> {
  const { log, signal, metrics } = parameters
  while (!signal.aborted) {
    try {
      const { behind, checkedThrough } = await claimRewards({ ...parameters, maxEpochs: parameters.maxEpochsPerTick })
      if (behind) log.debug({ checkedThrough: checkedThrough?.toString() }, 'reward scan behind the closed epochs; more next tick')
    } catch (error) {
      if (signal.aborted) break
      metrics.rewardClaims.inc({ result: 'error' })
      log.warn({ err: error }, 'reward claims failed; the epochs not yet checked are retried next tick')
    }
    if (signal.aborted) break
    try {
      await withdrawEarnings(parameters)
    } catch (error) {
      if (signal.aborted) break
      metrics.withdrawals.inc({ result: 'error' })
      log.warn({ err: error }, 'withdrawal failed; retried next tick')
    }
    await sleep(parameters.intervalMs, signal)
  }
}
