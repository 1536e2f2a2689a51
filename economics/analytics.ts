import type { MarketParams } from '../protocol/deployment.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import { BPS, WAD } from '../protocol/units.ts'
import { type EpochOutputs, Limiter } from './emissionLaw.ts'

/**
 * Analytics over closed epochs: what the protocol burned against what it emitted. Inputs are the chain's bigints;
 * ratios come out as JS numbers with 12 decimal digits, for charts and dashboards, never for money.
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

/** A closed epoch as the EmissionController reported it (`EpochAdvanced`), its limiter by name. */
export type ClosedEpoch = Omit<EpochOutputs, 'limiter'> & { limiter: LimiterName }

/** What the market did inside one epoch's window, from the jobs finalized and the take burned in it. */
export type EpochUsage = {
  /** The take burned in the window (`FeeBurned`): the protocol's revenue. */
  burned: bigint
  /** Fees of the jobs that completed in the window. */
  jobFees: bigint
  jobsCompleted: number
  jobsFailed: number
  /** Distinct requesters of the completed jobs. */
  payers: number
}

/** The emission clock: epoch e covers `[genesis + e·epochLength, genesis + (e+1)·epochLength)`. */
export type EpochClock = { genesis: bigint; epochLength: bigint }

/** One closed epoch seen by an analyst: fees and burns against what the controller emitted. */
export type EmissionsPoint = {
  epoch: bigint
  startTime: bigint
  /** Exclusive. */
  endTime: bigint
  /** Verified fees F_k recorded by the controller. */
  fees: bigint
  jobFees: bigint
  jobsCompleted: number
  jobsFailed: number
  uniquePayers: number
  units: bigint
  burned: bigint
  usageEmission: bigint
  availabilityEmission: bigint
  /**
   * usage + availability emission: what the epoch's providers can claim, whether or not they have yet (each claim
   * rounds its own share down, so up to 1 wei per provider of it is never minted).
   */
  emitted: bigint
  /** Availability no one can claim: all of it in an epoch without recipients, else the capped recipients' excess. */
  forfeited: bigint
  /** burned − emitted: negative while the protocol subsidises its providers. */
  earnings: bigint
  /** burned / emitted; null when nothing was emitted. */
  coverage: number | null
  /** emitted / (emitted + fees); null when both are 0. */
  subsidyShare: number | null
  feeEma: bigint
  utilisation: number
  utilisationEma: number
  phi: number
  baseAvailability: bigint
  cap: bigint
  limiter: LimiterName
}

/** Sums over a range of epochs, with the same ratios as each point. */
export type EmissionsTotals = {
  fees: bigint
  burned: bigint
  emitted: bigint
  forfeited: bigint
  coverage: number | null
  subsidyShare: number | null
}

export type EmissionsVsUsage = {
  points: EmissionsPoint[]
  totals: EmissionsTotals
  /** τ/κ: where coverage glides to as the base availability B_k decays; null when κ = 0. */
  coverageTarget: number | null
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

const noUsage: EpochUsage = { burned: 0n, jobFees: 0n, jobsCompleted: 0, jobsFailed: 0, payers: 0 }

/** One epoch's point: the controller's report and the market's usage in the epoch's window (none when absent). */
export function emissionsPoint(parameters: { epoch: ClosedEpoch; usage?: EpochUsage; clock: EpochClock }): EmissionsPoint {
  const { epoch, clock, usage = noUsage } = parameters
  const emitted = epoch.usageEmission + epoch.availabilityEmission
  return {
    epoch: epoch.epoch,
    startTime: clock.genesis + epoch.epoch * clock.epochLength,
    endTime: clock.genesis + (epoch.epoch + 1n) * clock.epochLength,
    fees: epoch.fees,
    jobFees: usage.jobFees,
    jobsCompleted: usage.jobsCompleted,
    jobsFailed: usage.jobsFailed,
    uniquePayers: usage.payers,
    units: epoch.units,
    burned: usage.burned,
    usageEmission: epoch.usageEmission,
    availabilityEmission: epoch.availabilityEmission,
    emitted,
    forfeited: epoch.forfeited,
    earnings: usage.burned - emitted,
    coverage: ratio(usage.burned, emitted),
    subsidyShare: ratio(emitted, emitted + epoch.fees),
    feeEma: epoch.feeEma,
    utilisation: wadToNumber(epoch.utilisation),
    utilisationEma: wadToNumber(epoch.utilisationEma),
    phi: wadToNumber(epoch.phi),
    baseAvailability: epoch.baseAvailability,
    cap: epoch.cap,
    limiter: epoch.limiter,
  }
}

/** Σ fees, burns, emission and forfeits over `points`, and the ratios of the sums. */
export function emissionsTotals(points: readonly EmissionsPoint[]): EmissionsTotals {
  const sum = (field: 'fees' | 'burned' | 'emitted' | 'forfeited') => points.reduce((total, p) => total + p[field], 0n)
  const fees = sum('fees')
  const burned = sum('burned')
  const emitted = sum('emitted')
  return {
    fees,
    burned,
    emitted,
    forfeited: sum('forfeited'),
    coverage: ratio(burned, emitted),
    subsidyShare: ratio(emitted, emitted + fees),
  }
}

/**
 * Closed epochs against the market's usage: a point per epoch (in the order given), their totals and the coverage
 * target τ/κ. `usage` is keyed by epoch number; an epoch without an entry had no finalized job and no burn.
 */
export function emissionsVsUsage(parameters: {
  epochs: readonly ClosedEpoch[]
  usage: ReadonlyMap<bigint, EpochUsage>
  clock: EpochClock
  params: { market: Pick<MarketParams, 'takeBps'>; emission: Pick<EmissionParams, 'kappa'> }
}): EmissionsVsUsage {
  const { usage, clock } = parameters
  const points = parameters.epochs.map((epoch) => emissionsPoint({ epoch, usage: usage.get(epoch.epoch), clock }))
  return { points, totals: emissionsTotals(points), coverageTarget: coverageTarget(parameters.params) }
}
