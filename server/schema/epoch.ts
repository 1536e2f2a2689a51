import type { EmissionsPoint, EmissionsTotals, EmissionsVsUsage } from '../../economics/analytics.ts'
import { limiterNames } from '../../economics/analytics.ts'
import { builder } from '../builder.ts'
import { findEmissionsVsUsage, findEpochs, type IndexedEpoch, maxEmissionsRange } from '../db/epochs.ts'
import { connectionComplexity, resolveConnection } from './connection.ts'
import { exposeBigInts, OrderDirection } from './scalars.ts'

const EmissionLimiter = builder.enumType('EmissionLimiter', {
  description: 'Which bound shaped the epoch emission: none, the +2 % step-up, the −1.5 % step-down, or the supply cap.',
  values: Object.values(limiterNames),
})

const Epoch = builder.objectRef<IndexedEpoch>('Epoch').implement({
  description: 'A closed emission epoch (one EpochAdvanced event). WAD fields are 1e18 fixed point.',
  fields: (t) => ({
    ...exposeBigInts(t, ['units', 'usageEmission', 'availabilityEmission', 'forfeited', 'cap', 'claimed', 'blockNumber', 'timestamp']),
    id: t.expose('epoch', { type: 'BigInt' }),
    fees: t.expose('fees', { type: 'BigInt', description: 'Verified fees F_k.' }),
    utilisation: t.expose('utilisation', { type: 'BigInt', description: 'U_k (WAD).' }),
    feeEma: t.expose('feeEma', { type: 'BigInt', description: 'F̄ after this epoch.' }),
    utilisationEma: t.expose('utilisationEma', { type: 'BigInt', description: 'Ū after this epoch (WAD).' }),
    phi: t.expose('phi', { type: 'BigInt', description: 'φ (WAD).' }),
    baseAvailability: t.expose('baseAvailability', { type: 'BigInt', description: 'B_k.' }),
    limiter: t.expose('limiter', { type: EmissionLimiter }),
  }),
})

const EmissionsPointRef = builder.objectRef<EmissionsPoint>('EmissionsPoint').implement({
  description: 'One closed epoch seen by an analyst: fees and burns against what the controller emitted.',
  fields: (t) => ({
    ...exposeBigInts(t, ['epoch', 'usageEmission', 'availabilityEmission', 'forfeited', 'cap']),
    startTime: t.expose('startTime', { type: 'BigInt', description: 'Epoch window start (unix s, chain time).' }),
    endTime: t.expose('endTime', { type: 'BigInt', description: 'Epoch window end, exclusive.' }),
    fees: t.expose('fees', { type: 'BigInt', description: 'Verified fees F_k recorded by the controller (supply-side fees).' }),
    jobFees: t.expose('jobFees', { type: 'BigInt', description: 'Fees of jobs that completed in the window (from the job table).' }),
    jobsCompleted: t.exposeInt('jobsCompleted'),
    jobsFailed: t.exposeInt('jobsFailed', { description: 'Jobs that failed in the window, FAILED or FAILED_INVALID.' }),
    uniquePayers: t.exposeInt('uniquePayers'),
    units: t.expose('units', { type: 'BigInt', description: 'Paid units.' }),
    burned: t.expose('burned', { type: 'BigInt', description: 'Protocol revenue: the take burned in the window (fee_burn).' }),
    emitted: t.expose('emitted', { type: 'BigInt', description: 'usage + availability emission.' }),
    earnings: t.expose('earnings', { type: 'BigInt', description: 'burned − emitted (negative while subsidised).' }),
    coverage: t.exposeFloat('coverage', { nullable: true, description: 'burned / emitted; null when nothing was emitted.' }),
    subsidyShare: t.exposeFloat('subsidyShare', { nullable: true, description: 'emitted / (emitted + fees).' }),
    feeEma: t.expose('feeEma', { type: 'BigInt', description: 'F̄.' }),
    utilisation: t.exposeFloat('utilisation', { description: 'U_k.' }),
    utilisationEma: t.exposeFloat('utilisationEma', { description: 'Ū (compare with U* = 0.65 ± 0.05).' }),
    phi: t.exposeFloat('phi', { description: 'φ.' }),
    baseAvailability: t.expose('baseAvailability', { type: 'BigInt', description: 'B_k.' }),
    limiter: t.expose('limiter', { type: EmissionLimiter }),
  }),
})

const EmissionsTotalsRef = builder.objectRef<EmissionsTotals>('EmissionsTotals').implement({
  fields: (t) => ({
    ...exposeBigInts(t, ['fees', 'burned', 'emitted', 'forfeited']),
    coverage: t.exposeFloat('coverage', { nullable: true }),
    subsidyShare: t.exposeFloat('subsidyShare', { nullable: true }),
  }),
})

const EmissionsVsUsageRef = builder.objectRef<EmissionsVsUsage & { from: bigint; to: bigint }>('EmissionsVsUsage').implement({
  fields: (t) => ({
    ...exposeBigInts(t, ['from', 'to']),
    coverageTarget: t.exposeFloat('coverageTarget', { nullable: true, description: 'τ/κ, where coverage glides to as B_k decays.' }),
    points: t.expose('points', { type: [EmissionsPointRef] }),
    totals: t.expose('totals', { type: EmissionsTotalsRef }),
  }),
})

builder.queryFields((t) => ({
  epochs: t.connection({
    type: Epoch,
    description: 'Closed epochs, newest first by default.',
    args: {
      from: t.arg({ type: 'BigInt' }),
      to: t.arg({ type: 'BigInt' }),
      orderDirection: t.arg({ type: OrderDirection, defaultValue: 'desc' }),
    },
    complexity: connectionComplexity,
    resolve: (_root, args, ctx) => resolveConnection(args, () => findEpochs(ctx.views, args)),
  }),
  emissionsVsUsage: t.field({
    type: EmissionsVsUsageRef,
    description:
      'Per closed epoch in [from, to] (default: the last 100): fees and burns against usage/availability emission, ' +
      `with the controller internals. At most ${maxEmissionsRange} epochs.`,
    args: { from: t.arg({ type: 'BigInt' }), to: t.arg({ type: 'BigInt' }) },
    complexity: { field: 50, multiplier: 1 },
    resolve: (_root, args, ctx) => findEmissionsVsUsage(ctx.views, { ...args, deployment: ctx.deployment }),
  }),
}))
