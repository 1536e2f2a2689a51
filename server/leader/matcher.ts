import type { Kysely, QueryCreator } from 'kysely'
import type { Logger } from 'pino'
import type { Address } from 'viem'
import { jobMarketAbi } from '../../contracts/generated/index.ts'
import { findStoredBlobs } from '../db/blobs.ts'
import { toBigInt, toInt } from '../db/convert.ts'
import type { Database } from '../db/database.ts'
import { findLiveProviders } from '../db/heartbeats.ts'
import { findOpenJobs } from '../db/jobs.ts'
import { countActiveAssignments, findAllProviders } from '../db/providers.ts'
import type { ProviderRow } from '../db/tables/views.table.ts'
import { paramBigInt, type ServerDeployment } from '../deployment.ts'
import { heartbeatLivenessSeconds } from '../schema/heartbeat.ts'
import { type MatchJob, type MatchProvider, matchJobs } from './matchJobs.ts'
import type { createTransactionSender } from './transactionSender.ts'

/** What an in-flight `assign` will lock, so the next round doesn't count it as free stake. */
export type AssignMeta = { kind: 'assign'; providers: string[]; collateral: bigint } | { kind: 'keeper' }

const jobsPerTick = 200

/** An indexed provider row as `matchJobs` sees it, with liveness and current load. */
export function toMatchProvider(p: ProviderRow, live: ReadonlySet<string>, active: ReadonlyMap<string, number>): MatchProvider {
  return {
    address: p.address as Address,
    registered: p.registered ?? true,
    paused: p.paused,
    stake: toBigInt(p.stake),
    locked: toBigInt(p.locked),
    pendingUnstake: toBigInt(p.pendingUnstake),
    pricePerUnit: toBigInt(p.pricePerUnit),
    vramMib: toInt(p.vramMib)!,
    gpuModel: toInt(p.gpuModel)!,
    region: p.region,
    live: live.has(p.address.toLowerCase()),
    activeAssignments: active.get(p.address.toLowerCase()) ?? 0,
  }
}

/**
 * The matcher: reads OPEN jobs and live providers, picks providers with `matchJobs`, and sends
 * `JobMarket.assign` (one in flight per job).
 */
export function createMatcher(parameters: {
  db: Kysely<Database>
  views: QueryCreator<Database>
  deployment: ServerDeployment
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  log: Logger
  /** Wall clock, unix seconds (heartbeats are judged on server time). */
  now: () => number
}) {
  const { db, views, deployment, sender, log } = parameters
  const minStake = paramBigInt(deployment, 'minStake')
  const collateralBps = paramBigInt(deployment, 'collateralBps', 10_000n)
  const jobMarket = deployment.contracts.JobMarket.address as Address

  return {
    async tick(chainTime: bigint): Promise<number> {
      const openJobs = await findOpenJobs(views, chainTime, jobsPerTick)
      const openKeys = new Set(openJobs.map((j) => `assign:${j.id}`))
      sender.settle((key) => !key.startsWith('assign:') || openKeys.has(key))
      // A job whose model or input isn't in the blob store can't be run: assigning it would get honest
      // providers slashed as no-shows. It stays Open until its uploader supplies the blob or it expires (refund).
      const stored = await findStoredBlobs(
        db,
        openJobs.flatMap((j) => [j.modelHash.toLowerCase(), j.inputHash.toLowerCase()]),
      )
      const runnable = openJobs.filter((j) => stored.has(j.modelHash.toLowerCase()) && stored.has(j.inputHash.toLowerCase()))
      if (runnable.length < openJobs.length)
        log.debug({ jobIds: openJobs.filter((j) => !runnable.includes(j)).map((j) => String(j.id)) }, 'matcher skipped jobs without blobs')
      const jobs: MatchJob[] = runnable
        .filter((j) => !sender.inFlight(`assign:${j.id}`))
        .map((j) => ({
          id: toBigInt(j.id),
          maxPricePerUnit: toBigInt(j.maxPricePerUnit),
          units: toBigInt(j.units),
          redundancy: toInt(j.redundancy)!,
          minVramMib: toInt(j.minVramMib)!,
          gpuModel: toInt(j.gpuModel)!,
          regions: Array.isArray(j.regions) ? (j.regions as string[]) : [],
          deadline: toBigInt(j.deadline),
        }))
      if (!jobs.length) return 0
      const [rows, live, active] = await Promise.all([
        findAllProviders(views),
        findLiveProviders(db, new Date((parameters.now() - heartbeatLivenessSeconds) * 1000)),
        countActiveAssignments(views),
      ])
      const providers = rows.map((p) => toMatchProvider(p, live, active))
      const reserved = new Map<string, bigint>()
      for (const meta of sender.inFlightMeta())
        if (meta.kind === 'assign') for (const p of meta.providers) reserved.set(p, (reserved.get(p) ?? 0n) + meta.collateral)
      const { assignments, skipped } = matchJobs({ jobs, providers, minStake, collateralBps, now: chainTime, reserved })
      if (skipped.length) log.debug({ skipped: skipped.map((s) => ({ ...s, jobId: String(s.jobId) })) }, 'matcher skipped jobs')
      let sent = 0
      for (const a of assignments) {
        const hash = await sender.send({
          key: `assign:${a.jobId}`,
          action: 'assign',
          address: jobMarket,
          abi: jobMarketAbi,
          functionName: 'assign',
          args: [a.jobId, a.providers],
          meta: { kind: 'assign', providers: a.providers.map((p) => p.toLowerCase()), collateral: a.collateral },
        })
        if (hash) {
          sent++
          log.info({ jobId: String(a.jobId), providers: a.providers, hash }, 'matcher assigned job')
        }
      }
      return sent
    },
  }
}
