import { ponder } from 'ponder:registry'
import { challengeRecord, challengeRound } from 'ponder:schema'
import { eventColumns } from './eventColumns.ts'
import { upsertProvider } from './upsertProvider.ts'

ponder.on('ChallengeLedger:RoundCommitted', async ({ event, context }) => {
  const { round, seedHash } = event.args
  const row = { seedHash, committedAt: event.block.timestamp, blockNumber: event.block.number, txHash: event.transaction.hash }
  // The counters and the reveal are left alone on conflict: ChallengeRecorded and RoundRevealed keep them.
  await context.db
    .insert(challengeRound)
    .values({ round, ...row, seed: null, revealedAt: null, recorded: 0, passed: 0, failed: 0 })
    .onConflictDoUpdate(row)
})

ponder.on('ChallengeLedger:ChallengeRecorded', async ({ event, context }) => {
  const { round, jobId, provider, passed, unitsPerHour } = event.args
  // The counters below move once per record: a log seen again changes nothing.
  if (await context.db.find(challengeRecord, { id: event.id })) return
  await context.db.insert(challengeRecord).values({ ...eventColumns(event), round, jobId, provider, passed, unitsPerHour })
  // The round exists: ChallengeLedger records only into a committed round.
  await context.db.update(challengeRound, { round }).set((row) => ({
    recorded: row.recorded + 1,
    passed: row.passed + (passed ? 1 : 0),
    failed: row.failed + (passed ? 0 : 1),
  }))
  // Attested capacity is what the latest challenge showed: a failed one attests nothing until the provider passes again.
  await upsertProvider(context.db, event, provider, (p) => ({
    challengesPassed: p.challengesPassed + (passed ? 1 : 0),
    challengesFailed: p.challengesFailed + (passed ? 0 : 1),
    attestedCapacity: passed ? unitsPerHour : 0n,
    lastChallengedAt: event.block.timestamp,
  }))
})

ponder.on('ChallengeLedger:RoundRevealed', async ({ event, context }) => {
  const { round, seed } = event.args
  await context.db.update(challengeRound, { round }).set({ seed, revealedAt: event.block.timestamp })
})
