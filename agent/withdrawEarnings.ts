import type { Logger } from 'pino'
import { type Address, formatEther, type Hash, type PublicClient, parseEventLogs } from 'viem'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import { TransactionError, type TxSender } from './txSender.ts'

export type WithdrawEarningsParameters = {
  provider: Address
  jobMarket: Address
  publicClient: PublicClient
  sender: Pick<TxSender, 'send'>
  /** Smallest balance worth a transaction, TSR wei: less stays in JobMarket until it grows. 0: any positive balance. */
  minWithdraw: bigint
  metrics: Pick<AgentMetrics, 'withdrawals' | 'withdrawnTsr'>
  log: Logger
}

export type WithdrawEarningsReturnType = {
  /** What JobMarket owed the provider when read. */
  owed: bigint
  /** TSR wei withdrawn (from `Withdrawn`); 0 when nothing was. */
  withdrawn: bigint
  txHash?: Hash
}

/**
 * Withdraws what JobMarket owes the provider (fees, refunded collateral shares, slash shares) when it is at least
 * `minWithdraw` and above zero, through the agent's sender at low priority. A withdrawal the contract refuses as
 * `NothingToWithdraw` (another withdrawal got there first) is not counted; any other failure is thrown.
 */
export async function withdrawEarnings(parameters: WithdrawEarningsParameters): Promise<WithdrawEarningsReturnType> {
  const { provider, publicClient, metrics, log } = parameters
  const market = { address: parameters.jobMarket, abi: jobMarketAbi } as const
  const owed = await publicClient.readContract({ ...market, functionName: 'owed', args: [provider] })
  if (owed === 0n || owed < parameters.minWithdraw) return { owed, withdrawn: 0n }
  try {
    const { hash, receipt } = await parameters.sender.send({ ...market, functionName: 'withdraw', args: [] }, { priority: 'low' })
    const withdrawn = parseEventLogs({ abi: jobMarketAbi, eventName: 'Withdrawn', logs: receipt.logs }).reduce(
      (sum, event) => sum + event.args.amount,
      0n,
    )
    metrics.withdrawals.inc({ result: 'withdrawn' })
    metrics.withdrawnTsr.inc(Number(formatEther(withdrawn)))
    log.info({ amount: withdrawn.toString(), txHash: hash }, 'earnings withdrawn')
    return { owed, withdrawn, txHash: hash }
  } catch (error) {
    const revert = error instanceof TransactionError ? error.revert : undefined
    if (revert?.errorName !== 'NothingToWithdraw') throw error
    metrics.withdrawals.inc({ result: 'refused' })
    log.info('nothing left to withdraw')
    return { owed, withdrawn: 0n }
  }
}
