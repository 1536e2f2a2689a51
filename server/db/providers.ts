import { type QueryCreator, sql } from 'kysely'
import type { Database } from './database.ts'
import { type Page, paginate } from './paginate.ts'
import type { AssignmentRow, ProviderRow } from './tables/views.table.ts'

/** Filters of `providers(where:)`; addresses lower-case. */
export type ProviderFilter = {
  paused?: boolean | null
  region?: string | null
  regionIn?: readonly string[] | null
  gpuModel?: number | null
  minVramMib?: number | null
  addressIn?: readonly string[] | null
}

export const providerOrderColumns = {
  REGISTERED_AT: 'registeredAt',
  PRICE_PER_UNIT: 'pricePerUnit',
  STAKE: 'stake',
  VRAM_MIB: 'vramMib',
  BENCHMARK_SCORE: 'benchmarkScore',
  JOBS_COMPLETED: 'jobsCompleted',
  EARNED_TOTAL: 'earnedTotal',
} as const
export type ProviderOrderBy = keyof typeof providerOrderColumns

function filteredProviders(views: QueryCreator<Database>, filter: ProviderFilter) {
  let q = views.selectFrom('provider').selectAll('provider')
  if (filter.paused !== null && filter.paused !== undefined) q = q.where('provider.paused', '=', filter.paused)
  if (filter.region) q = q.where('provider.region', '=', filter.region.toLowerCase())
  if (filter.regionIn)
    q = filter.regionIn.length
      ? q.where(
          'provider.region',
          'in',
          filter.regionIn.map((r) => r.toLowerCase()),
        )
      : q.where(sql<boolean>`false`)
  if (filter.gpuModel !== null && filter.gpuModel !== undefined) q = q.where('provider.gpuModel', '=', filter.gpuModel)
  if (filter.minVramMib !== null && filter.minVramMib !== undefined) q = q.where('provider.vramMib', '>=', filter.minVramMib)
  if (filter.addressIn)
    q = filter.addressIn.length
      ? q.where(
          'provider.address',
          'in',
          filter.addressIn.map((a) => a.toLowerCase()),
        )
      : q.where(sql<boolean>`false`)
  return q
}

/** One page of providers, keyset-paginated on `(orderBy, address)`. */
export async function findProviders(
  views: QueryCreator<Database>,
  parameters: {
    where?: ProviderFilter | null
    orderBy?: ProviderOrderBy | null
    orderDirection?: 'asc' | 'desc' | null
    first?: number | null
    after?: string | null
  },
): Promise<Page<ProviderRow>> {
  const orderKey = providerOrderColumns[parameters.orderBy ?? 'REGISTERED_AT']
  return paginate({
    query: filteredProviders(views, parameters.where ?? {}),
    orderColumn: `provider.${orderKey}`,
    idColumn: 'provider.address',
    idIsText: true,
    orderKey,
    idKey: 'address',
    direction: parameters.orderDirection ?? 'asc',
    first: parameters.first,
    after: parameters.after,
  }) as Promise<Page<ProviderRow>>
}

export async function findProvidersByAddresses(views: QueryCreator<Database>, addresses: readonly string[]): Promise<ProviderRow[]> {
  if (!addresses.length) return []
  return views
    .selectFrom('provider')
    .selectAll()
    .where(
      'address',
      'in',
      addresses.map((a) => a.toLowerCase()),
    )
    .execute()
}

/** Every registered provider (the matcher filters them itself). */
export async function findAllProviders(views: QueryCreator<Database>): Promise<ProviderRow[]> {
  return views.selectFrom('provider').selectAll().execute()
}

/** A provider's assignments, newest first. */
export async function findAssignmentsOfProvider(views: QueryCreator<Database>, provider: string, limit: number): Promise<AssignmentRow[]> {
  return views
    .selectFrom('assignment')
    .selectAll()
    .where('provider', '=', provider.toLowerCase())
    .orderBy('blockNumber', 'desc')
    .orderBy('logIndex', 'desc')
    .limit(limit)
    .execute()
}

/** Number of assignments still in flight (job ASSIGNED, COMMITTED or REVEALED) per provider. */
export async function countActiveAssignments(views: QueryCreator<Database>): Promise<Map<string, number>> {
  const rows = await views
    .selectFrom('assignment')
    .innerJoin('job', 'job.id', 'assignment.jobId')
    .select(['assignment.provider', sql<string>`count(*)`.as('n')])
    .where('assignment.outcome', '=', 'PENDING')
    .where('job.status', 'in', ['ASSIGNED', 'COMMITTED', 'REVEALED'])
    .groupBy('assignment.provider')
    .execute()
  return new Map(rows.map((r) => [r.provider, Number(r.n)]))
}

/** Payments to an account, summed by kind (FEE, SLASH_SHARE, REFUND, WITHDRAWAL). */
export async function paymentTotals(views: QueryCreator<Database>, account: string): Promise<Record<string, bigint>> {
  const rows = await views
    .selectFrom('payment')
    .select(['kind', sql<string>`coalesce(sum(amount), 0)`.as('total')])
    .where('account', '=', account.toLowerCase())
    .groupBy('kind')
    .execute()
  return Object.fromEntries(rows.map((r) => [r.kind, BigInt(r.total)]))
}

export async function countProviders(views: QueryCreator<Database>): Promise<{ total: number; active: number }> {
  const r = await views
    .selectFrom('provider')
    .select([sql<string>`count(*)`.as('total'), sql<string>`count(*) filter (where not paused)`.as('active')])
    .executeTakeFirst()
  return { total: Number(r?.total ?? 0), active: Number(r?.active ?? 0) }
}
