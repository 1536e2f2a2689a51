import { GraphQLError } from 'graphql'
import type { Address } from 'viem'
import { emissionControllerAbi } from '../../contracts/generated/index.ts'
import { builder } from '../builder.ts'
import type { ServerContext } from '../context.ts'
import { toBigInt, toInt } from '../db/convert.ts'
import { findEpochRange, findEpochs, usageByEpoch } from '../db/epochs.ts'
import type { EpochRow } from '../db/tables/views.table.ts'
import { paramBigInt } from '../deployment.ts'
import { checkForwardOnly, connectionComplexity, toConnection } from './connection.ts'
import { OrderDirection } from './scalars.ts'

const WAD = 10n ** 18n
/** Widest `emissionsVsUsage` range served in one call. */
export const maxEmissionsRange = 1000n

export const EmissionLimiter = builder.enumType('EmissionLimiter', {
  description: 'Which bound shaped the epoch emission: none, the +2 % step-up, the −1.5 % step-down, or the supply cap.',
  values: ['NONE', 'STEP_UP', 'STEP_DOWN', 'CAP'] as const,
})
const limiterOf = (v: unknown) => (['NONE', 'STEP_UP', 'STEP_DOWN', 'CAP'] as const)[toInt(v as number) ?? 0] ?? 'NONE'

/** a / b as a float for analytics (never for money); null when b = 0. */
function ratio(a: bigint, b: bigint): number | null {
  if (b === 0n) return null
  return Number((a * 10n ** 12n) / b) / 1e12
}
const wadToFloat = (v: bigint) => Number((v * 10n ** 12n) / WAD) / 1e12

export const Epoch = builder.objectRef<EpochRow>('Epoch').implement({
  description: 'A closed emission epoch (one EpochAdvanced event). WAD fields are 1e18 fixed point.',
  fields: (t) => ({
    id: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.id) }),
    fees: t.field({ type: 'BigInt', description: 'Verified fees F_k.', resolve: (e) => toBigInt(e.fees) }),
    units: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.units) }),
    utilisation: t.field({ type: 'BigInt', description: 'U_k (WAD).', resolve: (e) => toBigInt(e.utilisation) }),
    feeEma: t.field({ type: 'BigInt', description: 'F̄ after this epoch.', resolve: (e) => toBigInt(e.feeEma) }),
    utilisationEma: t.field({ type: 'BigInt', description: 'Ū after this epoch (WAD).', resolve: (e) => toBigInt(e.utilisationEma) }),
    phi: t.field({ type: 'BigInt', description: 'φ (WAD).', resolve: (e) => toBigInt(e.phi) }),
    baseAvailability: t.field({ type: 'BigInt', description: 'B_k.', resolve: (e) => toBigInt(e.baseAvailability) }),
    usageEmission: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.usageEmission) }),
    availabilityEmission: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.availabilityEmission) }),
    forfeited: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.forfeited) }),
    cap: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.cap) }),
    limiter: t.field({ type: EmissionLimiter, resolve: (e) => limiterOf(e.limiter) }),
    claimed: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.claimed) ?? 0n }),
    blockNumber: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.blockNumber) }),
    timestamp: t.field({ type: 'BigInt', resolve: (e) => toBigInt(e.timestamp) }),
  }),
})

type Point = {
  epoch: bigint
  startTime: bigint
  endTime: bigint
  fees: bigint
  jobFees: bigint
  jobsCompleted: number
  jobsFailed: number
  uniquePayers: number
  units: bigint
  burned: bigint
  usageEmission: bigint
  availabilityEmission: bigint
  emitted: bigint
  forfeited: bigint
  earnings: bigint
  coverage: number | null
  subsidyShare: number | null
  feeEma: bigint
  utilisation: number
  utilisationEma: number
  phi: number
  baseAvailability: bigint
  cap: bigint
  limiter: ReturnType<typeof limiterOf>
}

const EmissionsPoint = builder.objectRef<Point>('EmissionsPoint').implement({
  description: 'One closed epoch seen by an analyst: fees and burns against what the controller emitted.',
  fields: (t) => ({
    epoch: t.field({ type: 'BigInt', resolve: (p) => p.epoch }),
    startTime: t.field({ type: 'BigInt', description: 'Epoch window start (unix s, chain time).', resolve: (p) => p.startTime }),
    endTime: t.field({ type: 'BigInt', description: 'Epoch window end, exclusive.', resolve: (p) => p.endTime }),
    fees: t.field({
      type: 'BigInt',
      description: 'Verified fees F_k recorded by the controller (supply-side fees).',
      resolve: (p) => p.fees,
    }),
    jobFees: t.field({
      type: 'BigInt',
      description: 'Fees of jobs that completed in the window (from the job table).',
      resolve: (p) => p.jobFees,
    }),
    jobsCompleted: t.int({ resolve: (p) => p.jobsCompleted }),
    jobsFailed: t.int({ resolve: (p) => p.jobsFailed }),
    uniquePayers: t.int({ resolve: (p) => p.uniquePayers }),
    units: t.field({ type: 'BigInt', description: 'Paid units.', resolve: (p) => p.units }),
    burned: t.field({
      type: 'BigInt',
      description: 'Protocol revenue: the take burned in the window (fee_burn).',
      resolve: (p) => p.burned,
    }),
    usageEmission: t.field({ type: 'BigInt', resolve: (p) => p.usageEmission }),
    availabilityEmission: t.field({ type: 'BigInt', resolve: (p) => p.availabilityEmission }),
    emitted: t.field({ type: 'BigInt', description: 'usage + availability emission.', resolve: (p) => p.emitted }),
    forfeited: t.field({ type: 'BigInt', resolve: (p) => p.forfeited }),
    earnings: t.field({ type: 'BigInt', description: 'burned − emitted (negative while subsidised).', resolve: (p) => p.earnings }),
    coverage: t.float({ nullable: true, description: 'burned / emitted; null when nothing was emitted.', resolve: (p) => p.coverage }),
    subsidyShare: t.float({ nullable: true, description: 'emitted / (emitted + fees).', resolve: (p) => p.subsidyShare }),
    feeEma: t.field({ type: 'BigInt', description: 'F̄.', resolve: (p) => p.feeEma }),
    utilisation: t.float({ description: 'U_k.', resolve: (p) => p.utilisation }),
    utilisationEma: t.float({ description: 'Ū (compare with U* = 0.65 ± 0.05).', resolve: (p) => p.utilisationEma }),
    phi: t.float({ description: 'φ.', resolve: (p) => p.phi }),
    baseAvailability: t.field({ type: 'BigInt', description: 'B_k.', resolve: (p) => p.baseAvailability }),
    cap: t.field({ type: 'BigInt', resolve: (p) => p.cap }),
    limiter: t.field({ type: EmissionLimiter, resolve: (p) => p.limiter }),
  }),
})

type Totals = { fees: bigint; burned: bigint; emitted: bigint; forfeited: bigint; coverage: number | null; subsidyShare: number | null }
const EmissionsTotals = builder.objectRef<Totals>('EmissionsTotals').implement({
  fields: (t) => ({
    fees: t.field({ type: 'BigInt', resolve: (x) => x.fees }),
    burned: t.field({ type: 'BigInt', resolve: (x) => x.burned }),
    emitted: t.field({ type: 'BigInt', resolve: (x) => x.emitted }),
    forfeited: t.field({ type: 'BigInt', resolve: (x) => x.forfeited }),
    coverage: t.float({ nullable: true, resolve: (x) => x.coverage }),
    subsidyShare: t.float({ nullable: true, resolve: (x) => x.subsidyShare }),
  }),
})

type EmissionsVsUsage = { from: bigint; to: bigint; coverageTarget: number | null; points: Point[]; totals: Totals }
const EmissionsVsUsageRef = builder.objectRef<EmissionsVsUsage>('EmissionsVsUsage').implement({
  fields: (t) => ({
    from: t.field({ type: 'BigInt', resolve: (x) => x.from }),
    to: t.field({ type: 'BigInt', resolve: (x) => x.to }),
    coverageTarget: t.float({
      nullable: true,
      description: 'τ/κ, where coverage glides to as B_k decays.',
      resolve: (x) => x.coverageTarget,
    }),
    points: t.field({ type: [EmissionsPoint], resolve: (x) => x.points }),
    totals: t.field({ type: EmissionsTotals, resolve: (x) => x.totals }),
  }),
})

const clocks = new WeakMap<object, Promise<{ genesis: bigint; epochLength: bigint }>>()

/** The emission clock: genesis (EmissionController deploy time) and epoch length, from the deployment or the chain. */
export function epochClock(ctx: ServerContext): Promise<{ genesis: bigint; epochLength: bigint }> {
  let clock = clocks.get(ctx.deployment)
  if (!clock) {
    clock = (async () => {
      const epochLength = paramBigInt(ctx.deployment, 'epochLength', 30n)
      const declared = ctx.deployment.params.genesis
      if (declared !== undefined) return { genesis: BigInt(declared as string), epochLength }
      if (!ctx.publicClient) throw new Error('no RPC client to read the EmissionController genesis')
      const genesis = await ctx.publicClient.readContract({
        address: ctx.deployment.contracts.EmissionController.address as Address,
        abi: emissionControllerAbi,
        functionName: 'genesis',
      })
      return { genesis, epochLength }
    })()
    clock.catch(() => clocks.delete(ctx.deployment))
    clocks.set(ctx.deployment, clock)
  }
  return clock
}

function coverageTarget(params: Record<string, unknown>): number | null {
  const tau = params.takeBps !== undefined ? Number(params.takeBps) / 1e4 : null
  const kappaWad = (params.emission as Record<string, unknown> | undefined)?.kappa
  const kappa = kappaWad !== undefined ? wadToFloat(BigInt(kappaWad as string)) : null
  return tau !== null && kappa ? tau / kappa : null
}

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
    resolve: async (_root, args, ctx) => {
      checkForwardOnly(args)
      return toConnection(
        await findEpochs(ctx.views, {
          from: args.from,
          to: args.to,
          orderDirection: args.orderDirection,
          first: args.first,
          after: args.after,
        }),
      )
    },
  }),
  emissionsVsUsage: t.field({
    type: EmissionsVsUsageRef,
    description: `Per closed epoch in [from, to] (default: the last 100): fees and burns against usage/availability emission, with the controller internals. At most ${maxEmissionsRange} epochs.`,
    args: { from: t.arg({ type: 'BigInt' }), to: t.arg({ type: 'BigInt' }) },
    complexity: { field: 50, multiplier: 1 },
    resolve: async (_root, args, ctx) => {
      let to = args.to ?? null
      if (to === null) {
        const [latest] = (await findEpochs(ctx.views, { first: 1, orderDirection: 'desc' })).rows
        to = latest ? toBigInt(latest.id) : 0n
      }
      const from = args.from ?? (to >= 99n ? to - 99n : 0n)
      if (from < 0n || to < from) throw new GraphQLError(`emissionsVsUsage: need 0 ≤ from ≤ to, got from ${from}, to ${to}`)
      if (to - from + 1n > maxEmissionsRange)
        throw new GraphQLError(`emissionsVsUsage: at most ${maxEmissionsRange} epochs per call, asked for ${to - from + 1n}`)
      const epochs = await findEpochRange(ctx.views, from, to)
      const { genesis, epochLength } = await epochClock(ctx)
      const usage = await usageByEpoch(ctx.views, { genesis, epochLength, from, to })
      const points: Point[] = epochs.map((e) => {
        const id = toBigInt(e.id)
        const u = usage.get(id.toString())
        const fees = toBigInt(e.fees)
        const usageEmission = toBigInt(e.usageEmission)
        const availabilityEmission = toBigInt(e.availabilityEmission)
        const emitted = usageEmission + availabilityEmission
        const burned = u?.burned ?? 0n
        return {
          epoch: id,
          startTime: genesis + id * epochLength,
          endTime: genesis + (id + 1n) * epochLength,
          fees,
          jobFees: u?.jobFees ?? 0n,
          jobsCompleted: u?.jobsCompleted ?? 0,
          jobsFailed: u?.jobsFailed ?? 0,
          uniquePayers: u?.payers ?? 0,
          units: toBigInt(e.units),
          burned,
          usageEmission,
          availabilityEmission,
          emitted,
          forfeited: toBigInt(e.forfeited),
          earnings: burned - emitted,
          coverage: ratio(burned, emitted),
          subsidyShare: ratio(emitted, emitted + fees),
          feeEma: toBigInt(e.feeEma),
          utilisation: wadToFloat(toBigInt(e.utilisation)),
          utilisationEma: wadToFloat(toBigInt(e.utilisationEma)),
          phi: wadToFloat(toBigInt(e.phi)),
          baseAvailability: toBigInt(e.baseAvailability),
          cap: toBigInt(e.cap),
          limiter: limiterOf(e.limiter),
        }
      })
      const sum = (f: (p: Point) => bigint) => points.reduce((s, p) => s + f(p), 0n)
      const fees = sum((p) => p.fees)
      const burned = sum((p) => p.burned)
      const emitted = sum((p) => p.emitted)
      return {
        from,
        to,
        coverageTarget: coverageTarget(ctx.deployment.params),
        points,
        totals: {
          fees,
          burned,
          emitted,
          forfeited: sum((p) => p.forfeited),
          coverage: ratio(burned, emitted),
          subsidyShare: ratio(emitted, emitted + fees),
        },
      }
    },
  }),
}))
