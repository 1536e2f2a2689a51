import type { Address } from 'viem'
import type { AssignmentEvent } from '../../server/pubsub.ts'

/**
 * An assignment of `provider` to job `jobId` as the change feed publishes it, logged at (`blockNumber`, `logIndex`):
 * round 1, slot 0, 10 wei a unit, 100 wei of collateral.
 */
export function assignmentEvent(provider: Address, jobId: bigint, blockNumber: bigint, logIndex: number): AssignmentEvent {
  return {
    id: `${jobId}:${provider}`,
    jobId,
    provider,
    round: 1,
    slot: 0,
    pricePerUnit: 10n,
    collateral: 100n,
    commitDeadline: 1_700_000_000n,
    blockNumber,
    logIndex,
  }
}
