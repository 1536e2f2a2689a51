import { sql } from 'kysely'
import {
  type ClosedEpoch,
  type EmissionsVsUsage,
  type EpochClock,
  type EpochUsage,
  emissionsVsUsage,
  limiterName,
} from '../../economics/analytics.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { UserInputError } from '../errors.ts'
import { toBigInt } from './convert.ts'
import type { Views } from './database.ts'
import { type Keyset, type Page, type PageParameters, paginate } from './paginate.ts'
import type { EpochRow } from './tables/epoch.table.ts'

/** A closed epoch as the indexer recorded it: the controller's `EpochAdvanced` report, and what was claimed since. */
export type IndexedEpoch = ClosedEpoch & {
  /** Rewards claimed from this epoch so far. */
  claimed: bigint
  blockNumber: bigint
  timestamp: bigint
}

/** The domain value of an `epoch` row. */
function epochOf(row: EpochRow): IndexedEpoch {
  return {
    epoch: toBigInt(row.id),
    fees: toBigInt(row.fees),
    units: toBigInt(row.units),
    utilisation: toBigInt(row.utilisation),
    feeEma: toBigInt(row.feeEma),
    utilisationEma: toBigInt(row.utilisationEma),
    phi: toBigInt(row.phi),
    baseAvailability: toBigInt(row.baseAvailability),
    usageEmission: toBigInt(row.usageEmission),
    availabilityEmission: toBigInt(row.availabilityEmission),
    forfeited: toBigInt(row.forfeited),
    cap: toBigInt(row.cap),
    limiter: limiterName(row.limiter),
    claimed: toBigInt(row.claimed),
    blockNumber: toBigInt(row.blockNumber),
    timestamp: toBigInt(row.timestamp),
  }
}

const epochKeyset: Keyset = { table: 'epoch', orderKey: 'id', idKey: 'id', direction: 'desc' }

/** One page of closed epochs with `from ≤ id ≤ to` (either bound optional), newest first unless asked otherwise. */
export async function findEpochs(
  views: Views,
  parameters: PageParameters & { from?: bigint | null; to?: bigint | null },
): Promise<Page<IndexedEpoch>> {
  let query = views.selectFrom('epoch').selectAll('epoch')
  if (parameters.from !== null && parameters.from !== undefined)
    query = query.where(sql<boolean>`epoch.id >= ${parameters.from.toString()}::numeric`)
  if (parameters.to !== null && parameters.to !== undefined)
    query = query.where(sql<boolean>`epoch.id <= ${parameters.to.toString()}::numeric`)
  return paginate(query, epochKeyset, parameters, epochOf)
}

/** Closed epochs with `from ≤ id ≤ to`, ascending. */
async function findEpochRange(views: Views, from: bigint, to: bigint): Promise<IndexedEpoch[]> {
  const rows = await views
    .selectFrom('epoch')
    .selectAll()
    .where(sql<boolean>`id between ${from.toString()}::numeric and ${to.toString()}::numeric`)
    .orderBy('id')
    .execute()
  return rows.map(epochOf)
}

/** The number of the last closed epoch, if any closed. */
async function latestEpoch(views: Views): Promise<bigint | undefined> {
  const row = await views.selectFrom('epoch').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst()
  return row && toBigInt(row.id)
}

/** The deployment's emission clock: the EmissionController's genesis and epoch length. */
function epochClock(deployment: Deployment): EpochClock {
  return { genesis: deployment.emissionGenesis, epochLength: deployment.params.emission.epochLength }
}

/**
 * What the market did in each epoch window `[genesis + e·len, genesis + (e+1)·len)` for e in [from, to], keyed by
 * epoch: the take burned (fee_burn), and fees, counts and payers of the jobs finalized in the window (job).
 * Epochs without a burn or a finalized job are absent.
 */
async function usageByEpoch(views: Views, parameters: EpochClock & { from: bigint; to: bigint }): Promise<Map<bigint, EpochUsage>> {
  const { genesis, epochLength, from, to } = parameters
  const lo = (genesis + from * epochLength).toString()
  const hi = (genesis + (to + 1n) * epochLength).toString()
  const g = genesis.toString()
  const len = epochLength.toString()
  const [burns, jobs] = await Promise.all([
    views
      .selectFrom('feeBurn')
      .select([sql<string>`floor((timestamp - ${g}::numeric) / ${len}::numeric)`.as('e'), sql<string>`sum(amount)`.as('burned')])
      .where(sql<boolean>`timestamp >= ${lo}::numeric and timestamp < ${hi}::numeric`)
      .groupBy(sql`1`)
      .execute(),
    views
      .selectFrom('job')
      .select([
        sql<string>`floor((finalized_at - ${g}::numeric) / ${len}::numeric)`.as('e'),
        sql<string>`coalesce(sum(fees) filter (where status = 'COMPLETED'), 0)`.as('fees'),
        sql<string>`count(*) filter (where status = 'COMPLETED')`.as('completed'),
        // A job found invalid (FAILED_INVALID) failed too, though its reporters got a fee.
        sql<string>`count(*) filter (where status in ('FAILED', 'FAILED_INVALID'))`.as('failed'),
        sql<string>`count(distinct requester) filter (where status = 'COMPLETED')`.as('payers'),
      ])
      .where(sql<boolean>`finalized_at >= ${lo}::numeric and finalized_at < ${hi}::numeric`)
      .groupBy(sql`1`)
      .execute(),
  ])
  const usage = new Map<bigint, EpochUsage>()
  const at = (e: string): EpochUsage => {
    const epoch = toBigInt(e)
    const entry = usage.get(epoch) ?? { burned: 0n, jobFees: 0n, jobsCompleted: 0, jobsFailed: 0, payers: 0 }
    usage.set(epoch, entry)
    return entry
  }
  for (const b of burns) at(b.e).burned = toBigInt(b.burned)
  for (const j of jobs)
    Object.assign(at(j.e), {
      jobFees: toBigInt(j.fees),
      jobsCompleted: Number(j.completed),
      jobsFailed: Number(j.failed),
      payers: Number(j.payers),
    })
  return usage
}

/** Widest `emissionsVsUsage` range served in one call. */
export const maxEmissionsRange = 1000n

/**
 * Closed epochs in [from, to] against the market's usage, as `economics/analytics` reports them. `to` defaults to
 * the last closed epoch, `from` to 99 epochs before it; a range that is reversed or wider than
 * {@link maxEmissionsRange} is a `UserInputError`.
 */
export async function findEmissionsVsUsage(
  views: Views,
  parameters: { deployment: Deployment; from?: bigint | null; to?: bigint | null },
): Promise<EmissionsVsUsage & { from: bigint; to: bigint }> {
  const to = parameters.to ?? (await latestEpoch(views)) ?? 0n
  const from = parameters.from ?? (to >= 99n ? to - 99n : 0n)
  if (from < 0n || to < from) throw new UserInputError(`emissionsVsUsage: need 0 ≤ from ≤ to, got from ${from}, to ${to}`)
  if (to - from + 1n > maxEmissionsRange)
    throw new UserInputError(`emissionsVsUsage: at most ${maxEmissionsRange} epochs per call, asked for ${to - from + 1n}`)
  const clock = epochClock(parameters.deployment)
  const [epochs, usage] = await Promise.all([findEpochRange(views, from, to), usageByEpoch(views, { ...clock, from, to })])
  return { from, to, ...emissionsVsUsage({ epochs, usage, clock, params: parameters.deployment.params }) }
}
