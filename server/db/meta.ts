import { type Kysely, sql } from 'kysely'
import type { PublicClient } from 'viem'
import { type AuditStats, auditStats } from './audits.ts'
import type { Database, Views } from './database.ts'
import { findLiveProviders } from './heartbeats.ts'
import { indexedBlock } from './indexedBlock.ts'
import { jobStats } from './jobs.ts'
import { countProviders } from './providers.ts'

/** How fresh the indexed data is; a field is null when its source can't tell. */
export type IndexingStatus = {
  chainId: number
  /** Last block the indexer has processed. */
  block: bigint | null
  blockTimestamp: bigint | null
  /** Latest block of the chain (RPC). */
  chainHead: bigint | null
  /** chainHead − block. */
  lagBlocks: number | null
}

/** The indexer's progress against the chain head (from `publicClient`, when there is one). Never throws. */
export async function indexingStatus(views: Views, parameters: { chainId: number; publicClient?: PublicClient }): Promise<IndexingStatus> {
  const [indexed, head] = await Promise.all([
    indexedBlock(views).catch(() => undefined),
    parameters.publicClient?.getBlockNumber({ cacheTime: 1_000 }).catch(() => null) ?? null,
  ])
  const block = indexed?.blockNumber ?? null
  return {
    chainId: parameters.chainId,
    block,
    blockTimestamp: indexed?.timestamp ?? null,
    chainHead: head,
    lagBlocks: block !== null && head !== null ? Math.max(0, Number(head - block)) : null,
  }
}

/** Market-wide counts and totals. */
export type MarketStats = {
  /** All jobs ever submitted. */
  jobs: number
  jobsByStatus: Awaited<ReturnType<typeof jobStats>>['byStatus']
  providers: number
  /** Not paused. */
  activeProviders: number
  /** Heartbeat within the liveness window. */
  liveProviders: number
  /** Σ fees of finalized jobs (wei). */
  totalFees: bigint
  /** Σ protocol take burned (wei). */
  totalBurned: bigint
  /** Optimistic jobs' audits by kind and the money they moved. */
  audits: AuditStats
}

/** Jobs by status, providers and live providers at `now` (unix s, server time), fee and burn totals, audits. */
export async function marketStats(db: Kysely<Database>, views: Views, now: number): Promise<MarketStats> {
  const [jobs, providers, live, audits] = await Promise.all([
    jobStats(views),
    countProviders(views),
    findLiveProviders(db, now),
    auditStats(views),
  ])
  return {
    jobs: jobs.total,
    jobsByStatus: jobs.byStatus,
    providers: providers.total,
    activeProviders: providers.active,
    liveProviders: live.size,
    totalFees: jobs.totalFees,
    totalBurned: jobs.totalBurned,
    audits,
  }
}

/** Whether the views schema exists and has the indexer's tables. */
export async function viewsSchemaPresent(db: Kysely<Database>, viewsSchema: string): Promise<boolean> {
  const r = await sql<{ n: string }>`select count(*) as n from information_schema.tables
    where table_schema = ${viewsSchema} and table_name in ('job', 'provider', 'assignment')`.execute(db)
  return Number(r.rows[0]?.n ?? 0) === 3
}
