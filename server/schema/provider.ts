import { builder } from '../builder.ts'
import type { ServerContext } from '../context.ts'
import { toBigInt, toInt } from '../db/convert.ts'
import { findHeartbeats } from '../db/heartbeats.ts'
import { findAssignmentsOfProvider, findProviders, findProvidersByAddresses, paymentTotals, providerOrderColumns } from '../db/providers.ts'
import type { ProviderRow } from '../db/tables/views.table.ts'
import { checkForwardOnly, connectionComplexity, toConnection } from './connection.ts'
import { heartbeatLivenessSeconds } from './heartbeat.ts'
import { Assignment } from './job.ts'
import { OrderDirection } from './scalars.ts'

/** Last heartbeat (unix s, server time) per address, in the order asked; null when never seen. */
async function lastSeenOf(ctx: ServerContext, addresses: readonly string[]): Promise<(bigint | null)[]> {
  const rows = await findHeartbeats(ctx.db, addresses)
  const seen = new Map(rows.map((r) => [r.provider, BigInt(Math.floor(r.lastSeen.getTime() / 1000))]))
  return addresses.map((a) => seen.get(a.toLowerCase()) ?? null)
}

export const ProviderOrderBy = builder.enumType('ProviderOrderBy', {
  values: Object.keys(providerOrderColumns) as (keyof typeof providerOrderColumns)[],
})

const Earnings = builder.simpleObject('ProviderEarnings', {
  description: 'What a provider has been credited by JobMarket, summed from payments (wei).',
  fields: (t) => ({
    fees: t.field({ type: 'BigInt' }),
    slashShares: t.field({ type: 'BigInt' }),
    withdrawn: t.field({ type: 'BigInt' }),
    earnedTotal: t.field({ type: 'BigInt', description: 'Fees plus slash shares, as indexed on the provider.' }),
    slashedTotal: t.field({ type: 'BigInt' }),
  }),
})

/** A provider, loaded by lower-case address through a per-request dataloader. */
export const Provider = builder.loadableObjectRef('Provider', {
  load: (addresses: string[], ctx) => findProvidersByAddresses(ctx.views, addresses),
  sort: (row: ProviderRow) => row.address,
})

Provider.implement({
  fields: (t) => ({
    address: t.field({ type: 'Address', resolve: (p) => p.address }),
    registered: t.boolean({ resolve: (p) => p.registered ?? true }),
    paused: t.exposeBoolean('paused'),
    gpuModel: t.int({ resolve: (p) => toInt(p.gpuModel)! }),
    gpuCount: t.int({ resolve: (p) => toInt(p.gpuCount)! }),
    vramMiB: t.int({ resolve: (p) => toInt(p.vramMib)! }),
    cpuCores: t.int({ resolve: (p) => toInt(p.cpuCores)! }),
    memoryMiB: t.int({ resolve: (p) => toInt(p.memoryMib)! }),
    benchmarkScore: t.int({ resolve: (p) => toInt(p.benchmarkScore)! }),
    capacity: t.field({
      type: 'BigInt',
      description: 'gpuCount × benchmarkScore, units per epoch.',
      resolve: (p) => toBigInt(p.gpuCount) * toBigInt(p.benchmarkScore),
    }),
    pricePerUnit: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.pricePerUnit) }),
    region: t.field({ type: 'Bytes32', resolve: (p) => p.region }),
    encryptionPubKey: t.string({ nullable: true, resolve: (p) => p.encryptionPubKey }),
    stake: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.stake) }),
    locked: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.locked) }),
    pendingUnstake: t.field({ type: 'BigInt', resolve: (p) => toBigInt(p.pendingUnstake) }),
    freeStake: t.field({
      type: 'BigInt',
      description: 'stake − locked − pendingUnstake.',
      resolve: (p) => toBigInt(p.stake) - toBigInt(p.locked) - toBigInt(p.pendingUnstake),
    }),
    unstakeAvailableAt: t.field({ type: 'BigInt', nullable: true, resolve: (p) => toBigInt(p.unstakeAvailableAt) }),
    jobsCompleted: t.int({ resolve: (p) => toInt(p.jobsCompleted)! }),
    jobsFailed: t.int({ resolve: (p) => toInt(p.jobsFailed)! }),
    slashCount: t.int({ resolve: (p) => toInt(p.slashCount)! }),
    noShowCount: t.int({ resolve: (p) => toInt(p.noShowCount)! }),
    registeredAt: t.field({ type: 'BigInt', nullable: true, resolve: (p) => toBigInt(p.registeredAt) }),
    lastHeartbeatAt: t.loadable({
      type: 'BigInt',
      nullable: true,
      description: 'Server time (unix s) of the last accepted heartbeat.',
      load: (addresses: string[], ctx) => lastSeenOf(ctx, addresses),
      resolve: (p) => p.address,
    }),
    live: t.loadable({
      type: 'Boolean',
      description: `Heartbeat within the last ${heartbeatLivenessSeconds} s (what the matcher requires).`,
      load: async (addresses: string[], ctx) =>
        (await lastSeenOf(ctx, addresses)).map((seen) => seen !== null && ctx.now() - Number(seen) <= heartbeatLivenessSeconds),
      resolve: (p) => p.address,
    }),
    assignments: t.field({
      type: [Assignment],
      description: 'Most recent assignments first.',
      args: { first: t.arg.int({ defaultValue: 50 }) },
      complexity: (args) => ({ field: 1, multiplier: Math.min(args.first ?? 50, 1000) }),
      resolve: (p, args, ctx) => findAssignmentsOfProvider(ctx.views, p.address, Math.max(0, Math.min(args.first ?? 50, 1000))),
    }),
    earnings: t.field({
      type: Earnings,
      resolve: async (p, _args, ctx) => {
        const totals = await paymentTotals(ctx.views, p.address)
        return {
          fees: totals.FEE ?? 0n,
          slashShares: totals.SLASH_SHARE ?? 0n,
          withdrawn: totals.WITHDRAWAL ?? 0n,
          earnedTotal: toBigInt(p.earnedTotal),
          slashedTotal: toBigInt(p.slashedTotal),
        }
      },
    }),
  }),
})

export const ProviderWhere = builder.inputType('ProviderWhere', {
  fields: (t) => ({
    paused: t.boolean(),
    region: t.field({ type: 'Bytes32' }),
    region_in: t.field({ type: ['Bytes32'] }),
    gpuModel: t.int(),
    vramMiB_gte: t.int(),
    address_in: t.field({ type: ['Address'] }),
  }),
})

builder.queryFields((t) => ({
  providers: t.connection({
    type: Provider,
    args: {
      where: t.arg({ type: ProviderWhere }),
      orderBy: t.arg({ type: ProviderOrderBy, defaultValue: 'REGISTERED_AT' }),
      orderDirection: t.arg({ type: OrderDirection, defaultValue: 'asc' }),
    },
    complexity: connectionComplexity,
    resolve: async (_root, args, ctx) => {
      checkForwardOnly(args)
      const w = args.where
      const page = await findProviders(ctx.views, {
        where: w && {
          paused: w.paused,
          region: w.region,
          regionIn: w.region_in,
          gpuModel: w.gpuModel,
          minVramMib: w.vramMiB_gte,
          addressIn: w.address_in,
        },
        orderBy: args.orderBy,
        orderDirection: args.orderDirection,
        first: args.first,
        after: args.after,
      })
      return toConnection(page)
    },
  }),
  provider: t.field({
    type: Provider,
    nullable: true,
    args: { address: t.arg({ type: 'Address', required: true }) },
    resolve: async (_root, args, ctx) => {
      const [row] = await findProvidersByAddresses(ctx.views, [args.address])
      return row ?? null
    },
  }),
}))
