import { heartbeatLivenessSeconds } from '../../protocol/heartbeat.ts'
import { builder } from '../builder.ts'
import type { AuditStats } from '../db/audits.ts'
import { indexedBlock } from '../db/indexedBlock.ts'
import { countSubmissions, type SubmissionBucket } from '../db/jobs.ts'
import { type IndexingStatus, indexingStatus, type MarketStats, marketStats } from '../db/meta.ts'
import { UserInputError } from '../errors.ts'
import type { IndexHead } from '../indexWatcher.ts'
import { AuditKind, JobStatus } from './job.ts'

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

const IndexerHeadRef = builder.objectRef<IndexHead>('IndexerHead').implement({
  description: 'The last block the indexer processed.',
  fields: (t) => ({
    block: t.expose('blockNumber', { type: 'BigInt' }),
    blockTimestamp: t.expose('timestamp', { type: 'BigInt', description: 'Its timestamp (unix s).' }),
  }),
})

const StatusCount = builder.simpleObject('JobStatusCount', {
  fields: (t) => ({ status: t.field({ type: JobStatus }), count: t.int() }),
})

const AuditKindCount = builder.simpleObject('AuditKindCount', {
  fields: (t) => ({ kind: t.field({ type: AuditKind }), count: t.int() }),
})

const AuditStatsRef = builder.objectRef<AuditStats>('AuditStats').implement({
  description: 'How OPTIMISTIC jobs were checked, and the money their audits moved (wei).',
  fields: (t) => ({
    byKind: t.expose('byKind', {
      type: [AuditKindCount],
      description:
        'OPTIMISTIC jobs by why they were audited, every kind; NONE counts those settled unaudited (jobs still running are not counted).',
    }),
    escalated: t.exposeInt('escalated', { description: 'Audits whose auditor disagreed, sent to a tie-break by two more providers.' }),
    premiums: t.expose('premiums', { type: 'BigInt', description: 'Σ premiums unaudited jobs paid into the audit fund.' }),
    reimbursed: t.expose('reimbursed', { type: 'BigInt', description: 'Σ paid from the audit fund to requesters of audited jobs.' }),
    bondsToProviders: t.expose('bondsToProviders', {
      type: 'BigInt',
      description: 'Σ challenge bonds paid to providers whose result stood.',
    }),
    bondsBurned: t.expose('bondsBurned', { type: 'BigInt', description: 'Σ challenge bonds burned.' }),
    bondsReturned: t.expose('bondsReturned', { type: 'BigInt', description: 'Σ challenge bonds returned to challengers.' }),
    fund: t.expose('fund', { type: 'BigInt', description: 'What the audit fund holds: premiums − reimbursed.' }),
  }),
})

const maxSubmissionBuckets = 1_000

const SubmissionBucketRef = builder.objectRef<SubmissionBucket>('SubmissionBucket').implement({
  description: 'Jobs submitted in `[start, start + seconds)` of chain time.',
  fields: (t) => ({
    start: t.expose('start', { type: 'BigInt', description: 'Unix seconds.' }),
    seconds: t.exposeInt('seconds'),
    jobs: t.exposeInt('jobs'),
  }),
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
    audits: t.expose('audits', { type: AuditStatsRef }),
    submissions: t.field({
      type: [SubmissionBucketRef],
      description: `Jobs submitted per bucket of \`bucketSeconds\` of chain time, the last \`buckets\` (≤ ${maxSubmissionBuckets}) up to the indexed head's, oldest first: the market's rate over time, counted over every job.`,
      args: { bucketSeconds: t.arg.int({ defaultValue: 10 }), buckets: t.arg.int({ defaultValue: 30 }) },
      resolve: async (_stats, args, ctx) => {
        const seconds = args.bucketSeconds ?? 10
        const buckets = args.buckets ?? 30
        if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > 86_400)
          throw new UserInputError(`bucketSeconds must be from 1 to 86400, got ${seconds}`)
        if (!Number.isSafeInteger(buckets) || buckets < 1 || buckets > maxSubmissionBuckets)
          throw new UserInputError(`buckets must be from 1 to ${maxSubmissionBuckets}, got ${buckets}`)
        const head = await indexedBlock(ctx.views)
        const until = head?.timestamp ?? BigInt(Math.floor(ctx.now()))
        return countSubmissions(ctx.views, { until, seconds, buckets })
      },
    }),
  }),
})

builder.queryFields((t) => ({
  _meta: t.field({
    type: MetaRef,
    resolve: (_root, _args, ctx) => indexingStatus(ctx.views, { chainId: ctx.deployment.chainId, publicClient: ctx.publicClient }),
  }),
  marketStats: t.field({ type: MarketStatsRef, resolve: (_root, _args, ctx) => marketStats(ctx.db, ctx.views, ctx.now()) }),
}))

builder.subscriptionFields((t) => ({
  indexerHead: t.field({
    type: IndexerHeadRef,
    description:
      'The last block the indexer processed, now and each time it moves (back too, after a reorganisation). Read once per move ' +
      'for all subscribers.',
    subscribe: (_root, _args, ctx) => ctx.indexWatcher.heads(),
    resolve: (head) => head,
  }),
}))
