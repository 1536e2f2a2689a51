import { heartbeatLivenessSeconds } from '../../protocol/heartbeat.ts'
import { builder } from '../builder.ts'
import { type IndexingStatus, indexingStatus, type MarketStats, marketStats } from '../db/meta.ts'
import { JobStatus } from './job.ts'

const MetaRef = builder.objectRef<IndexingStatus>('Meta').implement({
  description: 'How fresh the indexed data is.',
  fields: (t) => ({
    chainId: t.exposeInt('chainId'),
    block: t.expose('block', { type: 'BigInt', nullable: true, description: 'Last block the indexer has processed.' }),
    blockTimestamp: t.expose('blockTimestamp', { type: 'BigInt', nullable: true }),
    chainHead: t.expose('chainHead', { type: 'BigInt', nullable: true, description: 'Latest block of the chain (RPC).' }),
    lagBlocks: t.exposeInt('lagBlocks', { nullable: true, description: 'chainHead − block; null when either is unknown.' }),
  }),
})

const StatusCount = builder.simpleObject('JobStatusCount', {
  fields: (t) => ({ status: t.field({ type: JobStatus }), count: t.int() }),
})

const MarketStatsRef = builder.objectRef<MarketStats>('MarketStats').implement({
  fields: (t) => ({
    jobs: t.exposeInt('jobs', { description: 'All jobs ever submitted.' }),
    jobsByStatus: t.expose('jobsByStatus', { type: [StatusCount] }),
    providers: t.exposeInt('providers', { description: 'Registered providers.' }),
    activeProviders: t.exposeInt('activeProviders', { description: 'Registered and not paused.' }),
    liveProviders: t.exposeInt('liveProviders', { description: `Heartbeat within ${heartbeatLivenessSeconds} s.` }),
    totalFees: t.expose('totalFees', { type: 'BigInt', description: 'Σ fees of finalized jobs (wei).' }),
    totalBurned: t.expose('totalBurned', { type: 'BigInt', description: 'Σ protocol take burned (wei).' }),
  }),
})

builder.queryFields((t) => ({
  _meta: t.field({
    type: MetaRef,
    resolve: (_root, _args, ctx) => indexingStatus(ctx.views, { chainId: ctx.deployment.chainId, publicClient: ctx.publicClient }),
  }),
  marketStats: t.field({ type: MarketStatsRef, resolve: (_root, _args, ctx) => marketStats(ctx.db, ctx.views, ctx.now()) }),
}))
