import { heartbeatLivenessSeconds } from '../../protocol/heartbeat.ts'
import { builder } from '../builder.ts'
import { type QuoteWithCheck, quoteWithCheck } from '../quoteWithCheck.ts'
import { JobCheckRef } from './checkJob.ts'

const QuoteReason = builder.enumType('QuoteReason', {
  description: 'Why a job would (not) be matched now.',
  values: {
    OK: { description: 'At least `redundancy` live, eligible providers ask ≤ maxPricePerUnit.' },
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
    redundancy: t.int({ required: true }),
    // uint32 on chain, past GraphQL's Int: BigInt, as on Job.
    minVramMiB: t.field({ type: 'BigInt', defaultValue: 0n }),
    gpuModel: t.field({ type: 'BigInt', defaultValue: 0n }),
    regions: t.field({ type: ['Bytes32'], defaultValue: [] }),
    modelHash: t.field({ type: 'Bytes32', description: 'With inputHash: also check the job can run (`Quote.check`).' }),
    inputHash: t.field({ type: 'Bytes32' }),
  }),
})

const QuoteRef = builder.objectRef<QuoteWithCheck>('Quote').implement({
  description: 'What a job with this spec would cost and whether the matcher could place it now.',
  fields: (t) => ({
    reason: t.expose('reason', { type: QuoteReason }),
    eligibleProviders: t.exposeInt('eligibleProviders', { description: 'Live providers that could take a slot.' }),
    pricePerUnit: t.expose('pricePerUnit', {
      type: 'BigInt',
      nullable: true,
      description: 'The highest ask among the k the matcher would pick.',
    }),
    fees: t.expose('fees', {
      type: 'BigInt',
      nullable: true,
      description: 'Σ ask × units over the k picked providers (paid on completion).',
    }),
    escrow: t.expose('escrow', { type: 'BigInt', description: 'What submitJob escrows: max × units × k plus the protocol take.' }),
    collateralPerSlot: t.expose('collateralPerSlot', { type: 'BigInt' }),
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
        spec: { ...spec, minVramMib: spec.minVramMiB ?? 0n, gpuModel: spec.gpuModel ?? 0n, regions: spec.regions ?? [] },
      }),
  }),
}))
