import { assignmentOutcomes, jobStatusNames, paymentKinds, verificationNames } from '../../protocol/enums.ts'
import type { auditKindNames } from '../../protocol/spotCheck.ts'
import { builder } from '../builder.ts'
import type { ServerContext } from '../context.ts'
import { findAssignmentsByJobIds, type IndexedAssignment } from '../db/assignments.ts'
import { findAuditsByJobIds, type IndexedAudit } from '../db/audits.ts'
import { findChallengesByJobIds } from '../db/challenges.ts'
import { findDisagreementsByJobIds, type IndexedDisagreement } from '../db/disagreements.ts'
import { findJobs, findJobsByIds, type IndexedJob, jobOrderColumns } from '../db/jobs.ts'
import { findPaymentsByJobIds, type IndexedPayment } from '../db/payments.ts'
import { findSlashesByJobIds, type IndexedSlash } from '../db/slashes.ts'
import { Challenge } from './challenge.ts'
import { connectionComplexity, listArgs, resolveConnection } from './connection.ts'
import { exposeBigInts } from './scalars.ts'

export const JobStatus = builder.enumType('JobStatus', { values: jobStatusNames })

export const Verification = builder.enumType('Verification', { values: verificationNames })

const AssignmentOutcome = builder.enumType('AssignmentOutcome', { values: assignmentOutcomes })

export const AuditKind = builder.enumType('AuditKind', {
  description: 'Why an OPTIMISTIC job was audited.',
  values: {
    NONE: { description: 'Not audited (so far): settled after its challenge window, paying the spot-check premium.' },
    SPOT: { description: 'Picked by the spot check (spotCheckBps of jobs, by the hash of the block after the reveal).' },
    THRESHOLD: { description: 'Worth the audit threshold or more (maxPricePerUnit × units): always audited, paid by the job.' },
    CHALLENGE: { description: 'Challenged with a bond during its challenge window.' },
  } satisfies Record<(typeof auditKindNames)[number], { description: string }>,
})

const PaymentKind = builder.enumType('PaymentKind', { values: paymentKinds })

const JobOrderBy = builder.enumType('JobOrderBy', { values: Object.keys(jobOrderColumns) as (keyof typeof jobOrderColumns)[] })

/** A job, loaded by id through a per-request dataloader. */
export const Job = builder.loadableObjectRef('Job', {
  load: (ids: string[], ctx) => findJobsByIds(ctx.views, ids),
  sort: (job: IndexedJob) => job.id.toString(),
})

export const Assignment = builder.objectRef<IndexedAssignment>('Assignment')
const Payment = builder.objectRef<IndexedPayment>('Payment')
const Slash = builder.objectRef<IndexedSlash>('Slash')
const Disagreement = builder.objectRef<IndexedDisagreement>('Disagreement')
const Audit = builder.objectRef<IndexedAudit>('Audit')

/** A job's children (assignments, payments), loaded for many jobs at once and grouped by job. */
const perJob = <T extends { jobId: bigint | null }>(load: (ctx: ServerContext, jobIds: string[]) => Promise<T[]>) => ({
  complexity: { field: 1, multiplier: 4 },
  load: (jobIds: string[], ctx: ServerContext) => load(ctx, jobIds),
  group: (child: T) => String(child.jobId),
  resolve: (job: IndexedJob) => job.id.toString(),
})

Job.implement({
  fields: (t) => ({
    ...exposeBigInts(t, ['commitDeadline', 'revealDeadline', 'fees', 'burned', 'refunded', 'finalizedAt'], { nullable: true }),
    ...exposeBigInts(t, ['id', 'units', 'maxPricePerUnit', 'escrow', 'submittedAt', 'submittedBlock']),
    openedAt: t.expose('openedAt', {
      type: 'BigInt',
      description: 'Unix seconds the job last began waiting for providers (submit, reopen, dispute); claimable from openedAt + claimGrace.',
    }),
    claimed: t.exposeBoolean('claimed', {
      description: 'Whether the current (or last) round was filled by providers claiming it (claimJob) rather than the matcher.',
    }),
    claimers: t.expose('claimers', {
      type: ['Address'],
      description: 'Providers holding a claimed slot while the job still waits for the rest, in claim order. Empty otherwise.',
    }),
    requester: t.expose('requester', { type: 'Address' }),
    modelHash: t.expose('modelHash', { type: 'Bytes32', description: 'sha256 of the ONNX model blob.' }),
    inputHash: t.expose('inputHash', { type: 'Bytes32', description: 'sha256 of the input tensor blob.' }),
    // uint32 on chain, past GraphQL's Int: BigInt.
    minVramMiB: t.expose('minVramMib', { type: 'BigInt', description: 'VRAM per GPU a provider needs, MiB (uint32).' }),
    gpuModel: t.expose('gpuModel', { type: 'BigInt', description: 'GPU model id a provider needs (uint32); 0 = any.' }),
    regions: t.expose('regions', { type: ['Bytes32'], description: 'Allowed regions; empty = any.' }),
    redundancy: t.exposeInt('redundancy', {
      description: 'Providers the current round takes: as submitted, then for an OPTIMISTIC job’s audit 1, and 2 once escalated.',
    }),
    verification: t.expose('verification', { type: Verification }),
    deadline: t.expose('deadline', {
      type: 'BigInt',
      description: 'Unix seconds (chain time); an audit pushes it out so it has time to run.',
    }),
    outputTolerance: t.exposeInt('outputTolerance'),
    round: t.exposeInt('round', { description: 'Assignment rounds so far (0 while never assigned).' }),
    status: t.expose('status', { type: JobStatus }),
    fingerprint: t.expose('fingerprint', {
      type: 'Bytes32',
      nullable: true,
      description:
        'The winning fingerprint once finalized: a result, or a failure code (FAILED_INVALID, or FAILED by a resource failure); zero when FAILED without a majority.',
    }),
    disputedProviders: t.expose('disputedProviders', {
      type: ['Address'],
      description:
        'The first round of a job whose providers disagreed (DISPUTED): settled by the tie-break of fresh providers that follows. For an OPTIMISTIC job sent to audit, its provider, then [original, auditor] once the auditor disagreed. Empty otherwise.',
    }),
    txHash: t.expose('txHash', { type: 'Bytes32' }),
    assignments: t.loadableGroup({
      ...perJob((ctx, jobIds) => findAssignmentsByJobIds(ctx.views, jobIds)),
      type: Assignment,
      description: 'Every provider assigned to this job (the latest round per provider), by round, then slot.',
    }),
    payments: t.loadableGroup({
      ...perJob((ctx, jobIds) => findPaymentsByJobIds(ctx.views, jobIds)),
      type: Payment,
      description: 'Credits (fees, slash shares, refunds) tied to this job, in chain order.',
    }),
    slashes: t.loadableGroup({
      ...perJob((ctx, jobIds) => findSlashesByJobIds(ctx.views, jobIds)),
      type: Slash,
      description: 'Collateral ProviderRegistry slashed for this job (a dissent, a missed reveal, a no-show), in chain order.',
    }),
    audit: t.loadable({
      type: Audit,
      nullable: true,
      load: (jobIds: string[], ctx: ServerContext) => findAuditsByJobIds(ctx.views, jobIds),
      sort: (audit) => audit.jobId.toString(),
      resolve: (job) => (job.verification === 'OPTIMISTIC' ? job.id.toString() : null),
      description: 'An OPTIMISTIC job’s audit (kind NONE while unaudited) and the money it moved; null for a REDUNDANT job.',
    }),
    challenge: t.loadable({
      type: Challenge,
      nullable: true,
      load: (jobIds: string[], ctx: ServerContext) => findChallengesByJobIds(ctx.views, jobIds),
      sort: (challenge) => challenge.jobId.toString(),
      resolve: (job) => job.id.toString(),
      description:
        'The known-answer challenge this job was, as ChallengeLedger recorded it; null for any other job, and for a challenge until it settled and was recorded.',
    }),
    disagreements: t.loadableGroup({
      ...perJob((ctx, jobIds) => findDisagreementsByJobIds(ctx.views, jobIds)),
      type: Disagreement,
      description:
        'Disagreements under the tolerance proven on chain between two providers’ outputs (proveDisagreement), in chain order: why a dissenter was slashed.',
    }),
  }),
})

Disagreement.implement({
  description: 'Two committed outputs proven to differ beyond the job’s tolerance, at one element or in length.',
  fields: (t) => ({
    ...exposeBigInts(t, ['jobId', 'blockNumber', 'timestamp']),
    a: t.expose('a', { type: 'Address' }),
    b: t.expose('b', { type: 'Address' }),
    index: t.expose('elementIndex', {
      type: 'BigInt',
      description: 'The element out of tolerance (when the lengths differ, the index both openings happened to use).',
    }),
    txHash: t.expose('txHash', { type: 'Bytes32' }),
  }),
})

Audit.implement({
  description:
    'How an OPTIMISTIC job was checked: spot-checked, always audited for its worth, or challenged, by one auditor, then two more when the auditor disagreed; and where the premium, reimbursement and challenge bond went.',
  fields: (t) => ({
    ...exposeBigInts(t, ['startedAt', 'settledAt'], { nullable: true }),
    kind: t.expose('kind', { type: AuditKind }),
    auditors: t.exposeInt('auditors', {
      description: 'Fresh providers the audit asked for: 1, then 2 once the auditor disagreed with the original result; 0 unaudited.',
    }),
    challenger: t.expose('challenger', { type: 'Address', nullable: true, description: 'Who challenged the result; null unchallenged.' }),
    bond: t.expose('bond', {
      type: 'BigInt',
      description: 'The challenge bond posted (maxPricePerUnit × units × challengeBondBps); 0 unchallenged.',
    }),
    premium: t.expose('premium', {
      type: 'BigInt',
      nullable: true,
      description: 'Paid into the audit fund by an unaudited job (spotCheckBps of its fees). Null until settled, as are the amounts below.',
    }),
    reimbursed: t.expose('reimbursed', {
      type: 'BigInt',
      nullable: true,
      description: 'Paid back to the requester from the audit fund: what a spot-checked or challenged job paid beyond its original result.',
    }),
    bondToProvider: t.expose('bondToProvider', {
      type: 'BigInt',
      nullable: true,
      description: 'Half the bond, credited to the original provider whose result stood.',
    }),
    bondBurned: t.expose('bondBurned', { type: 'BigInt', nullable: true, description: 'The other half, burned.' }),
    bondReturned: t.expose('bondReturned', {
      type: 'BigInt',
      nullable: true,
      description: 'The bond credited back to the challenger: the result lost, or the job failed or expired.',
    }),
  }),
})

Assignment.implement({
  description: 'A provider assigned to a job: its slot, ask, collateral and how it ended.',
  fields: (t) => ({
    ...exposeBigInts(t, ['committedAt', 'revealedAt', 'settledAt'], { nullable: true }),
    ...exposeBigInts(t, ['jobId', 'collateral', 'commitDeadline', 'assignedAt']),
    job: t.field({ type: Job, resolve: (a) => a.jobId.toString() }),
    provider: t.expose('provider', { type: 'Address' }),
    round: t.exposeInt('round'),
    slot: t.exposeInt('slot'),
    price: t.expose('pricePerUnit', { type: 'BigInt', description: "The provider's ask per unit." }),
    commitment: t.expose('commitment', { type: 'Bytes32', nullable: true }),
    fingerprint: t.expose('fingerprint', { type: 'Bytes32', nullable: true }),
    outputHash: t.expose('outputHash', { type: 'Bytes32', nullable: true }),
    outcome: t.expose('outcome', { type: AssignmentOutcome }),
    paid: t.expose('paid', { type: 'BigInt', description: 'Fee credited to the provider (0 until Completed).' }),
  }),
})

Payment.implement({
  fields: (t) => ({
    ...exposeBigInts(t, ['amount', 'blockNumber', 'timestamp']),
    id: t.exposeString('id'),
    jobId: t.expose('jobId', { type: 'BigInt', nullable: true }),
    account: t.expose('account', { type: 'Address' }),
    kind: t.expose('kind', { type: PaymentKind }),
  }),
})

Slash.implement({
  description:
    'A provider’s collateral taken for a job: part to a beneficiary (the job’s honest providers or the requester), the rest burned.',
  fields: (t) => ({
    ...exposeBigInts(t, ['amount', 'toBeneficiary', 'burned', 'blockNumber', 'timestamp']),
    provider: t.expose('provider', { type: 'Address' }),
    beneficiary: t.expose('beneficiary', { type: 'Address' }),
    txHash: t.expose('txHash', { type: 'Bytes32' }),
  }),
})

const JobWhere = builder.inputType('JobWhere', {
  fields: (t) => ({
    status: t.field({ type: JobStatus }),
    status_in: t.field({ type: [JobStatus] }),
    requester: t.field({ type: 'Address' }),
    provider: t.field({ type: 'Address', description: 'Jobs this provider was assigned to.' }),
    id_in: t.field({ type: ['BigInt'] }),
    modelHash: t.field({ type: 'Bytes32' }),
    openedBefore: t.field({
      type: 'BigInt',
      description: 'Jobs that began waiting for providers (openedAt) at or before this unix time.',
    }),
    verification: t.field({ type: Verification }),
    auditKind: t.field({
      type: AuditKind,
      description: 'OPTIMISTIC jobs audited for this reason; NONE: those not audited (so far).',
    }),
  }),
})

const byId = builder.args((t) => ({ id: t.field({ type: 'BigInt', required: true }) }))

builder.queryFields((t) => ({
  jobs: t.connection({
    type: Job,
    description: 'Jobs, newest first by default. `first` ≤ 1000.',
    args: listArgs(t.arg, { where: JobWhere, orderBy: JobOrderBy, defaults: ['ID', 'desc'] }),
    complexity: connectionComplexity,
    resolve: (_root, args, ctx) => resolveConnection(args, () => findJobs(ctx.views, args)),
  }),
  // The job's id is its dataloader key: null when no such job.
  job: t.field({ type: Job, nullable: true, args: byId, resolve: (_root, { id }) => id.toString() }),
}))

builder.subscriptionFields((t) => ({
  jobUpdated: t.field({
    type: Job,
    description:
      'Job `id` as indexed now (once it is), then each time the indexer changes it: status, deadlines, fees, refunds. The job is ' +
      'read once per change for all its subscribers. A reorganisation that undoes a change shows as another change.',
    args: { id: t.arg({ type: 'BigInt', required: true }) },
    subscribe: (_root, args, ctx) => ctx.indexWatcher.job(args.id),
    resolve: (job) => job,
  }),
}))
