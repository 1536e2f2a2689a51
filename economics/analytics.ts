import type { MarketParams } from '../protocol/deployment.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import { BPS, WAD } from '../protocol/units.ts'
import { type EpochOutputs, Limiter } from './emissionLaw.ts'
import { EPOCHS_PER_YEAR } from './params.ts'

/**
 * Analytics over closed epochs: what the protocol burned against what it emitted, the controller's internals, the
 * supply and demand sides, per epoch and rolled up over windows of epochs. Inputs are per-epoch rows of bigints and
 * plain maps ({@link AnalyticsEpoch}) that the server gathers from the indexer and a simulator can produce itself;
 * amounts come out as bigints (TSR wei), fractions as JS numbers with 12 decimal digits (fields named `…Ratio`, 1 =
 * 100 %), for charts and dashboards, never for money. WAD values never leave here raw.
 */

/** The API's name of each {@link Limiter} value (`EpochAdvanced.limiter`). */
export const limiterNames = {
  [Limiter.None]: 'NONE',
  [Limiter.StepUp]: 'STEP_UP',
  [Limiter.StepDown]: 'STEP_DOWN',
  [Limiter.Cap]: 'CAP',
} as const satisfies Record<Limiter, string>
export type LimiterName = (typeof limiterNames)[Limiter]

/** The name of a limiter value; `NONE` for a value the law doesn't define. */
export function limiterName(limiter: number): LimiterName {
  return limiterNames[limiter as Limiter] ?? 'NONE'
}

/**
 * A closed epoch as the EmissionController reported it (`EpochAdvanced`), its limiter by name: the fields the indexer
 * keeps (a field the event gains is read here once the indexer stores it).
 */
export type ClosedEpoch = Pick<
  EpochOutputs,
  | 'epoch'
  | 'fees'
  | 'units'
  | 'compute'
  | 'attested'
  | 'utilisation'
  | 'feeEma'
  | 'utilisationEma'
  | 'phi'
  | 'baseAvailability'
  | 'usageEmission'
  | 'availabilityEmission'
  | 'forfeited'
  | 'cap'
> & { limiter: LimiterName }

/**
 * What happened inside one epoch's window `[genesis + e·len, genesis + (e+1)·len)`, beside the controller's report.
 * Maps are keyed by lower-case address.
 */
export type EpochActivity = {
  /** The take burned in the window (`FeeBurned`): the protocol's revenue. */
  takeBurned: bigint
  /** Everything else burned in the window: slashed collateral's burned part and lost challenge bonds. */
  otherBurned: bigint
  /** Rewards minted in the window (claims, whichever epoch they were earned in). */
  minted: bigint
  /** The token's total supply at the window's end. */
  supply: bigint
  jobsCompleted: number
  /** Jobs that failed in the window, FAILED or FAILED_INVALID. */
  jobsFailed: number
  /** Fees of the jobs that completed in the window, per requester; a requester whose jobs were free is there with 0. */
  payerFees: ReadonlyMap<string, bigint>
  /** Fees credited to providers in the window (JobMarket `ProviderPaid`), per provider. */
  providerFees: ReadonlyMap<string, bigint>
  /** Emission per provider earned in this epoch, as far as it is known (see {@link knownProviderRewards}). */
  providerRewards: ReadonlyMap<string, bigint>
  /** Per provider challenged in the window: units per hour its latest challenge showed if it passed, else 0. */
  attestedCapacity: ReadonlyMap<string, bigint>
  challengesRecorded: number
  challengesPassed: number
}

/** One closed epoch as analytics read it: the controller's report and the activity of its window. */
export type AnalyticsEpoch = ClosedEpoch & EpochActivity

/** The emission clock: epoch e covers `[genesis + e·epochLength, genesis + (e+1)·epochLength)`. */
export type EpochClock = { genesis: bigint; epochLength: bigint }

/** The deployment parameters analytics compare against: τ, κ, U* and its deadband. */
export type AnalyticsParams = {
  market: Pick<MarketParams, 'takeBps'>
  emission: Pick<EmissionParams, 'kappa' | 'targetUtilisation' | 'deadband'>
}

/** How many epochs each point sums: one epoch, or the last 7 or 30 (one epoch is one economic day). */
export const intervalEpochs = { EPOCH: 1n, D7: 7n, D30: 30n } as const satisfies Record<string, bigint>
export type EmissionsInterval = keyof typeof intervalEpochs

/** Where Ū stands against U* ± db: φ falls (in the demand regime) only while it is `BELOW`. */
export type UtilisationBand = 'BELOW' | 'WITHIN' | 'ABOVE'

/**
 * A window of closed epochs `[fromEpoch, epoch]` seen by an analyst: one epoch, a rolling 7 or 30, or a whole range.
 * Flows (fees, burns, emission, counts) are sums over the window; levels (F̄, Ū, φ, limiter, supply at the end) are
 * read at its last closed epoch.
 */
export type EmissionsPoint = {
  /** The window's last epoch. */
  epoch: bigint
  /** The window's first epoch (never before 0). */
  fromEpoch: bigint
  /** Closed epochs in the window: fewer than its length near genesis or past the last closed epoch. */
  epochs: number
  /** Window start (unix s, chain time). */
  startTime: bigint
  /** Window end, exclusive. */
  endTime: bigint
  /** Fees of the jobs that completed in the window (what their providers were paid; the take comes on top). */
  grossFees: bigint
  /** F_k, the fees the controller recorded: completed jobs not taken through `claimJob`. */
  verifiedFees: bigint
  /** Fees credited to providers in the window, failure fees of FAILED_INVALID jobs included. */
  supplySideFees: bigint
  /** The take burned in the window. */
  protocolRevenue: bigint
  usageEmission: bigint
  availabilityEmission: bigint
  /** Availability no one can claim: all of it in an epoch without recipients, else the capped recipients' excess. */
  forfeited: bigint
  /**
   * usage + availability emission: what the providers can claim, whether or not they have yet (each claim rounds its
   * own share down, so up to 1 wei per provider of it is never minted).
   */
  emitted: bigint
  /** protocolRevenue − emitted: negative while the protocol subsidises its providers. */
  earnings: bigint
  /** protocolRevenue / emitted; null when nothing was emitted. */
  coverageRatio: number | null
  /** τ/κ, where coverage glides to as B_k decays; null when κ = 0. The same on every point. */
  coverageTargetRatio: number | null
  /** emitted / (emitted + supplySideFees): the share of the providers' income that is subsidy; null when both are 0. */
  subsidyShareRatio: number | null
  /** Rewards minted (claimed) in the window. */
  minted: bigint
  /** Everything burned in the window: the take, slashed collateral's burned part, lost challenge bonds. */
  burnedTotal: bigint
  /** minted − burnedTotal: the change of the supply over the window. */
  netIssuance: bigint
  /** netIssuance / startSupply; null when the supply was 0. */
  netIssuanceRatio: number | null
  /** The token supply at the window's start. */
  startSupply: bigint
  /** The token supply at the window's end. */
  endSupply: bigint
  /** Paid units the controller recorded. */
  units: bigint
  /** F̄ after the last epoch. */
  feeEma: bigint
  /** U_k, averaged over the window's epochs. */
  utilisationRatio: number
  /** Ū after the last epoch. */
  utilisationEmaRatio: number
  /** U*, the target utilisation. The same on every point. */
  targetUtilisationRatio: number
  /** db: φ falls only while Ū < U* − db. The same on every point. */
  deadbandRatio: number
  /** Where Ū after the last epoch stands against U* ± db. */
  utilisationBand: UtilisationBand
  /** φ after the last epoch. */
  phiRatio: number
  /** Σ B_k over the window. */
  baseAvailability: bigint
  /** Σ E_k, the emission budget after the bounds: usage + availability + forfeited. */
  budget: bigint
  /** Σ cap_k over the window. */
  cap: bigint
  /** budget / cap; null when the cap was 0. */
  capUsedRatio: number | null
  /** The bound that shaped the last epoch's budget. */
  limiter: LimiterName
  /** Epochs of the window whose budget the supply cap bound. */
  capBoundEpochs: number
  /** Epochs of the window whose budget the step-up bound held down. */
  stepUpBoundEpochs: number
  /** Epochs of the window whose budget the step-down bound held up. */
  stepDownBoundEpochs: number
  /** Providers credited a fee in the window. */
  providersPaid: number
  /** Σ over the providers challenged in the window of the units per hour their latest challenge showed, if it passed. */
  attestedCapacity: bigint
  challengesRecorded: number
  challengesPassed: number
  /** challengesPassed / challengesRecorded; null without challenges. */
  challengePassRatio: number | null
  /** Herfindahl index of the emission earned per provider in the window (see {@link knownProviderRewards}). */
  emissionHerfindahlRatio: number | null
  /** The ten largest providers' share of that emission. */
  emissionTop10ShareRatio: number | null
  /** Requesters with a job completed in the window. */
  uniquePayers: number
  /** Herfindahl index of the fees each requester paid in the window. */
  payerHerfindahlRatio: number | null
  /** The ten largest requesters' share of those fees. */
  payerTop10ShareRatio: number | null
  /** Share of the window's payers that also paid in the window of equal length before it; null without payers. */
  repeatPayerRatio: number | null
  jobsCompleted: number
  jobsFailed: number
}

/** A window's flows scaled to a year of 365 epochs: each amount × 365 / epochs, rounded toward zero. */
export type EmissionsAnnualised = {
  /** Closed epochs the window held, the amounts below scaled from. */
  epochs: number
  grossFees: bigint
  verifiedFees: bigint
  supplySideFees: bigint
  protocolRevenue: bigint
  usageEmission: bigint
  availabilityEmission: bigint
  forfeited: bigint
  emitted: bigint
  earnings: bigint
  minted: bigint
  burnedTotal: bigint
  netIssuance: bigint
  /** The annualised net issuance / the supply at the window's start: the yearly dilution rate, not compounded. */
  netIssuanceRatio: number | null
}

/** The token amounts of {@link EmissionsAnnualised}: the API exposes and the report's client reads exactly these. */
export const annualisedAmounts = [
  'grossFees',
  'verifiedFees',
  'supplySideFees',
  'protocolRevenue',
  'usageEmission',
  'availabilityEmission',
  'forfeited',
  'emitted',
  'earnings',
  'minted',
  'burnedTotal',
  'netIssuance',
] as const satisfies readonly (keyof EmissionsAnnualised)[]

/** Points per epoch or rolling window over [from, to], the totals over [from, to] and those totals annualised. */
export type EmissionsReport = {
  from: bigint
  to: bigint
  interval: EmissionsInterval
  /** The epochs each point spans (1, 7 or 30). */
  windowEpochs: bigint
  points: EmissionsPoint[]
  /** The whole range as one window; null when no epoch in it has closed. */
  totals: EmissionsPoint | null
  annualised: EmissionsAnnualised | null
  coverageTargetRatio: number | null
  targetUtilisationRatio: number
  deadbandRatio: number
}

const ratioScale = 10n ** 12n

/** a / b as a number to 12 decimal places (rounded toward zero); null when b = 0. */
export function ratio(a: bigint, b: bigint): number | null {
  if (b === 0n) return null
  return Number((a * ratioScale) / b) / 1e12
}

/** A WAD fraction as a number to 12 decimal places. */
export function wadToNumber(value: bigint): number {
  return Number((value * ratioScale) / WAD) / 1e12
}

/**
 * The coverage the law converges to once B_k has decayed away: every unit of fee burns τ (the take) and mints κ
 * (the usage reward), so burned / emitted → τ/κ. Null when κ = 0.
 */
export function coverageTarget(params: { market: Pick<MarketParams, 'takeBps'>; emission: Pick<EmissionParams, 'kappa'> }): number | null {
  return ratio(params.market.takeBps * WAD, params.emission.kappa * BPS)
}

/** The epoch whose window holds unix time `time` (negative before genesis). */
export function epochAt(clock: EpochClock, time: bigint): bigint {
  const offset = time - clock.genesis
  const epoch = offset / clock.epochLength
  // bigint division truncates toward zero; an epoch starts at its first second, so floor.
  return offset < 0n && epoch * clock.epochLength !== offset ? epoch - 1n : epoch
}

/**
 * How concentrated `amounts` are: the Herfindahl index Σ (a_i / Σa)² (1 for one holder, 1/n for n equal ones) and the
 * share of the ten largest. Both null when the amounts sum to 0.
 */
export function concentration(amounts: Iterable<bigint>): { herfindahl: number | null; top10Share: number | null } {
  const sorted = [...amounts].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))
  const total = sorted.reduce((sum, a) => sum + a, 0n)
  const squares = sorted.reduce((sum, a) => sum + a * a, 0n)
  const top10 = sorted.slice(0, 10).reduce((sum, a) => sum + a, 0n)
  return { herfindahl: ratio(squares, total * total), top10Share: ratio(top10, total) }
}

/** Share of `payers` that are also among `previousPayers`; null when there are no payers. */
export function repeatRate(previousPayers: ReadonlySet<string>, payers: ReadonlySet<string>): number | null {
  let repeated = 0n
  for (const payer of payers) if (previousPayers.has(payer)) repeated++
  return ratio(repeated, BigInt(payers.size))
}

/** Where Ū (WAD) stands against U* ± db, by the contract's test for lowering φ (`Ū + db < U*`). */
export function utilisationBand(utilisationEma: bigint, emission: Pick<EmissionParams, 'targetUtilisation' | 'deadband'>): UtilisationBand {
  if (utilisationEma + emission.deadband < emission.targetUtilisation) return 'BELOW'
  if (utilisationEma > emission.targetUtilisation + emission.deadband) return 'ABOVE'
  return 'WITHIN'
}

/**
 * Each provider's emission from one epoch as far as the index can know it: its usage reward, its verified fees F_i ×
 * the epoch's usage rate (usageEmission / F_k, to within the contract's rounding), known when the epoch closes; plus
 * the availability it has claimed. Availability not yet claimed is left out: the contract weighs each recipient by
 * the square root of a capacity it doesn't report, so a provider's share is known only once it claims.
 */
export function knownProviderRewards(parameters: {
  /** F_i per provider: its fees from completed jobs not taken through `claimJob`, finalized in the epoch. */
  verifiedFees: ReadonlyMap<string, bigint>
  /** F_k. */
  fees: bigint
  usageEmission: bigint
  /** Availability claimed from the epoch so far, per provider. */
  claimedAvailability: ReadonlyMap<string, bigint>
}): Map<string, bigint> {
  const { fees, usageEmission } = parameters
  const rewards = new Map<string, bigint>()
  for (const [provider, fee] of parameters.verifiedFees) rewards.set(provider, fees === 0n ? 0n : (fee * usageEmission) / fees)
  for (const [provider, availability] of parameters.claimedAvailability) rewards.set(provider, (rewards.get(provider) ?? 0n) + availability)
  return rewards
}

/** The rows of `rows` (ascending by epoch) with `from ≤ epoch ≤ to`. */
function rowsBetween<Row extends { epoch: bigint }>(rows: readonly Row[], from: bigint, to: bigint): readonly Row[] {
  const firstAtLeast = (epoch: bigint) => {
    let lo = 0
    let hi = rows.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (rows[mid].epoch < epoch) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  return rows.slice(firstAtLeast(from), firstAtLeast(to + 1n))
}

/** Per key, the sum over `maps`. */
function sumByKey(maps: Iterable<ReadonlyMap<string, bigint>>): Map<string, bigint> {
  const sums = new Map<string, bigint>()
  for (const map of maps) for (const [key, value] of map) sums.set(key, (sums.get(key) ?? 0n) + value)
  return sums
}

/** The first epoch of rows {@link emissionsReport} reads for points over [from, to]: their windows and the windows before. */
export function firstEpochNeeded(parameters: { from: bigint; to: bigint; windowEpochs: bigint }): bigint {
  const { from, to, windowEpochs } = parameters
  const rangeEpochs = to - from + 1n
  // A rolling point looks back 2w − 1 epochs (its window and the one before, for the repeat rate); the totals a range.
  const back = 2n * windowEpochs - 1n > rangeEpochs ? 2n * windowEpochs - 1n : rangeEpochs
  return from > back ? from - back : 0n
}

/**
 * The window [from, to] of `rows` (ascending by epoch) as one point, its repeat rate against [from − n, from − 1]
 * (n = to − from + 1; rows there, if any, must be given too). Null when no row lies in the window.
 */
export function emissionsWindow(parameters: {
  rows: readonly AnalyticsEpoch[]
  from: bigint
  to: bigint
  clock: EpochClock
  params: AnalyticsParams
}): EmissionsPoint | null {
  const { rows, from, to, clock, params } = parameters
  const window = rowsBetween(rows, from, to)
  const first = window[0]
  const last = window[window.length - 1]
  if (!first || !last) return null
  const previous = rowsBetween(rows, from - (to - from + 1n), from - 1n)
  const sum = (value: (row: AnalyticsEpoch) => bigint) => window.reduce((total, row) => total + value(row), 0n)
  const count = (value: (row: AnalyticsEpoch) => number) => window.reduce((total, row) => total + value(row), 0)
  const epochsBound = (limiter: LimiterName) => count((row) => (row.limiter === limiter ? 1 : 0))

  const verifiedFees = sum((r) => r.fees)
  const protocolRevenue = sum((r) => r.takeBurned)
  const usageEmission = sum((r) => r.usageEmission)
  const availabilityEmission = sum((r) => r.availabilityEmission)
  const forfeited = sum((r) => r.forfeited)
  const emitted = usageEmission + availabilityEmission
  const minted = sum((r) => r.minted)
  const burnedTotal = protocolRevenue + sum((r) => r.otherBurned)
  const netIssuance = minted - burnedTotal
  const startSupply = first.supply - (first.minted - first.takeBurned - first.otherBurned)
  const budget = emitted + forfeited
  const cap = sum((r) => r.cap)

  const providerFees = sumByKey(window.map((r) => r.providerFees))
  const supplySideFees = [...providerFees.values()].reduce((total, fee) => total + fee, 0n)
  const payerFees = sumByKey(window.map((r) => r.payerFees))
  const previousPayers = new Set(previous.flatMap((r) => [...r.payerFees.keys()]))
  const emission = concentration(sumByKey(window.map((r) => r.providerRewards)).values())
  const payers = concentration(payerFees.values())
  // A provider's latest challenge in the window decides: a later failure undoes an earlier pass.
  const attested = new Map<string, bigint>()
  for (const row of window) for (const [provider, capacity] of row.attestedCapacity) attested.set(provider, capacity)
  const challengesRecorded = count((r) => r.challengesRecorded)
  const challengesPassed = count((r) => r.challengesPassed)

  const startEpoch = from > 0n ? from : 0n
  return {
    epoch: to,
    fromEpoch: startEpoch,
    epochs: window.length,
    startTime: clock.genesis + startEpoch * clock.epochLength,
    endTime: clock.genesis + (to + 1n) * clock.epochLength,
    grossFees: [...payerFees.values()].reduce((total, fee) => total + fee, 0n),
    verifiedFees,
    supplySideFees,
    protocolRevenue,
    usageEmission,
    availabilityEmission,
    forfeited,
    emitted,
    earnings: protocolRevenue - emitted,
    coverageRatio: ratio(protocolRevenue, emitted),
    coverageTargetRatio: coverageTarget(params),
    subsidyShareRatio: ratio(emitted, emitted + supplySideFees),
    minted,
    burnedTotal,
    netIssuance,
    netIssuanceRatio: ratio(netIssuance, startSupply),
    startSupply,
    endSupply: last.supply,
    units: sum((r) => r.units),
    feeEma: last.feeEma,
    utilisationRatio: wadToNumber(sum((r) => r.utilisation) / BigInt(window.length)),
    utilisationEmaRatio: wadToNumber(last.utilisationEma),
    targetUtilisationRatio: wadToNumber(params.emission.targetUtilisation),
    deadbandRatio: wadToNumber(params.emission.deadband),
    utilisationBand: utilisationBand(last.utilisationEma, params.emission),
    phiRatio: wadToNumber(last.phi),
    baseAvailability: sum((r) => r.baseAvailability),
    budget,
    cap,
    capUsedRatio: ratio(budget, cap),
    limiter: last.limiter,
    capBoundEpochs: epochsBound('CAP'),
    stepUpBoundEpochs: epochsBound('STEP_UP'),
    stepDownBoundEpochs: epochsBound('STEP_DOWN'),
    providersPaid: providerFees.size,
    attestedCapacity: [...attested.values()].reduce((total, capacity) => total + capacity, 0n),
    challengesRecorded,
    challengesPassed,
    challengePassRatio: ratio(BigInt(challengesPassed), BigInt(challengesRecorded)),
    emissionHerfindahlRatio: emission.herfindahl,
    emissionTop10ShareRatio: emission.top10Share,
    uniquePayers: payerFees.size,
    payerHerfindahlRatio: payers.herfindahl,
    payerTop10ShareRatio: payers.top10Share,
    repeatPayerRatio: repeatRate(previousPayers, new Set(payerFees.keys())),
    jobsCompleted: count((r) => r.jobsCompleted),
    jobsFailed: count((r) => r.jobsFailed),
  }
}

/**
 * One point per row with `from ≤ epoch ≤ to`, each the window of the `windowEpochs` epochs ending at it (1: the epoch
 * alone). `rows` ascending by epoch, from {@link firstEpochNeeded} on, for the windows and the repeat rates.
 */
export function rollUp(parameters: {
  rows: readonly AnalyticsEpoch[]
  windowEpochs: bigint
  from: bigint
  to: bigint
  clock: EpochClock
  params: AnalyticsParams
}): EmissionsPoint[] {
  const { rows, windowEpochs, clock, params } = parameters
  return rowsBetween(rows, parameters.from, parameters.to).flatMap(
    (row) => emissionsWindow({ rows, from: row.epoch - windowEpochs + 1n, to: row.epoch, clock, params }) ?? [],
  )
}

/** `window`'s flows × 365 / its epochs, rounded toward zero, and its net issuance as a yearly rate of its start supply. */
export function annualise(window: EmissionsPoint): EmissionsAnnualised {
  const epochs = BigInt(window.epochs)
  const scale = (amount: bigint) => (amount * EPOCHS_PER_YEAR) / epochs
  const netIssuance = scale(window.netIssuance)
  return {
    epochs: window.epochs,
    grossFees: scale(window.grossFees),
    verifiedFees: scale(window.verifiedFees),
    supplySideFees: scale(window.supplySideFees),
    protocolRevenue: scale(window.protocolRevenue),
    usageEmission: scale(window.usageEmission),
    availabilityEmission: scale(window.availabilityEmission),
    forfeited: scale(window.forfeited),
    emitted: scale(window.emitted),
    earnings: scale(window.earnings),
    minted: scale(window.minted),
    burnedTotal: scale(window.burnedTotal),
    netIssuance,
    netIssuanceRatio: ratio(netIssuance, window.startSupply),
  }
}

/**
 * What analysts read over the epochs [from, to]: a point per closed epoch (its own window for `EPOCH`, the rolling 7
 * or 30 epochs ending at it for `D7`/`D30`), the whole range as one window, and that annualised. `rows` need not be
 * sorted but must cover {@link firstEpochNeeded} to `to` wherever epochs closed.
 */
export function emissionsReport(parameters: {
  rows: readonly AnalyticsEpoch[]
  from: bigint
  to: bigint
  interval: EmissionsInterval
  clock: EpochClock
  params: AnalyticsParams
}): EmissionsReport {
  const { from, to, interval, clock, params } = parameters
  const rows = [...parameters.rows].sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0))
  const windowEpochs = intervalEpochs[interval]
  const totals = emissionsWindow({ rows, from, to, clock, params })
  return {
    from,
    to,
    interval,
    windowEpochs,
    points: rollUp({ rows, windowEpochs, from, to, clock, params }),
    totals,
    annualised: totals && annualise(totals),
    coverageTargetRatio: coverageTarget(params),
    targetUtilisationRatio: wadToNumber(params.emission.targetUtilisation),
    deadbandRatio: wadToNumber(params.emission.deadband),
  }
}
