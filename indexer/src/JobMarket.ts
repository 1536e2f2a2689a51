import { type Context, ponder } from 'ponder:registry'
import { assignment, audit, disagreement, feeBurn, job, payment } from 'ponder:schema'
import { type AssignmentOutcome, type JobStatusName, jobStatusName, type PaymentKind, slotOutcomes } from '../../protocol/enums.ts'
import { type EventMeta, eventColumns } from './eventColumns.ts'
import { upsertProvider } from './upsertProvider.ts'

type Db = Context['db']
type Hex = `0x${string}`
type JobRow = typeof job.$inferSelect
type AuditRow = typeof audit.$inferSelect

const lower = (value: Hex) => value.toLowerCase() as Hex
const assignmentId = (jobId: bigint, provider: Hex) => `${jobId}:${lower(provider)}`

/**
 * Updates a job row, stamping `updatedBlock`, and returns the row as updated. The row exists: JobSubmitted precedes
 * every other job event (Ponder's update throws `RecordNotFoundError` otherwise).
 */
async function updateJob(db: Db, event: EventMeta, jobId: bigint, change: (row: JobRow) => Partial<JobRow>): Promise<JobRow> {
  return db.update(job, { id: jobId }).set((row) => ({ ...change(row), updatedBlock: event.block.number }))
}

/** Applies `change` to an optimistic job's audit row, creating it (unaudited, kind 0) at the first audit event. */
async function upsertAudit(db: Db, event: EventMeta, jobId: bigint, change: (row: AuditRow) => Partial<Omit<AuditRow, 'jobId'>>) {
  const blank: AuditRow = {
    jobId,
    kind: 0,
    auditors: 0,
    challenger: null,
    bond: 0n,
    startedAt: null,
    settledAt: null,
    premium: null,
    reimbursed: null,
    bondToProvider: null,
    bondBurned: null,
    bondReturned: null,
    updatedBlock: event.block.number,
  }
  const apply = (row: AuditRow) => ({ ...change(row), updatedBlock: event.block.number })
  await db
    .insert(audit)
    .values({ ...blank, ...apply(blank) })
    .onConflictDoUpdate(apply)
}

async function recordPayment(db: Db, event: EventMeta, row: { jobId: bigint | null; account: Hex; kind: PaymentKind; amount: bigint }) {
  await db
    .insert(payment)
    .values({ ...eventColumns(event), ...row })
    .onConflictDoNothing()
}

/** A credit to a provider's `owed` (its fee or its share of a slash): counted in its earnings and recorded as a payment. */
async function creditProvider(db: Db, event: EventMeta, row: { jobId: bigint; provider: Hex; kind: PaymentKind; amount: bigint }) {
  const { jobId, provider, kind, amount } = row
  await upsertProvider(db, event, provider, (p) => ({ earnedTotal: p.earnedTotal + amount }))
  await recordPayment(db, event, { jobId, account: lower(provider), kind, amount })
}

ponder.on('JobMarket:JobSubmitted', async ({ event, context }) => {
  const { jobId, requester, spec, escrow } = event.args
  const row = {
    requester,
    modelHash: spec.modelHash,
    inputHash: spec.inputHash,
    units: spec.units,
    maxPricePerUnit: spec.maxPricePerUnit,
    // uint32: viem decodes them as numbers, their columns are bigints (ponder.schema.ts, `uint`).
    minVramMib: BigInt(spec.minVramMiB),
    gpuModel: BigInt(spec.gpuModel),
    regions: spec.regions.map(lower),
    redundancy: spec.redundancy,
    verification: spec.verification,
    deadline: spec.deadline,
    outputTolerance: spec.outputTolerance,
    escrow,
    status: 'OPEN' satisfies JobStatusName,
    round: 0,
    providers: [],
    disputedProviders: [],
    claimers: [],
    claimed: false,
    openedAt: event.block.timestamp,
    submittedAt: event.block.timestamp,
    submittedBlock: event.block.number,
    updatedBlock: event.block.number,
    txHash: event.transaction.hash,
  }
  await context.db
    .insert(job)
    .values({ id: jobId, ...row })
    .onConflictDoUpdate(row)
})

ponder.on('JobMarket:JobAssigned', async ({ event, context }) => {
  const { jobId, provider, slot, pricePerUnit, collateral, commitDeadline } = event.args
  // One read and write of the job, which then gives the round for the assignment's row.
  const { round } = await updateJob(context.db, event, jobId, (current) => {
    // One assign() emits one JobAssigned per provider: the first of them (job still OPEN, or DISPUTED for its
    // tie-break) starts a new round.
    const newRound = current.status === 'OPEN' || current.status === 'DISPUTED'
    return {
      status: 'ASSIGNED',
      round: newRound ? current.round + 1 : current.round,
      providers: newRound ? [lower(provider)] : [...current.providers.filter((p) => p !== lower(provider)), lower(provider)],
      claimers: [],
      firstClaimedAt: null,
      // A round the k-th claim started follows its k SlotClaimed in the same transaction; `assign` released any
      // partial claims (SlotSettled) before its JobAssigned, so the claimers are full only in a claimed round.
      claimed: newRound ? current.claimers.length === current.redundancy : current.claimed,
      commitDeadline,
      revealDeadline: null,
    }
  })
  // A provider assigned again in a later round (one that committed before) overwrites its earlier row. NO_SHOW rows and
  // the disputed first round's rows are never overwritten: JobMarket refuses those providers for that job
  // (ProviderWasNoShow, ProviderInDispute).
  const row = {
    jobId,
    provider: lower(provider),
    round,
    slot,
    pricePerUnit,
    collateral,
    commitDeadline,
    assignedAt: event.block.timestamp,
    blockNumber: event.block.number,
    logIndex: event.log.logIndex,
    txHash: event.transaction.hash,
    commitment: null,
    committedAt: null,
    fingerprint: null,
    outputHash: null,
    revealedAt: null,
    outcome: 'PENDING' satisfies AssignmentOutcome,
    settledAt: null,
    paid: 0n,
  }
  await context.db
    .insert(assignment)
    .values({ id: assignmentId(jobId, provider), ...row })
    .onConflictDoUpdate(row)
})

ponder.on('JobMarket:SlotClaimed', async ({ event, context }) => {
  // The slot is not yet an assignment: the k-th claim's JobAssigned events, right after it, make the round's rows.
  const { jobId, provider } = event.args
  await updateJob(context.db, event, jobId, (row) => ({
    claimers: [...row.claimers.filter((p) => p !== lower(provider)), lower(provider)],
    firstClaimedAt: row.claimers.length ? row.firstClaimedAt : event.block.timestamp,
  }))
})

ponder.on('JobMarket:ResultCommitted', async ({ event, context }) => {
  const { jobId, provider, commitment } = event.args
  await context.db.update(assignment, { id: assignmentId(jobId, provider) }).set({ commitment, committedAt: event.block.timestamp })
})

ponder.on('JobMarket:JobCommitted', async ({ event, context }) => {
  const { jobId, revealDeadline } = event.args
  await updateJob(context.db, event, jobId, () => ({ status: 'COMMITTED', revealDeadline }))
})

ponder.on('JobMarket:ResultRevealed', async ({ event, context }) => {
  const { jobId, provider, fingerprint, outputHash } = event.args
  await context.db
    .update(assignment, { id: assignmentId(jobId, provider) })
    .set({ fingerprint, outputHash, revealedAt: event.block.timestamp })
})

ponder.on('JobMarket:DisagreementProven', async ({ event, context }) => {
  const { jobId, a, b, index } = event.args
  await context.db
    .insert(disagreement)
    .values({
      jobId,
      a: a.toLowerCase() as `0x${string}`,
      b: b.toLowerCase() as `0x${string}`,
      elementIndex: index,
      ...eventColumns(event),
    })
    .onConflictDoNothing()
})

ponder.on('JobMarket:JobRevealed', async ({ event, context }) => {
  // As JobMarket does: the reveals are over, and the proof window (an optimistic job's challenge window too) counts
  // from now; the hash of the next block decides an optimistic job's spot check.
  await updateJob(context.db, event, event.args.jobId, () => ({
    status: 'REVEALED',
    revealDeadline: event.block.timestamp,
    revealBlock: event.block.number,
  }))
})

ponder.on('JobMarket:JobFinalized', async ({ event, context }) => {
  // `refunded` is left to the Refunded handler, which emits the same amount just before this event, and each
  // provider's outcome to SlotSettled, which follows it.
  const { jobId, status, fingerprint, fees, burned } = event.args
  await updateJob(context.db, event, jobId, () => ({
    status: jobStatusName(status),
    fingerprint,
    fees,
    burned,
    finalizedAt: event.block.timestamp,
  }))
})

ponder.on('JobMarket:JobDisputed', async ({ event, context }) => {
  // No first-round majority, or an optimistic job sent to its audit: JobMarket moves the round's providers aside
  // (still holding their collateral, outcome pending until the verdict) and waits for fresh ones. Only an audit whose
  // auditor disagreed is disputed a second time: the auditor joins the original provider already there (JobMarket's
  // `disputed = [original, auditor]`), and both wait for the two judges of the tie-break.
  await updateJob(context.db, event, event.args.jobId, (row) => ({
    status: 'DISPUTED',
    openedAt: event.block.timestamp,
    providers: [],
    disputedProviders: [...row.disputedProviders, ...row.providers],
    commitDeadline: null,
    revealDeadline: null,
    revealBlock: null,
  }))
})

ponder.on('JobMarket:Challenged', async ({ event, context }) => {
  const { jobId, challenger, bond } = event.args
  await upsertAudit(context.db, event, jobId, () => ({ challenger: lower(challenger), bond }))
})

ponder.on('JobMarket:AuditStarted', async ({ event, context }) => {
  // Follows the JobDisputed that moved the audited providers aside. JobMarket's `assign` now takes `auditors` fresh
  // providers (the spec's redundancy becomes 2 on chain at the escalation), and the deadline may have been pushed out.
  const { jobId, kind, auditors, deadline } = event.args
  await updateJob(context.db, event, jobId, () => ({ redundancy: auditors, deadline }))
  await upsertAudit(context.db, event, jobId, (row) => ({ kind, auditors, startedAt: row.startedAt ?? event.block.timestamp }))
})

ponder.on('JobMarket:AuditSettled', async ({ event, context }) => {
  // Once per optimistic job that settled with a verdict (the premium of an unaudited one, or an audit's reimbursement
  // and bond), or that failed or expired holding a challenge bond (returned whole).
  const { jobId, premium, reimbursed, toProvider, bondBurned, bondReturned } = event.args
  // The bond's half goes to the original provider, the first of the audit's disputed providers; a returned bond to
  // the challenger: both are credits to `owed`, recorded as payments (the provider's counted in its earnings).
  if (toProvider > 0n) {
    const row = await context.db.find(job, { id: jobId })
    const original = row?.disputedProviders[0]
    if (!original) throw new Error(`AuditSettled paid a bond share for job ${jobId}, which has no audited provider`)
    await creditProvider(context.db, event, { jobId, provider: original, kind: 'BOND_SHARE', amount: toProvider })
  }
  if (bondReturned > 0n) {
    const row = await context.db.find(audit, { jobId })
    if (!row?.challenger) throw new Error(`AuditSettled returned a bond for job ${jobId}, which has no challenger`)
    await recordPayment(context.db, event, { jobId, account: row.challenger as Hex, kind: 'BOND_RETURN', amount: bondReturned })
  }
  await upsertAudit(context.db, event, jobId, () => ({
    premium,
    reimbursed,
    bondToProvider: toProvider,
    bondBurned,
    bondReturned,
    settledAt: event.block.timestamp,
  }))
})

ponder.on('JobMarket:SlotSettled', async ({ event, context }) => {
  const { jobId, provider } = event.args
  const outcome = slotOutcomes[event.args.outcome]
  if (!outcome) throw new Error(`SlotSettled with unknown outcome ${event.args.outcome} for job ${jobId}`)
  // A partial claim released (by assign, cancel or expire) was never an assignment: it only leaves the claimers. A
  // claimer is never a party to the job's dispute nor assigned in it, so nothing else settles it here. Only a release
  // reads the job: the other outcomes (most SlotSettled) go straight to the assignment.
  const current = outcome === 'RELEASED' ? await context.db.find(job, { id: jobId }) : null
  if (current?.claimers.includes(lower(provider))) {
    await updateJob(context.db, event, jobId, (row) => {
      const claimers = row.claimers.filter((p) => p !== lower(provider))
      return { claimers, firstClaimedAt: claimers.length ? row.firstClaimedAt : null }
    })
    return
  }
  const id = assignmentId(jobId, provider)
  const row = await context.db.find(assignment, { id })
  if (!row) throw new Error(`SlotSettled for ${provider}, never assigned job ${jobId}`)
  // A settled row is settled once per round (a new round overwrites it with PENDING): the counters move only then.
  if (row.outcome === outcome) return
  await context.db.update(assignment, { id }).set({ outcome, settledAt: event.block.timestamp })
  if (outcome === 'AGREED') await upsertProvider(context.db, event, provider, (p) => ({ jobsCompleted: p.jobsCompleted + 1 }))
  if (outcome === 'DISSENTED' || outcome === 'NO_REVEAL')
    await upsertProvider(context.db, event, provider, (p) => ({ jobsFailed: p.jobsFailed + 1 }))
})

ponder.on('JobMarket:ProviderPaid', async ({ event, context }) => {
  const { jobId, provider, amount } = event.args
  await context.db.update(assignment, { id: assignmentId(jobId, provider) }).set((row) => ({ paid: row.paid + amount }))
  await creditProvider(context.db, event, { jobId, provider, kind: 'FEE', amount })
})

ponder.on('JobMarket:SlashShareCredited', async ({ event, context }) => {
  const { jobId, provider, amount } = event.args
  await creditProvider(context.db, event, { jobId, provider, kind: 'SLASH_SHARE', amount })
})

ponder.on('JobMarket:Refunded', async ({ event, context }) => {
  const { jobId, requester, amount } = event.args
  await recordPayment(context.db, event, { jobId, account: lower(requester), kind: 'REFUND', amount })
  // Everything credited back to the requester over the job's life: settlement change, cancel/expiry escrow. Never more than
  // the escrow: slashes of no-shows and of a failed job's non-revealers are burned, not credited to the requester.
  await updateJob(context.db, event, jobId, (row) => ({ refunded: (row.refunded ?? 0n) + amount }))
})

ponder.on('JobMarket:Withdrawn', async ({ event, context }) => {
  const { account, amount } = event.args
  await recordPayment(context.db, event, { jobId: null, account: lower(account), kind: 'WITHDRAWAL', amount })
})

ponder.on('JobMarket:FeeBurned', async ({ event, context }) => {
  const { jobId, amount } = event.args
  await context.db
    .insert(feeBurn)
    .values({ ...eventColumns(event), jobId, amount })
    .onConflictDoNothing()
})

ponder.on('JobMarket:JobCancelled', async ({ event, context }) => {
  await updateJob(context.db, event, event.args.jobId, () => ({ status: 'CANCELLED', finalizedAt: event.block.timestamp }))
})

ponder.on('JobMarket:JobExpired', async ({ event, context }) => {
  await updateJob(context.db, event, event.args.jobId, () => ({ status: 'EXPIRED', finalizedAt: event.block.timestamp }))
})

ponder.on('JobMarket:NoShow', async ({ event, context }) => {
  const { jobId, provider } = event.args
  await context.db
    .update(assignment, { id: assignmentId(jobId, provider) })
    .set({ outcome: 'NO_SHOW' satisfies AssignmentOutcome, settledAt: event.block.timestamp })
  await upsertProvider(context.db, event, provider, (p) => ({ noShowCount: p.noShowCount + 1 }))
})

ponder.on('JobMarket:AssignmentExpired', async ({ event, context }) => {
  // SlotSettled (committed: FAILED) and NoShow already settled the round's providers. A tie-break's job reopens to
  // DISPUTED, its first round still waiting.
  const { jobId, reopened } = event.args
  await updateJob(context.db, event, jobId, (row) =>
    reopened
      ? { status: row.disputedProviders.length ? 'DISPUTED' : 'OPEN', commitDeadline: null, openedAt: event.block.timestamp }
      : { status: 'EXPIRED', commitDeadline: null, finalizedAt: event.block.timestamp },
  )
})
