import { ponder } from 'ponder:registry'
import { epoch, rewardClaim } from 'ponder:schema'
import { eventColumns } from './eventColumns.ts'

ponder.on('EmissionController:EpochAdvanced', async ({ event, context }) => {
  const { epoch: id, ...fields } = event.args
  const row = {
    ...fields,
    blockNumber: event.block.number,
    timestamp: event.block.timestamp,
    txHash: event.transaction.hash,
  }
  // `claimed` is left alone on conflict: it is the running sum kept by RewardClaimed.
  await context.db
    .insert(epoch)
    .values({ id, ...row, claimed: 0n })
    .onConflictDoUpdate(row)
})

ponder.on('EmissionController:RewardClaimed', async ({ event, context }) => {
  const { epoch: epochId, provider, usage, availability } = event.args
  await context.db
    .insert(rewardClaim)
    .values({ ...eventColumns(event), epoch: epochId, provider, usage, availability })
    .onConflictDoNothing()
  await context.db.update(epoch, { id: epochId }).set((row) => ({ claimed: row.claimed + usage + availability }))
})
