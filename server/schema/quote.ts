import { heartbeatLivenessSeconds } from '../../protocol/heartbeat.ts'
import { builder } from '../builder.ts'
import type { JobQueue, ModeQuote } from '../leader/quoteJob.ts'
import { type QuoteWithCheck, quoteWithCheck } from '../quoteWithCheck.ts'
import { JobCheckRef } from './checkJob.ts'
import { Verification } from './job.ts'

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never

const QuoteReason = builder.enumType('QuoteReason', {
  description: 'Why a job would (not) be matched now.',
  values: {
    OK: { description: 'Enough live, eligible providers (`providers`) ask ≤ maxPricePerUnit.' },
    MAX_PRICE_TOO_LOW: { description: 'Enough providers fit, but too few ask ≤ maxPricePerUnit.' },
    TOO_FEW_LIVE_PROVIDERS: {
      description: `Enough providers fit, but too few have heartbeated in the last ${heartbeatLivenessSeconds} s.`,
    },
    NOT_ENOUGH_PROVIDERS: { description: 'Too few registered providers meet the hardware, region, stake and collateral requirements.' },
  } as const,
})

const QuoteInput = builder.inputType('QuoteInput', {
  fields: (t) => ({
    units: t.field({ type: 'BigInt', required: true }),
    maxPricePerUnit: t.field({ type: 'BigInt', required: true }),
    redundancy: t.int({ required: true, description: 'k: how many providers run it: 2 to 16 when REDUNDANT, 1 when OPTIMISTIC.' }),
    verification: t.field({ type: Verification, defaultValue: 'REDUNDANT' }),
    // uint32 on chain, past GraphQL's Int: BigInt, as on Job.
    minVramMiB: t.field({ type: 'BigInt', defaultValue: 0n }),
    gpuModel: t.field({ type: 'BigInt', defaultValue: 0n }),
    regions: t.field({ type: ['Bytes32'], defaultValue: [] }),
    modelHash: t.field({ type: 'Bytes32', description: 'With inputHash: also check the job can run (`Quote.check`).' }),
    inputHash: t.field({ type: 'Bytes32' }),
  }),
})

/** The fields a quote has for one verification mode, on `Quote` (the spec's own mode) and on `QuoteMode` (each mode). */
const modeFields = <Parent extends ModeQuote>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, Parent>) => ({
  reason: t.field({ type: QuoteReason, resolve: (q) => q.reason }),
  providers: t.int({
    description:
      'Distinct providers the job needs: k when REDUNDANT; 1 when OPTIMISTIC, or 2 when worth the audit threshold or more (always audited by a second provider).',
    resolve: (q) => q.providers,
  }),
  eligibleProviders: t.int({ description: 'Live providers that could take a slot.', resolve: (q) => q.eligibleProviders }),
  pricePerUnit: t.field({
    type: 'BigInt',
    nullable: true,
    description: 'The highest ask among the providers the matcher would pick.',
    resolve: (q) => q.pricePerUnit,
  }),
  fees: t.field({
    type: 'BigInt',
    nullable: true,
    description: 'Σ ask × units over the picked providers (paid on completion).',
    resolve: (q) => q.fees,
  }),
  escrow: t.field({
    type: 'BigInt',
    description: 'What submitJob escrows: max × units × k plus the protocol take (an OPTIMISTIC job escrows as k = 2).',
    resolve: (q) => q.escrow,
  }),
  cost: t.field({
    type: 'BigInt',
    nullable: true,
    description:
      'What the requester pays when the job completes: fees plus the take, plus for an OPTIMISTIC job below the audit threshold the spot-check premium (spotCheckBps of the fees); the rest of the escrow comes back.',
    resolve: (q) => q.cost,
  }),
  collateralPerSlot: t.field({
    type: 'BigInt',
    description: 'The most one slot can lock: the collateral of an ask of maxPricePerUnit (optimisticCollateralBps when OPTIMISTIC).',
    resolve: (q) => q.collateralPerSlot,
  }),
  etaSeconds: t.int({
    nullable: true,
    description:
      'Seconds until a job submitted now would settle: ⌊queue.waitingSlots / eligibleProviders⌋ rounds ahead of it, then its own, a round ' +
      'taking queue.recentJobSeconds (the commit and reveal windows before any job completed). An estimate; null unless OK.',
    resolve: (q) => q.etaSeconds,
  }),
})

const QuoteQueueRef = builder.objectRef<JobQueue>('QuoteQueue').implement({
  description: 'The live queue a quote’s ETA is judged by.',
  fields: (t) => ({
    waitingJobs: t.exposeInt('waitingJobs', { description: 'Jobs waiting for providers now (OPEN or DISPUTED, deadline ahead).' }),
    waitingSlots: t.exposeInt('waitingSlots', { description: 'Providers those jobs’ rounds need: filled before a job submitted now.' }),
    recentJobSeconds: t.exposeInt('recentJobSeconds', {
      nullable: true,
      description:
        'Median seconds from submission to settlement of the last 50 completed jobs, each at least 1 (block timestamps are whole seconds); null before any completed.',
    }),
  }),
})

const QuoteModeRef = builder.objectRef<ModeQuote>('QuoteMode').implement({
  description: 'What a job with this spec would cost in one verification mode.',
  fields: (t) => modeFields(t),
})

const QuoteRef = builder.objectRef<QuoteWithCheck>('Quote').implement({
  description: 'What a job with this spec would cost and whether the matcher could place it now, in its own verification mode and in both.',
  fields: (t) => ({
    ...modeFields(t),
    redundant: t.expose('redundant', {
      type: QuoteModeRef,
      description: 'The spec run REDUNDANT: with its k, or k = 2 when it is OPTIMISTIC.',
    }),
    optimistic: t.expose('optimistic', { type: QuoteModeRef, description: 'The spec run OPTIMISTIC: one provider, spot-checked.' }),
    queue: t.expose('queue', { type: QuoteQueueRef }),
    check: t.expose('check', {
      type: JobCheckRef,
      nullable: true,
      description: 'Whether the named model and input can run, as `checkJob` says; null when the spec names neither.',
    }),
  }),
})

builder.queryFields((t) => ({
  quote: t.field({
    type: QuoteRef,
    description:
      'What a job with `spec` would cost, when it would settle and whether the matcher could place it now. A spec JobMarket would ' +
      'refuse (a redundancy its mode does not allow, no units, a price of 0 or less, …) is refused with an error naming each field.',
    args: { spec: t.arg({ type: QuoteInput, required: true }) },
    complexity: 20,
    resolve: (_root, { spec }, ctx) =>
      quoteWithCheck({
        db: ctx.db,
        views: ctx.views,
        now: ctx.now(),
        params: ctx.deployment.params,
        blobs: ctx.blobs,
        inspector: ctx.inspector,
        spec: {
          ...spec,
          verification: spec.verification ?? 'REDUNDANT',
          minVramMib: spec.minVramMiB ?? 0n,
          gpuModel: spec.gpuModel ?? 0n,
          regions: spec.regions ?? [],
        },
      }),
  }),
}))
