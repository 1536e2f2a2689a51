import type { Context } from 'ponder:registry'
import { provider } from 'ponder:schema'
import type { EventMeta } from './eventColumns.ts'

/** A provider row as stored. */
export type ProviderRow = typeof provider.$inferSelect

/**
 * Applies `change` to a provider's row, creating the row first when this is the first event that mentions the
 * provider (a stake can precede registration). Stamps `updatedBlock` with the event's block.
 */
export async function upsertProvider(
  db: Context['db'],
  event: Pick<EventMeta, 'block'>,
  address: `0x${string}`,
  change: (row: ProviderRow) => Partial<Omit<ProviderRow, 'address'>>,
): Promise<void> {
  const blockNumber = event.block.number
  const blank: ProviderRow = {
    address: address.toLowerCase() as `0x${string}`,
    gpuModel: 0n,
    gpuCount: 0,
    vramMib: 0n,
    cpuCores: 0,
    memoryMib: 0n,
    benchmarkScore: 0n,
    pricePerUnit: 0n,
    region: `0x${'00'.repeat(32)}`,
    encryptionPubKey: '0x',
    registered: false,
    paused: false,
    stake: 0n,
    locked: 0n,
    pendingUnstake: 0n,
    unstakeAvailableAt: 0n,
    slashedTotal: 0n,
    earnedTotal: 0n,
    jobsCompleted: 0,
    jobsFailed: 0,
    slashCount: 0,
    noShowCount: 0,
    challengesPassed: 0,
    challengesFailed: 0,
    attestedCapacity: 0n,
    lastChallengedAt: null,
    registeredAt: null,
    registeredBlock: null,
    updatedBlock: blockNumber,
  }
  const apply = (row: ProviderRow) => ({ ...change(row), updatedBlock: blockNumber })
  await db
    .insert(provider)
    .values({ ...blank, ...apply(blank) })
    .onConflictDoUpdate(apply)
}
