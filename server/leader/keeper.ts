import type { QueryCreator } from 'kysely'
import type { Logger } from 'pino'
import { type Address, maxUint256, type PublicClient } from 'viem'
import { emissionControllerAbi, jobMarketAbi } from '../../contracts/generated/index.ts'
import type { Database } from '../db/database.ts'
import { findKeeperWork } from '../db/jobs.ts'
import type { ServerDeployment } from '../deployment.ts'
import type { AssignMeta } from './matcher.ts'
import type { createTransactionSender } from './transactionSender.ts'

const jobsPerAction = 25

/**
 * The keeper: at chain time `now` it sends `finalize` (REVEALED, or COMMITTED past the reveal
 * deadline), `expire` (OPEN past the deadline), `expireAssignment` (ASSIGNED past the commit
 * deadline) and `advanceEpoch` (an ended epoch not yet closed), one in flight per (action, job).
 */
export function createKeeper(parameters: {
  views: QueryCreator<Database>
  publicClient: PublicClient
  deployment: ServerDeployment
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  log: Logger
}) {
  const { views, publicClient, deployment, sender } = parameters
  const jobMarket = deployment.contracts.JobMarket.address as Address
  const controller = deployment.contracts.EmissionController.address as Address

  return {
    async tick(chainTime: bigint): Promise<number> {
      const work = await findKeeperWork(views, chainTime, jobsPerAction)
      const actionable = new Set<string>()
      for (const [action, ids] of Object.entries(work)) for (const id of ids) actionable.add(`${action}:${id}`)
      sender.settle((key) => key.startsWith('assign:') || key.startsWith('advanceEpoch:') || actionable.has(key))
      let sent = 0
      for (const [action, ids] of Object.entries(work) as [keyof typeof work, string[]][]) {
        for (const id of ids) {
          const hash = await sender.send({
            key: `${action}:${id}`,
            action,
            address: jobMarket,
            abi: jobMarketAbi,
            functionName: action,
            args: [BigInt(id)],
            meta: { kind: 'keeper' },
          })
          if (hash) sent++
        }
      }
      const [current, lastClosed] = await Promise.all([
        publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'currentEpoch' }),
        publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' }),
      ])
      // Every epoch before `current` has ended; close them when the last closed one lags.
      const needsAdvance = current > 0n && (lastClosed === maxUint256 || lastClosed + 1n < current)
      if (needsAdvance) {
        const hash = await sender.send({
          key: `advanceEpoch:${current}`,
          action: 'advanceEpoch',
          address: controller,
          abi: emissionControllerAbi,
          functionName: 'advanceEpoch',
          args: [],
          meta: { kind: 'keeper' },
        })
        if (hash) sent++
      }
      return sent
    },
  }
}
