import { sql } from 'kysely'
import type { Address } from 'viem'
import { type ClosedEpoch, limiterName } from '../../economics/analytics.ts'
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
    compute: toBigInt(row.compute),
    attested: toBigInt(row.attested),
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
export async function findEpochRange(views: Views, from: bigint, to: bigint): Promise<IndexedEpoch[]> {
  const rows = await views
    .selectFrom('epoch')
    .selectAll()
    .where(sql<boolean>`id between ${from.toString()}::numeric and ${to.toString()}::numeric`)
    .orderBy('id')
    .execute()
  return rows.map(epochOf)
}

/** The number of the last closed epoch, if any closed. */
export async function latestEpoch(views: Views): Promise<bigint | undefined> {
  const row = await views.selectFrom('epoch').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst()
  return row && toBigInt(row.id)
}

/**
 * The emission epochs in which `provider` (any case) may have earned a reward, as indexed, ascending: those in which
 * JobMarket paid it a fee (`recordJob` runs in the same transaction, so the fee's block time falls in the epoch it was
 * recorded in) or it passed a challenge (an availability recipient), and which it hasn't claimed. `genesis` and
 * `epochLength` place a block time in its epoch (`deployment.emissionGenesis`, `params.emission.epochLength`).
 */
export async function findRewardEpochs(
  views: Views,
  parameters: { provider: string; genesis: bigint; epochLength: bigint },
): Promise<bigint[]> {
  const provider = parameters.provider.toLowerCase() as Address
  const epochOfTime = sql<string>`floor((timestamp - ${parameters.genesis.toString()}::numeric) / ${parameters.epochLength.toString()}::numeric)`
  const [paid, passed, claimed] = await Promise.all([
    views
      .selectFrom('payment')
      .select(epochOfTime.as('epoch'))
      .distinct()
      .where('account', '=', provider)
      .where('kind', '=', 'FEE')
      .execute(),
    views
      .selectFrom('challengeRecord')
      .select(epochOfTime.as('epoch'))
      .distinct()
      .where('provider', '=', provider)
      .where('passed', '=', true)
      .execute(),
    views.selectFrom('rewardClaim').select('epoch').where('provider', '=', provider).execute(),
  ])
  const done = new Set(claimed.map((c) => toBigInt(c.epoch)))
  const epochs = new Set([...paid, ...passed].map((r) => toBigInt(r.epoch)))
  return [...epochs].filter((e) => !done.has(e)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}
