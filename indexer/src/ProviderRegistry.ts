import { type Context, ponder } from 'ponder:registry'
import { slash, stakeEvent } from 'ponder:schema'
import type { Hardware } from '../../protocol/hardware.ts'
import { type EventMeta, eventColumns } from './eventColumns.ts'
import { upsertProvider } from './upsertProvider.ts'

// Stake numbers are mirrored from events alone (no RPC reads): Staked carries the new total, the others carry
// deltas. indexer.test.ts checks the result against ProviderRegistry.getProvider.

/** The provider columns of a `Hardware` struct: viem decodes its uint32 fields as numbers, their columns are bigints. */
function hardwareColumns(hardware: Hardware) {
  return {
    gpuModel: BigInt(hardware.gpuModel),
    gpuCount: hardware.gpuCount,
    vramMib: BigInt(hardware.vramMiB),
    cpuCores: hardware.cpuCores,
    memoryMib: BigInt(hardware.memoryMiB),
    benchmarkScore: BigInt(hardware.benchmarkScore),
  }
}

ponder.on('ProviderRegistry:ProviderRegistered', async ({ event, context }) => {
  const { provider, hardware, pricePerUnit, region, encryptionPubKey } = event.args
  await upsertProvider(context.db, event, provider, () => ({
    ...hardwareColumns(hardware),
    pricePerUnit,
    region,
    encryptionPubKey,
    registered: true,
    registeredAt: event.block.timestamp,
    registeredBlock: event.block.number,
  }))
})

ponder.on('ProviderRegistry:ProviderUpdated', async ({ event, context }) => {
  const { provider, hardware, pricePerUnit, region } = event.args
  await upsertProvider(context.db, event, provider, () => ({ ...hardwareColumns(hardware), pricePerUnit, region }))
})

ponder.on('ProviderRegistry:ProviderPaused', async ({ event, context }) => {
  await upsertProvider(context.db, event, event.args.provider, () => ({ paused: true }))
})

ponder.on('ProviderRegistry:ProviderUnpaused', async ({ event, context }) => {
  await upsertProvider(context.db, event, event.args.provider, () => ({ paused: false }))
})

/** Records one row of `stake_event`; re-processing the same log is a no-op. */
async function recordStakeEvent(
  db: Context['db'],
  event: EventMeta,
  row: {
    provider: `0x${string}`
    kind: 'staked' | 'unstake_requested' | 'withdrawn' | 'locked' | 'unlocked' | 'stake_slashed'
    amount: bigint
    jobId?: bigint
  },
) {
  await db
    .insert(stakeEvent)
    .values({ ...eventColumns(event), ...row, jobId: row.jobId ?? null })
    .onConflictDoNothing()
}

ponder.on('ProviderRegistry:Staked', async ({ event, context }) => {
  const { provider, amount, totalStake } = event.args
  await upsertProvider(context.db, event, provider, () => ({ stake: totalStake }))
  await recordStakeEvent(context.db, event, { provider, kind: 'staked', amount })
})

ponder.on('ProviderRegistry:UnstakeRequested', async ({ event, context }) => {
  const { provider, amount, availableAt } = event.args
  // A new request adds to the pending amount and restarts the clock.
  await upsertProvider(context.db, event, provider, (row) => ({
    pendingUnstake: row.pendingUnstake + amount,
    unstakeAvailableAt: availableAt,
  }))
  await recordStakeEvent(context.db, event, { provider, kind: 'unstake_requested', amount })
})

ponder.on('ProviderRegistry:Withdrawn', async ({ event, context }) => {
  const { provider, amount } = event.args
  await upsertProvider(context.db, event, provider, (row) => {
    const pendingUnstake = row.pendingUnstake > amount ? row.pendingUnstake - amount : 0n
    return { stake: row.stake - amount, pendingUnstake, unstakeAvailableAt: pendingUnstake === 0n ? 0n : row.unstakeAvailableAt }
  })
  await recordStakeEvent(context.db, event, { provider, kind: 'withdrawn', amount })
})

ponder.on('ProviderRegistry:CollateralLocked', async ({ event, context }) => {
  const { provider, jobId, amount } = event.args
  await upsertProvider(context.db, event, provider, (row) => ({ locked: row.locked + amount }))
  await recordStakeEvent(context.db, event, { provider, kind: 'locked', amount, jobId })
})

ponder.on('ProviderRegistry:CollateralUnlocked', async ({ event, context }) => {
  const { provider, jobId, amount } = event.args
  await upsertProvider(context.db, event, provider, (row) => ({ locked: row.locked - amount }))
  await recordStakeEvent(context.db, event, { provider, kind: 'unlocked', amount, jobId })
})

ponder.on('ProviderRegistry:Slashed', async ({ event, context }) => {
  const { provider, jobId, amount, beneficiary, toBeneficiary, burned } = event.args
  // The amount leaves the provider's locked collateral and, with it, its stake.
  await upsertProvider(context.db, event, provider, (row) => ({
    stake: row.stake - amount,
    locked: row.locked - amount,
    slashedTotal: row.slashedTotal + amount,
    slashCount: row.slashCount + 1,
  }))
  await context.db
    .insert(slash)
    .values({ provider, jobId, amount, beneficiary, toBeneficiary, burned, ...eventColumns(event) })
    .onConflictDoNothing()
})

ponder.on('ProviderRegistry:StakeSlashed', async ({ event, context }) => {
  const { provider, jobId, amount } = event.args
  // A confirmed challenge failure burns everything beyond the locked collateral, the pending unstake with it.
  await upsertProvider(context.db, event, provider, (row) => ({
    stake: row.stake - amount,
    pendingUnstake: 0n,
    unstakeAvailableAt: 0n,
    slashedTotal: row.slashedTotal + amount,
    slashCount: row.slashCount + 1,
  }))
  await recordStakeEvent(context.db, event, { provider, kind: 'stake_slashed', amount, jobId })
})
