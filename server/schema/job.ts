import { builder } from '../builder.ts'
import { toBigInt, toInt } from '../db/convert.ts'
import { findAssignmentsByJobIds, findJobs, findJobsByIds, findPaymentsByJobIds, jobOrderColumns, jobStatuses } from '../db/jobs.ts'
import type { AssignmentRow, JobRow, PaymentRow } from '../db/tables/views.table.ts'
import { checkForwardOnly, connectionComplexity, toConnection } from './connection.ts'
import { OrderDirection } from './scalars.ts'

export const JobStatus = builder.enumType('JobStatus', { values: jobStatuses })

export const Verification = builder.enumType('Verification', { values: ['REDUNDANT', 'OPTIMISTIC'] as const })

export const AssignmentOutcome = builder.enumType('AssignmentOutcome', {
  values: ['PENDING', 'AGREED', 'DISSENTED', 'NO_REVEAL', 'NO_SHOW', 'FAILED'] as const,
})

export const PaymentKind = builder.enumType('PaymentKind', { values: ['FEE', 'SLASH_SHARE', 'REFUND', 'WITHDRAWAL'] as const })

export const JobOrderBy = builder.enumType('JobOrderBy', { values: Object.keys(jobOrderColumns) as (keyof typeof jobOrderColumns)[] })

/** A job, loaded by id through a per-request dataloader. */
export const Job = builder.loadableObjectRef('Job', {
  load: (ids: string[], ctx) => findJobsByIds(ctx.views, ids),
  sort: (row: JobRow) => String(row.id),
})

export const Assignment = builder.objectRef<AssignmentRow>('Assignment')
export const Payment = builder.objectRef<PaymentRow>('Payment')

Job.implement({
  fields: (t) => ({
    id: t.field({ type: 'BigInt', resolve: (j) => toBigInt(j.id) }),
    requester: t.field({ type: 'Address', resolve: (j) => j.requester }),
    modelHash: t.field({ type: 'Bytes32', description: 'sha256 of the ONNX model blob.', resolve: (j) => j.modelHash }),
    inputHash: t.field({ type: 'Bytes32', description: 'sha256 of the input tensor blob.', resolve: (j) => j.inputHash }),
    units: t.field({ type: 'BigInt', resolve: (j) => toBigInt(j.units) }),
    maxPricePerUnit: t.field({ type: 'BigInt', resolve: (j) => toBigInt(j.maxPricePerUnit) }),
    minVramMiB: t.int({ resolve: (j) => toInt(j.minVramMib)! }),
    gpuModel: t.int({ description: '0 = any.', resolve: (j) => toInt(j.gpuModel)! }),
    regions: t.field({
      type: ['Bytes32'],
      description: 'Allowed regions; empty = any.',
      resolve: (j) => (Array.isArray(j.regions) ? (j.regions as string[]) : []),
    }),
    redundancy: t.int({ resolve: (j) => toInt(j.redundancy)! }),
    verification: t.field({ type: Verification, resolve: (j) => (toInt(j.verification) === 1 ? 'OPTIMISTIC' : 'REDUNDANT') }),
    deadline: t.field({ type: 'BigInt', description: 'Unix seconds (chain time).', resolve: (j) => toBigInt(j.deadline) }),
    outputTolerance: t.int({ resolve: (j) => toInt(j.outputTolerance)! }),
    escrow: t.field({ type: 'BigInt', resolve: (j) => toBigInt(j.escrow) }),
    status: t.field({ type: JobStatus, resolve: (j) => j.status as (typeof jobStatuses)[number] }),
    round: t.int({ description: 'Assignment rounds so far (0 while never assigned).', resolve: (j) => toInt(j.round) ?? 0 }),
    commitDeadline: t.field({ type: 'BigInt', nullable: true, resolve: (j) => toBigInt(j.commitDeadline) }),
    revealDeadline: t.field({ type: 'BigInt', nullable: true, resolve: (j) => toBigInt(j.revealDeadline) }),
    fingerprint: t.field({
      type: 'Bytes32',
      nullable: true,
      description: 'The winning result fingerprint once Completed.',
      resolve: (j) => j.fingerprint,
    }),
    fees: t.field({ type: 'BigInt', nullable: true, resolve: (j) => toBigInt(j.fees) }),
    burned: t.field({ type: 'BigInt', nullable: true, resolve: (j) => toBigInt(j.burned) }),
    refunded: t.field({ type: 'BigInt', nullable: true, resolve: (j) => toBigInt(j.refunded) }),
    submittedAt: t.field({ type: 'BigInt', resolve: (j) => toBigInt(j.submittedAt) }),
    submittedBlock: t.field({ type: 'BigInt', resolve: (j) => toBigInt(j.submittedBlock) }),
    finalizedAt: t.field({ type: 'BigInt', nullable: true, resolve: (j) => toBigInt(j.finalizedAt) }),
    txHash: t.field({ type: 'Bytes32', resolve: (j) => j.txHash }),
    assignments: t.loadableGroup({
      type: Assignment,
      description: 'Every provider assigned to this job (the latest round per provider), by slot.',
      complexity: { field: 1, multiplier: 4 },
      load: (ids: string[], ctx) => findAssignmentsByJobIds(ctx.views, ids),
      group: (a) => String(a.jobId),
      resolve: (j) => String(j.id),
    }),
    payments: t.loadableGroup({
      type: Payment,
      description: 'Credits (fees, slash shares, refunds) tied to this job, in chain order.',
      complexity: { field: 1, multiplier: 4 },
      load: (ids: string[], ctx) => findPaymentsByJobIds(ctx.views, ids),
      group: (p) => String(p.jobId),
      resolve: (j) => String(j.id),
    }),
  }),
})

Assignment.implement({
  description: 'A provider assigned to a job: its slot, ask, collateral and how it ended.',
  fields: (t) => ({
    jobId: t.field({ type: 'BigInt', resolve: (a) => toBigInt(a.jobId) }),
    job: t.field({ type: Job, resolve: (a) => String(a.jobId) }),
    provider: t.field({ type: 'Address', resolve: (a) => a.provider }),
    round: t.int({ resolve: (a) => toInt(a.round)! }),
    slot: t.int({ resolve: (a) => toInt(a.slot)! }),
    price: t.field({ type: 'BigInt', description: "The provider's ask per unit.", resolve: (a) => toBigInt(a.pricePerUnit) }),
    collateral: t.field({ type: 'BigInt', resolve: (a) => toBigInt(a.collateral) }),
    commitDeadline: t.field({ type: 'BigInt', resolve: (a) => toBigInt(a.commitDeadline) }),
    assignedAt: t.field({ type: 'BigInt', resolve: (a) => toBigInt(a.assignedAt) }),
    commitment: t.field({ type: 'Bytes32', nullable: true, resolve: (a) => a.commitment }),
    committedAt: t.field({ type: 'BigInt', nullable: true, resolve: (a) => toBigInt(a.committedAt) }),
    fingerprint: t.field({ type: 'Bytes32', nullable: true, resolve: (a) => a.fingerprint }),
    outputHash: t.field({ type: 'Bytes32', nullable: true, resolve: (a) => a.outputHash }),
    revealedAt: t.field({ type: 'BigInt', nullable: true, resolve: (a) => toBigInt(a.revealedAt) }),
    outcome: t.field({ type: AssignmentOutcome, resolve: (a) => a.outcome as 'PENDING' }),
    paid: t.field({
      type: 'BigInt',
      description: 'Fee credited to the provider (0 until Completed).',
      resolve: (a) => toBigInt(a.paid) ?? 0n,
    }),
  }),
})

Payment.implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    jobId: t.field({ type: 'BigInt', nullable: true, resolve: (p) => toBigInt(p.jobId) }),
    account: t.field({ type: 'Address', resolve: (p) => p.account }),
    kind: t.field({ type: PaymentKind, resolve: (p) => p.kind as 'FEE' }),
    amount: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.amount) }),
    blockNumber: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.blockNumber) }),
    timestamp: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.timestamp) }),
  }),
})

export const JobWhere = builder.inputType('JobWhere', {
  fields: (t) => ({
    status: t.field({ type: JobStatus }),
    status_in: t.field({ type: [JobStatus] }),
    requester: t.field({ type: 'Address' }),
    provider: t.field({ type: 'Address', description: 'Jobs this provider was assigned to.' }),
    id_in: t.field({ type: ['BigInt'] }),
    modelHash: t.field({ type: 'Bytes32' }),
  }),
})

builder.queryFields((t) => ({
  jobs: t.connection(
    {
      type: Job,
      description: 'Jobs, newest first by default. `first` ≤ 1000.',
      args: {
        where: t.arg({ type: JobWhere }),
        orderBy: t.arg({ type: JobOrderBy, defaultValue: 'ID' }),
        orderDirection: t.arg({ type: OrderDirection, defaultValue: 'desc' }),
      },
      complexity: connectionComplexity,
      resolve: async (_root, args, ctx) => {
        checkForwardOnly(args)
        const w = args.where
        const page = await findJobs(ctx.views, {
          where: w && {
            status: w.status,
            statusIn: w.status_in,
            requester: w.requester,
            provider: w.provider,
            idIn: w.id_in?.map(String),
            modelHash: w.modelHash,
          },
          orderBy: args.orderBy,
          orderDirection: args.orderDirection,
          first: args.first,
          after: args.after,
        })
        return toConnection(page)
      },
    },
    {},
    {},
  ),
  job: t.field({
    type: Job,
    nullable: true,
    args: { id: t.arg({ type: 'BigInt', required: true }) },
    resolve: async (_root, args, ctx) => {
      const [row] = await findJobsByIds(ctx.views, [args.id.toString()])
      return row ?? null
    },
  }),
}))
