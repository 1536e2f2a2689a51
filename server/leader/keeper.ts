import type { Logger } from 'pino'
import { maxUint256, type PublicClient } from 'viem'
import { emissionControllerAbi, jobMarketAbi } from '../../contracts/generated/index.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import type { Views } from '../db/database.ts'
import { findKeeperWork } from '../db/jobs.ts'
import type { createDisagreementProver } from './disagreementProver.ts'
import type { AssignMeta } from './matcher.ts'
import type { createTransactionSender } from './transactionSender.ts'

const jobsPerAction = 25
/**
 * Most epochs one `advanceEpoch` closes: ≈ 85k gas a call plus a constant per epoch whatever the providers paid in
 * it, ≤ 75k at the default per-provider cap (BENCHMARKS.md), so ≤ 7.6M gas. A longer outage takes several ticks.
 */
const epochsPerAdvance = 100n

/**
 * The keeper: at chain time `now` it sends `finalize` (REVEALED, or COMMITTED past the reveal
 * deadline), `expire` (OPEN or DISPUTED past the deadline), `expireAssignment` (ASSIGNED past the commit
 * deadline) and `advanceEpoch(epochsPerAdvance)` (an ended epoch not yet closed), one in flight per (action, job).
 * A job whose revealed results differ is finalized only once its proof window closed; meanwhile `prover` proves its
 * disagreements.
 */
export function createKeeper(parameters: {
  views: Views
  publicClient: PublicClient
  deployment: Deployment
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  log: Logger
  /** Proves disagreements under tolerance from the stored outputs; without it nobody proves and results that differ agree. */
  prover?: ReturnType<typeof createDisagreementProver>
}) {
  const { views, publicClient, deployment, sender, prover } = parameters
  const jobMarket = deployment.contracts.JobMarket.address
  const controller = deployment.contracts.EmissionController.address

  return {
    async tick(chainTime: bigint): Promise<number> {
      const work = await findKeeperWork(views, chainTime, deployment.params.market.proofWindow, jobsPerAction)
      const actionable = new Set<string>()
      for (const [action, ids] of Object.entries(work)) for (const id of ids) actionable.add(`${action}:${id}`)
      sender.settle(
        (key) => key.startsWith('assign:') || key.startsWith('advanceEpoch:') || actionable.has(key) || prover?.owns(key) === true,
      )
      let sent = prover ? await prover.tick(chainTime) : 0
      for (const [action, ids] of Object.entries(work) as [keyof typeof work, bigint[]][]) {
        for (const id of ids) {
          const hash = await sender.send({
            key: `${action}:${id}`,
            action,
            address: jobMarket,
            abi: jobMarketAbi,
            functionName: action,
            args: [id],
            meta: { kind: 'keeper' },
          })
          if (hash) sent++
        }
      }
      const [current, lastClosed] = await Promise.all([
        publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'currentEpoch' }),
        publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' }),
      ])
      // Every epoch before `current` has ended; close them when the last closed one lags. Keyed by the first epoch
      // to close, so after a long outage each bounded call's successor goes out as soon as its predecessor is mined.
      const firstOpen = lastClosed === maxUint256 ? 0n : lastClosed + 1n
      if (firstOpen < current) {
        const hash = await sender.send({
          key: `advanceEpoch:${firstOpen}`,
          action: 'advanceEpoch',
          address: controller,
          abi: emissionControllerAbi,
          functionName: 'advanceEpoch',
          args: [epochsPerAdvance],
          meta: { kind: 'keeper' },
        })
        if (hash) sent++
      }
      return sent
    },
  }
}
