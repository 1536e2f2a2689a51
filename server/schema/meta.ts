import { builder } from '../builder.ts'
import { findLiveProviders } from '../db/heartbeats.ts'
import { jobStats, jobStatuses } from '../db/jobs.ts'
import { indexedBlock } from '../db/meta.ts'
import { countProviders } from '../db/providers.ts'
import { heartbeatLivenessSeconds } from './heartbeat.ts'
import { JobStatus } from './job.ts'

type Meta = { block: bigint | null; blockTimestamp: bigint | null; chainHead: bigint | null; lagBlocks: number | null; chainId: number }

const MetaRef = builder.objectRef<Meta>('Meta').implement({
  description: 'How fresh the indexed data is.',
  fields: (t) => ({
    chainId: t.int({ resolve: (m) => m.chainId }),
    block: t.field({ type: 'BigInt', nullable: true, description: 'Last block the indexer has processed.', resolve: (m) => m.block }),
    blockTimestamp: t.field({ type: 'BigInt', nullable: true, resolve: (m) => m.blockTimestamp }),
    chainHead: t.field({ type: 'BigInt', nullable: true, description: 'Latest block of the chain (RPC).', resolve: (m) => m.chainHead }),
    lagBlocks: t.int({ nullable: true, description: 'chainHead − block; null when either is unknown.', resolve: (m) => m.lagBlocks }),
  }),
})

const StatusCount = builder.simpleObject('JobStatusCount', {
  fields: (t) => ({ status: t.field({ type: JobStatus }), count: t.int() }),
})

const MarketStats = builder.simpleObject('MarketStats', {
  fields: (t) => ({
    jobs: t.int({ description: 'All jobs ever submitted.' }),
    jobsByStatus: t.field({ type: [StatusCount] }),
    providers: t.int({ description: 'Registered providers.' }),
    activeProviders: t.int({ description: 'Registered and not paused.' }),
    liveProviders: t.int({ description: `Heartbeat within ${heartbeatLivenessSeconds} s.` }),
    totalFees: t.field({ type: 'BigInt', description: 'Σ fees of finalized jobs (wei).' }),
    totalBurned: t.field({ type: 'BigInt', description: 'Σ protocol take burned (wei).' }),
  }),
})

builder.queryFields((t) => ({
  _meta: t.field({
    type: MetaRef,
    resolve: async (_root, _args, ctx) => {
      const indexed = await indexedBlock(ctx.views).catch(() => undefined)
      const head = ctx.publicClient ? await ctx.publicClient.getBlockNumber({ cacheTime: 1_000 }).catch(() => null) : null
      const block = indexed?.blockNumber ?? null
      return {
        chainId: ctx.deployment.chainId,
        block,
        blockTimestamp: indexed?.timestamp ?? null,
        chainHead: head,
        lagBlocks: block !== null && head !== null ? Math.max(0, Number(head - block)) : null,
      }
    },
  }),
  marketStats: t.field({
    type: MarketStats,
    resolve: async (_root, _args, ctx) => {
      const [stats, providers, live] = await Promise.all([
        jobStats(ctx.views),
        countProviders(ctx.views),
        findLiveProviders(ctx.db, new Date((ctx.now() - heartbeatLivenessSeconds) * 1000)),
      ])
      return {
        jobs: Object.values(stats.byStatus).reduce((a, b) => a + b, 0),
        jobsByStatus: jobStatuses.map((status) => ({ status, count: stats.byStatus[status] ?? 0 })),
        providers: providers.total,
        activeProviders: providers.active,
        liveProviders: live.size,
        totalFees: stats.totalFees,
        totalBurned: stats.totalBurned,
      }
    },
  }),
}))
