import { type Kysely, sql } from 'kysely'
import type { Hex } from 'viem'
import { anyOf, lowerCase } from './anyOf.ts'
import { countActiveAssignments } from './assignments.ts'
import { type WithBigInts, withBigInts } from './convert.ts'
import type { Database, Views } from './database.ts'
import { findLiveProviders } from './heartbeats.ts'
import { type Keyset, orderColumns, type Page, type PageParameters, paginate } from './paginate.ts'
import { paymentTotals } from './payments.ts'
import { findReputations } from './reputations.ts'
import type { ProviderRow } from './tables/provider.table.ts'

const numericColumns = [
  'gpuModel',
  'vramMib',
  'memoryMib',
  'benchmarkScore',
  'pricePerUnit',
  'stake',
  'locked',
  'pendingUnstake',
  'unstakeAvailableAt',
  'slashedTotal',
  'earnedTotal',
  'attestedCapacity',
  'lastChallengedAt',
  'registeredAt',
  'registeredBlock',
  'updatedBlock',
] as const satisfies readonly (keyof ProviderRow)[]

/** A provider as the API and the matcher see it: the indexer's row, amounts as bigints. */
export type IndexedProvider = WithBigInts<ProviderRow, (typeof numericColumns)[number]> & {
  /** gpuCount × benchmarkScore: units per epoch. */
  capacity: bigint
  /** stake − locked − pendingUnstake. */
  freeStake: bigint
}

/** A provider as the matcher weighs it: indexed, with its liveness, warm models, assignments in flight and reputation. */
export type CandidateProvider = IndexedProvider & {
  live: boolean
  /** Model hashes (lower-case) its last heartbeat reported warm; empty unless live. */
  warmModels: readonly Hex[]
  activeAssignments: number
  /** `findReputations` score. */
  reputation: number
}

/** The domain value of a `provider` row. */
function providerOf(row: ProviderRow): IndexedProvider {
  const provider = withBigInts(row, numericColumns)
  const { stake, locked, pendingUnstake } = provider
  return { ...provider, capacity: BigInt(row.gpuCount) * provider.benchmarkScore, freeStake: stake - locked - pendingUnstake }
}

/** Filters of `providers(where:)`, named as the API names them; any case of address and region. */
export type ProviderFilter = {
  paused?: boolean | null
  region?: string | null
  region_in?: readonly string[] | null
  gpuModel?: bigint | null
  vramMiB_gte?: bigint | null
  address_in?: readonly string[] | null
}

/** Columns `providers(orderBy:)` may sort on (all numeric, so keyset cursors compare as numbers). */
export const providerOrderColumns = orderColumns([
  'registeredAt',
  'pricePerUnit',
  'stake',
  'vramMib',
  'benchmarkScore',
  'jobsCompleted',
  'earnedTotal',
])
export type ProviderOrderBy = keyof typeof providerOrderColumns

function filteredProviders(views: Views, filter: ProviderFilter) {
  let q = views.selectFrom('provider').selectAll('provider')
  if (filter.paused !== null && filter.paused !== undefined) q = q.where('provider.paused', '=', filter.paused)
  if (filter.region) q = q.where('provider.region', '=', filter.region.toLowerCase() as Hex)
  if (filter.region_in) q = q.where(anyOf('provider.region', lowerCase(filter.region_in)))
  if (filter.gpuModel !== null && filter.gpuModel !== undefined) q = q.where('provider.gpuModel', '=', filter.gpuModel.toString())
  if (filter.vramMiB_gte !== null && filter.vramMiB_gte !== undefined) q = q.where('provider.vramMib', '>=', filter.vramMiB_gte.toString())
  if (filter.address_in) q = q.where(anyOf('provider.address', lowerCase(filter.address_in)))
  return q
}

/** One page of providers, keyset-paginated on `(orderBy, address)`, by registration unless asked otherwise. */
export async function findProviders(
  views: Views,
  parameters: PageParameters & { where?: ProviderFilter | null; orderBy?: ProviderOrderBy | null },
): Promise<Page<IndexedProvider>> {
  const keyset: Keyset = {
    table: 'provider',
    orderKey: providerOrderColumns[parameters.orderBy ?? 'REGISTERED_AT'],
    idKey: 'address',
    idIsText: true,
    direction: 'asc',
  }
  return paginate(filteredProviders(views, parameters.where ?? {}), keyset, parameters, providerOf)
}

/** Providers by address (any case), in no particular order (for dataloaders). */
export async function findProvidersByAddresses(views: Views, addresses: readonly string[]): Promise<IndexedProvider[]> {
  if (!addresses.length) return []
  const rows = await views
    .selectFrom('provider')
    .selectAll()
    .where(anyOf('address', lowerCase(addresses)))
    .execute()
  return rows.map(providerOf)
}

/** Every provider that ever registered or staked (the matcher filters them itself). */
export async function findAllProviders(views: Views): Promise<IndexedProvider[]> {
  return (await views.selectFrom('provider').selectAll().execute()).map(providerOf)
}

/**
 * Every provider with its liveness and warm models at `now` (unix s, server time), its assignments in flight and its
 * reputation: what `matchJobs` weighs.
 */
export async function findCandidateProviders(db: Kysely<Database>, views: Views, now: number): Promise<CandidateProvider[]> {
  const [providers, live, active] = await Promise.all([findAllProviders(views), findLiveProviders(db, now), countActiveAssignments(views)])
  const reputations = await findReputations(views, { addresses: providers.map((p) => p.address) })
  return providers.map((p, i) => ({
    ...p,
    live: live.has(p.address),
    warmModels: live.get(p.address) ?? [],
    activeAssignments: active.get(p.address) ?? 0,
    reputation: reputations[i].score,
  }))
}

/** Indexed providers, and those of them not paused. */
export async function countProviders(views: Views): Promise<{ total: number; active: number }> {
  const r = await views
    .selectFrom('provider')
    .select([sql<string>`count(*)`.as('total'), sql<string>`count(*) filter (where not paused)`.as('active')])
    .executeTakeFirst()
  return { total: Number(r?.total ?? 0), active: Number(r?.active ?? 0) }
}

/** What JobMarket has credited a provider, summed from payments (wei). */
export type ProviderEarnings = {
  fees: bigint
  slashShares: bigint
  /** Halves of the bonds of challenges lost against its optimistic results. */
  bondShares: bigint
  withdrawn: bigint
  earnedTotal: bigint
  slashedTotal: bigint
}

/** A provider's earnings: its payments by kind, and the totals indexed on the provider. */
export async function findEarnings(views: Views, provider: IndexedProvider): Promise<ProviderEarnings> {
  const totals = await paymentTotals(views, provider.address)
  const { earnedTotal, slashedTotal } = provider
  return {
    fees: totals.FEE,
    slashShares: totals.SLASH_SHARE,
    bondShares: totals.BOND_SHARE,
    withdrawn: totals.WITHDRAWAL,
    earnedTotal,
    slashedTotal,
  }
}
