import { type QueryCreator, sql } from 'kysely'
import type { Database } from './database.ts'
import { type Page, paginate } from './paginate.ts'
import type { EpochRow } from './tables/views.table.ts'

/** One page of closed epochs, keyset-paginated on the epoch number. */
export async function findEpochs(
  views: QueryCreator<Database>,
  parameters: {
    from?: bigint | null
    to?: bigint | null
    orderDirection?: 'asc' | 'desc' | null
    first?: number | null
    after?: string | null
  },
): Promise<Page<EpochRow>> {
  let query = views.selectFrom('epoch').selectAll('epoch')
  if (parameters.from !== null && parameters.from !== undefined)
    query = query.where(sql<boolean>`epoch.id >= ${parameters.from.toString()}::numeric`)
  if (parameters.to !== null && parameters.to !== undefined)
    query = query.where(sql<boolean>`epoch.id <= ${parameters.to.toString()}::numeric`)
  return paginate({
    query,
    orderColumn: 'epoch.id',
    idColumn: 'epoch.id',
    orderKey: 'id',
    idKey: 'id',
    direction: parameters.orderDirection ?? 'desc',
    first: parameters.first,
    after: parameters.after,
  }) as Promise<Page<EpochRow>>
}

/** Closed epochs with `from ≤ id ≤ to`, ascending. */
export async function findEpochRange(views: QueryCreator<Database>, from: bigint, to: bigint): Promise<EpochRow[]> {
  return views
    .selectFrom('epoch')
    .selectAll()
    .where(sql<boolean>`id between ${from.toString()}::numeric and ${to.toString()}::numeric`)
    .orderBy('id')
    .execute()
}

/**
 * Sums per epoch window `[genesis + e·len, genesis + (e+1)·len)` for e in [from, to]: fees burned
 * (fee_burn), and fees, units and counts of jobs finalized in the window (job).
 */
export async function usageByEpoch(
  views: QueryCreator<Database>,
  parameters: { genesis: bigint; epochLength: bigint; from: bigint; to: bigint },
): Promise<Map<string, { burned: bigint; jobFees: bigint; jobsCompleted: number; jobsFailed: number; payers: number }>> {
  const { genesis, epochLength, from, to } = parameters
  const lo = (genesis + from * epochLength).toString()
  const hi = (genesis + (to + 1n) * epochLength).toString()
  const g = genesis.toString()
  const len = epochLength.toString()
  const burns = await views
    .selectFrom('feeBurn')
    .select([sql<string>`floor((timestamp - ${g}::numeric) / ${len}::numeric)`.as('e'), sql<string>`sum(amount)`.as('burned')])
    .where(sql<boolean>`timestamp >= ${lo}::numeric and timestamp < ${hi}::numeric`)
    .groupBy(sql`1`)
    .execute()
  const jobs = await views
    .selectFrom('job')
    .select([
      sql<string>`floor((finalized_at - ${g}::numeric) / ${len}::numeric)`.as('e'),
      sql<string>`coalesce(sum(fees) filter (where status = 'COMPLETED'), 0)`.as('fees'),
      sql<string>`count(*) filter (where status = 'COMPLETED')`.as('completed'),
      sql<string>`count(*) filter (where status = 'FAILED')`.as('failed'),
      sql<string>`count(distinct requester) filter (where status = 'COMPLETED')`.as('payers'),
    ])
    .where(sql<boolean>`finalized_at >= ${lo}::numeric and finalized_at < ${hi}::numeric`)
    .groupBy(sql`1`)
    .execute()
  const out = new Map<string, { burned: bigint; jobFees: bigint; jobsCompleted: number; jobsFailed: number; payers: number }>()
  const at = (e: string) => {
    const key = BigInt(e).toString()
    let v = out.get(key)
    if (!v) out.set(key, (v = { burned: 0n, jobFees: 0n, jobsCompleted: 0, jobsFailed: 0, payers: 0 }))
    return v
  }
  for (const b of burns) at(b.e).burned = BigInt(b.burned)
  for (const j of jobs)
    Object.assign(at(j.e), {
      jobFees: BigInt(j.fees),
      jobsCompleted: Number(j.completed),
      jobsFailed: Number(j.failed),
      payers: Number(j.payers),
    })
  return out
}

/** Sum of fee burns over all time. */
export async function totalBurned(views: QueryCreator<Database>): Promise<bigint> {
  const r = await views.selectFrom('feeBurn').select(sql<string>`coalesce(sum(amount), 0)`.as('n')).executeTakeFirst()
  return BigInt(r?.n ?? '0')
}
