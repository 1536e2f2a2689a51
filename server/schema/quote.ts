import { builder } from '../builder.ts'
import { findLiveProviders } from '../db/heartbeats.ts'
import { countActiveAssignments, findAllProviders } from '../db/providers.ts'
import { paramBigInt } from '../deployment.ts'
import { toMatchProvider } from '../leader/matcher.ts'
import { collateralFor, isEligible, type MatchJob, type MatchProvider } from '../leader/matchJobs.ts'
import { heartbeatLivenessSeconds } from './heartbeat.ts'

const BPS = 10_000n

export const QuoteReason = builder.enumType('QuoteReason', {
  description: 'Why a job would (not) be matched now.',
  values: {
    OK: { description: 'At least `redundancy` live, eligible providers ask ≤ maxPricePerUnit.' },
    MAX_PRICE_TOO_LOW: { description: 'Enough providers fit, but too few ask ≤ maxPricePerUnit.' },
    TOO_FEW_LIVE_PROVIDERS: { description: 'Enough providers fit, but too few have heartbeated in the last 30 s.' },
    NOT_ENOUGH_PROVIDERS: { description: 'Too few registered providers meet the hardware, region, stake and collateral requirements.' },
  } as const,
})

const QuoteInput = builder.inputType('QuoteInput', {
  fields: (t) => ({
    units: t.field({ type: 'BigInt', required: true }),
    maxPricePerUnit: t.field({ type: 'BigInt', required: true }),
    redundancy: t.int({ required: true }),
    minVramMiB: t.int({ defaultValue: 0 }),
    gpuModel: t.int({ defaultValue: 0 }),
    regions: t.field({ type: ['Bytes32'], defaultValue: [] }),
  }),
})

type Quote = {
  reason: 'OK' | 'MAX_PRICE_TOO_LOW' | 'TOO_FEW_LIVE_PROVIDERS' | 'NOT_ENOUGH_PROVIDERS'
  eligibleProviders: number
  pricePerUnit: bigint | null
  fees: bigint | null
  escrow: bigint
  collateralPerSlot: bigint
}

const QuoteRef = builder.objectRef<Quote>('Quote').implement({
  description: 'What a job with this spec would cost and whether the matcher could place it now.',
  fields: (t) => ({
    reason: t.field({ type: QuoteReason, resolve: (q) => q.reason }),
    eligibleProviders: t.int({ description: 'Live providers that could take a slot.', resolve: (q) => q.eligibleProviders }),
    pricePerUnit: t.field({
      type: 'BigInt',
      nullable: true,
      description: 'The highest ask among the k the matcher would pick.',
      resolve: (q) => q.pricePerUnit,
    }),
    fees: t.field({
      type: 'BigInt',
      nullable: true,
      description: 'Σ ask × units over the k picked providers (paid on completion).',
      resolve: (q) => q.fees,
    }),
    escrow: t.field({
      type: 'BigInt',
      description: 'What submitJob escrows: max × units × k plus the protocol take.',
      resolve: (q) => q.escrow,
    }),
    collateralPerSlot: t.field({ type: 'BigInt', resolve: (q) => q.collateralPerSlot }),
  }),
})

builder.queryFields((t) => ({
  quote: t.field({
    type: QuoteRef,
    args: { spec: t.arg({ type: QuoteInput, required: true }) },
    complexity: 20,
    resolve: async (_root, { spec }, ctx) => {
      const minStake = paramBigInt(ctx.deployment, 'minStake')
      const collateralBps = paramBigInt(ctx.deployment, 'collateralBps', 10_000n)
      const takeBps = paramBigInt(ctx.deployment, 'takeBps', 1000n)
      const job: MatchJob = {
        id: 0n,
        units: spec.units,
        maxPricePerUnit: spec.maxPricePerUnit,
        redundancy: spec.redundancy,
        minVramMib: spec.minVramMiB ?? 0,
        gpuModel: spec.gpuModel ?? 0,
        regions: spec.regions ?? [],
        deadline: 0n,
      }
      const [rows, live, active] = await Promise.all([
        findAllProviders(ctx.views),
        findLiveProviders(ctx.db, new Date((ctx.now() - heartbeatLivenessSeconds) * 1000)),
        countActiveAssignments(ctx.views),
      ])
      const providers = rows.map((p) => toMatchProvider(p, live, active))
      const collateral = collateralFor(job, collateralBps)
      const fits = (p: MatchProvider, over: Partial<MatchProvider> = {}, jobOver: Partial<MatchJob> = {}) =>
        isEligible({ ...p, ...over }, { ...job, ...jobOver }, { minStake, collateral, reserved: 0n })
      const eligible = providers
        .filter((p) => fits(p))
        .sort((a, b) => (a.pricePerUnit < b.pricePerUnit ? -1 : a.pricePerUnit > b.pricePerUnit ? 1 : 0))
      const value = spec.maxPricePerUnit * spec.units * BigInt(spec.redundancy)
      const k = spec.redundancy
      let reason: Quote['reason'] = 'OK'
      if (eligible.length < k) {
        const anyPrice = { maxPricePerUnit: 2n ** 255n }
        if (providers.filter((p) => fits(p, {}, anyPrice)).length >= k) reason = 'MAX_PRICE_TOO_LOW'
        else if (providers.filter((p) => fits(p, { live: true })).length >= k) reason = 'TOO_FEW_LIVE_PROVIDERS'
        else reason = 'NOT_ENOUGH_PROVIDERS'
      }
      const picked = eligible.length >= k && k > 0 ? eligible.slice(0, k) : []
      return {
        reason,
        eligibleProviders: eligible.length,
        pricePerUnit: picked.length ? picked[picked.length - 1]!.pricePerUnit : null,
        fees: picked.length ? picked.reduce((s, p) => s + p.pricePerUnit * spec.units, 0n) : null,
        escrow: value + (value * takeBps) / BPS,
        collateralPerSlot: collateral,
      }
    },
  }),
}))
