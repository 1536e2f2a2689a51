import { sql } from 'kysely'
import {
  type AnalyticsEpoch,
  type EmissionsInterval,
  type EmissionsReport,
  type EpochClock,
  emissionsReport,
  epochAt,
  firstEpochNeeded,
  intervalEpochs,
  knownProviderRewards,
} from '../../economics/analytics.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { UserInputError } from '../errors.ts'
import { toBigInt } from './convert.ts'
import type { Views } from './database.ts'
import { findEpochRange, latestEpoch } from './epochs.ts'

/** Widest `emissionsVsUsage` range served in one call. */
export const maxEmissionsRange = 1000n

/** What `emissionsVsUsage` (GraphQL) and `GET /analytics/emissions.csv` ask for. */
export type EmissionsQuery = {
  /** First epoch; defaults to 99 epochs before `to`. */
  from?: bigint | null
  /** Last epoch; defaults to the last closed one. */
  to?: bigint | null
  /** Instead of `from`: unix seconds inside the first epoch (before genesis: epoch 0). */
  fromTime?: bigint | null
  /** Instead of `to`: unix seconds inside the last epoch. */
  toTime?: bigint | null
  interval?: EmissionsInterval | null
}

/** A parameter of {@link EmissionsQuery} that can't be served; `parameter` names it. Not retryable. */
export class EmissionsParameterError extends UserInputError {
  override name = 'EmissionsParameterError'
  readonly parameter: keyof EmissionsQuery

  constructor(parameter: keyof EmissionsQuery, shortMessage: string) {
    super(shortMessage, { details: `parameter ${parameter}` })
    this.parameter = parameter
  }
}

/** The deployment's emission clock: the EmissionController's genesis and epoch length. */
function epochClock(deployment: Deployment): EpochClock {
  return { genesis: deployment.emissionGenesis, epochLength: deployment.params.emission.epochLength }
}

const given = <T>(value: T | null | undefined): value is T => value !== null && value !== undefined

/** The epochs [from, to] `query` selects, by number or by time; a reversed, negative or too wide range is refused. */
async function epochRange(views: Views, clock: EpochClock, query: EmissionsQuery): Promise<{ from: bigint; to: bigint }> {
  if (given(query.from) && given(query.fromTime))
    throw new EmissionsParameterError('fromTime', 'emissionsVsUsage: give from or fromTime, not both')
  if (given(query.to) && given(query.toTime)) throw new EmissionsParameterError('toTime', 'emissionsVsUsage: give to or toTime, not both')
  if (given(query.toTime) && query.toTime < clock.genesis)
    throw new EmissionsParameterError('toTime', `emissionsVsUsage: toTime ${query.toTime} is before epoch 0 began at ${clock.genesis}`)
  const to = query.to ?? (given(query.toTime) ? epochAt(clock, query.toTime) : ((await latestEpoch(views)) ?? 0n))
  const fromName = given(query.fromTime) ? 'fromTime' : 'from'
  let from = query.from ?? (to >= 99n ? to - 99n : 0n)
  // A time before genesis selects from epoch 0 on.
  if (given(query.fromTime)) from = query.fromTime < clock.genesis ? 0n : epochAt(clock, query.fromTime)
  if (from < 0n || to < from)
    throw new EmissionsParameterError(
      from < 0n ? fromName : given(query.toTime) ? 'toTime' : 'to',
      `emissionsVsUsage: need 0 ≤ from ≤ to, got from ${from}, to ${to}`,
    )
  if (to - from + 1n > maxEmissionsRange)
    throw new EmissionsParameterError(
      fromName,
      `emissionsVsUsage: at most ${maxEmissionsRange} epochs per call, asked for ${to - from + 1n}`,
    )
  return { from, to }
}

/** `map`'s entry for `epoch`, created empty. */
function entryOf<V>(map: Map<bigint, V>, epoch: bigint, empty: () => V): V {
  const entry = map.get(epoch) ?? empty()
  map.set(epoch, entry)
  return entry
}

/** What the rows of epoch windows are built from, keyed by epoch. */
type WindowActivity = {
  jobsCompleted: number
  jobsFailed: number
  payerFees: Map<string, bigint>
  providerFees: Map<string, bigint>
  verifiedFees: Map<string, bigint>
  attestedCapacity: Map<string, bigint>
  challengesRecorded: number
  challengesPassed: number
}

const noActivity = (): WindowActivity => ({
  jobsCompleted: 0,
  jobsFailed: 0,
  payerFees: new Map(),
  providerFees: new Map(),
  verifiedFees: new Map(),
  attestedCapacity: new Map(),
  challengesRecorded: 0,
  challengesPassed: 0,
})

/**
 * The market's activity in each epoch window [lo, to], grouped in SQL by (epoch, account): jobs finalized per requester,
 * fees credited per provider (and the verified part: completed jobs not taken through `claimJob`), challenges per
 * provider with its latest result; and the availability claimed per provider from each epoch.
 */
async function activityByEpoch(views: Views, clock: EpochClock, lo: bigint, to: bigint) {
  const g = clock.genesis.toString()
  const len = clock.epochLength.toString()
  const loTime = (clock.genesis + lo * clock.epochLength).toString()
  const hiTime = (clock.genesis + (to + 1n) * clock.epochLength).toString()
  const epochOf = (column: string) => sql<string>`floor((${sql.ref(column)} - ${g}::numeric) / ${len}::numeric)`
  const within = (column: string) => sql<boolean>`${sql.ref(column)} >= ${loTime}::numeric and ${sql.ref(column)} < ${hiTime}::numeric`
  const [jobs, fees, challenges, claims] = await Promise.all([
    views
      .selectFrom('job')
      .select([
        epochOf('job.finalizedAt').as('e'),
        'requester',
        sql<string>`count(*) filter (where status = 'COMPLETED')`.as('completed'),
        // A job found invalid (FAILED_INVALID) failed too, though its reporters got a fee.
        sql<string>`count(*) filter (where status in ('FAILED', 'FAILED_INVALID'))`.as('failed'),
        sql<string>`coalesce(sum(fees) filter (where status = 'COMPLETED'), 0)`.as('fees'),
      ])
      .where(within('job.finalizedAt'))
      .where('status', 'in', ['COMPLETED', 'FAILED', 'FAILED_INVALID'])
      .groupBy([sql`1`, 'requester'])
      .execute(),
    views
      .selectFrom('payment')
      .leftJoin('job', 'job.id', 'payment.jobId')
      .select([
        epochOf('payment.timestamp').as('e'),
        'payment.account',
        sql<string>`sum(payment.amount)`.as('paid'),
        sql<string>`coalesce(sum(payment.amount) filter (where job.status = 'COMPLETED' and not job.claimed), 0)`.as('verified'),
      ])
      .where('payment.kind', '=', 'FEE')
      .where(within('payment.timestamp'))
      .groupBy([sql`1`, 'payment.account'])
      .execute(),
    views
      .selectFrom('challengeRecord')
      .select([
        epochOf('challengeRecord.timestamp').as('e'),
        'provider',
        sql<string>`count(*)`.as('recorded'),
        sql<string>`count(*) filter (where passed)`.as('passed'),
        sql<string>`(array_agg(case when passed then units_per_hour else 0 end order by block_number desc, log_index desc))[1]`.as(
          'latest',
        ),
      ])
      .where(within('challengeRecord.timestamp'))
      .groupBy([sql`1`, 'provider'])
      .execute(),
    views
      .selectFrom('rewardClaim')
      .select(['epoch', 'provider', sql<string>`sum(availability)`.as('availability')])
      .where(sql<boolean>`epoch between ${lo.toString()}::numeric and ${to.toString()}::numeric`)
      .groupBy(['epoch', 'provider'])
      .execute(),
  ])
  const activity = new Map<bigint, WindowActivity>()
  for (const j of jobs) {
    const entry = entryOf(activity, toBigInt(j.e), noActivity)
    entry.jobsCompleted += Number(j.completed)
    entry.jobsFailed += Number(j.failed)
    if (Number(j.completed) > 0) entry.payerFees.set(j.requester, toBigInt(j.fees))
  }
  for (const f of fees) {
    const entry = entryOf(activity, toBigInt(f.e), noActivity)
    entry.providerFees.set(f.account, toBigInt(f.paid))
    if (toBigInt(f.verified) > 0n) entry.verifiedFees.set(f.account, toBigInt(f.verified))
  }
  for (const c of challenges) {
    const entry = entryOf(activity, toBigInt(c.e), noActivity)
    entry.challengesRecorded += Number(c.recorded)
    entry.challengesPassed += Number(c.passed)
    entry.attestedCapacity.set(c.provider, toBigInt(c.latest))
  }
  const claimedAvailability = new Map<bigint, Map<string, bigint>>()
  for (const c of claims) entryOf(claimedAvailability, toBigInt(c.epoch), () => new Map()).set(c.provider, toBigInt(c.availability))
  return { activity, claimedAvailability }
}

/** What moved the supply in an epoch window: the take burned, other burns, rewards minted. */
type SupplyMovement = { takeBurned: bigint; otherBurned: bigint; minted: bigint }

/**
 * Supply movements per epoch window up to `to`'s end, everything before epoch `lo` summed under `lo − 1`: burns of the
 * take (fee_burn), of slashed collateral (slash) and of lost challenge bonds (audit), and mints (reward_claim, at the
 * time of the claim). One query over a union of the four.
 */
async function supplyMovements(views: Views, clock: EpochClock, lo: bigint, to: bigint): Promise<Map<bigint, SupplyMovement>> {
  const hiTime = (clock.genesis + (to + 1n) * clock.epochLength).toString()
  const before = sql<boolean>`timestamp < ${hiTime}::numeric`
  const zero = sql<string>`0`
  const movements = views
    .selectFrom('feeBurn')
    .select(['timestamp', 'amount as take', zero.as('other'), zero.as('minted')])
    .where(before)
    .unionAll(
      views
        .selectFrom('slash')
        .select(['timestamp', zero.as('take'), 'burned as other', zero.as('minted')])
        .where(before),
    )
    .unionAll(
      views
        .selectFrom('audit')
        .select([sql<string>`settled_at`.as('timestamp'), zero.as('take'), sql<string>`bond_burned`.as('other'), zero.as('minted')])
        .where(sql<boolean>`settled_at < ${hiTime}::numeric and bond_burned > 0`),
    )
    .unionAll(
      views
        .selectFrom('rewardClaim')
        .select(['timestamp', zero.as('take'), zero.as('other'), sql<string>`usage + availability`.as('minted')])
        .where(before),
    )
  const bucket = sql<string>`greatest(floor((timestamp - ${clock.genesis.toString()}::numeric) / ${clock.epochLength.toString()}::numeric), ${(lo - 1n).toString()}::numeric)`
  const rows = await views
    .selectFrom(movements.as('m'))
    .select([bucket.as('e'), sql<string>`sum(take)`.as('take'), sql<string>`sum(other)`.as('other'), sql<string>`sum(minted)`.as('minted')])
    .groupBy(sql`1`)
    .execute()
  return new Map(
    rows.map((r) => [toBigInt(r.e), { takeBurned: toBigInt(r.take), otherBurned: toBigInt(r.other), minted: toBigInt(r.minted) }]),
  )
}

/**
 * The closed epochs [lo, to] as analytics rows, in one pass over a fixed number of grouped queries. The supply is the
 * genesis supply plus every reward minted, less every burn the protocol makes (take, slashes, challenge bonds), up to
 * each window's end: the token's `totalSupply` unless a holder burned its own tokens outside the protocol, which the
 * index doesn't see.
 */
async function analyticsEpochs(views: Views, deployment: Deployment, lo: bigint, to: bigint): Promise<AnalyticsEpoch[]> {
  const clock = epochClock(deployment)
  const [epochs, { activity, claimedAvailability }, movements] = await Promise.all([
    findEpochRange(views, lo, to),
    activityByEpoch(views, clock, lo, to),
    supplyMovements(views, clock, lo, to),
  ])
  const closed = new Map(epochs.map((e) => [e.epoch, e]))
  const rows: AnalyticsEpoch[] = []
  const none: SupplyMovement = { takeBurned: 0n, otherBurned: 0n, minted: 0n }
  const earlier = movements.get(lo - 1n) ?? none
  let supply = deployment.params.token.genesisSupply + earlier.minted - earlier.takeBurned - earlier.otherBurned
  for (let e = lo; e <= to; e++) {
    const moved = movements.get(e) ?? none
    supply += moved.minted - moved.takeBurned - moved.otherBurned
    const epoch = closed.get(e)
    if (!epoch) continue
    const { verifiedFees, ...market } = activity.get(e) ?? noActivity()
    const providerRewards = knownProviderRewards({
      verifiedFees,
      fees: epoch.fees,
      usageEmission: epoch.usageEmission,
      claimedAvailability: claimedAvailability.get(e) ?? new Map(),
    })
    rows.push({ ...epoch, ...moved, ...market, supply, providerRewards })
  }
  return rows
}

/**
 * What analysts read over the closed epochs `query` selects (default: the last 100), per epoch or rolling 7 / 30
 * epochs (`interval`), as `economics/analytics` computes it. A bad parameter is an {@link EmissionsParameterError}.
 */
export async function findEmissionsVsUsage(
  views: Views,
  parameters: EmissionsQuery & { deployment: Deployment },
): Promise<EmissionsReport> {
  const { deployment } = parameters
  const clock = epochClock(deployment)
  const { from, to } = await epochRange(views, clock, parameters)
  const interval = parameters.interval ?? 'EPOCH'
  const lo = firstEpochNeeded({ from, to, windowEpochs: intervalEpochs[interval] })
  const rows = await analyticsEpochs(views, deployment, lo, to)
  return emissionsReport({ rows, from, to, interval, clock, params: deployment.params })
}
