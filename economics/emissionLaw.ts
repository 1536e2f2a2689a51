import type { EmissionParams } from '../protocol/emissionParams.ts'
import { WAD } from '../protocol/units.ts'
import { ALPHA_F_WAD, ALPHA_U_WAD, BASE_DECAY_WAD, EPOCHS_PER_YEAR, R_MAX_DECAY_WAD } from './params.ts'

/** Which bound set an epoch's emission budget, as in `EpochAdvanced.limiter`. */
export const Limiter = { None: 0, StepUp: 1, StepDown: 2, Cap: 3 } as const
export type Limiter = (typeof Limiter)[keyof typeof Limiter]

/** The controller's state between epochs; the same fields as the contract's `state()`. */
export type EmissionState = {
  /** The next epoch to close (last closed + 1). */
  nextEpoch: bigint
  /** F̄ in TSR wei. */
  feeEma: bigint
  /** Ū in WAD. */
  utilisationEma: bigint
  /** φ in WAD. */
  phi: bigint
  /** B_k of `nextEpoch` in TSR wei. */
  baseAvailability: bigint
  /** r_max of `nextEpoch` in WAD. */
  rMax: bigint
  /** The previous epoch's budget E (usage + availability pool, before forfeits). */
  lastEmission: bigint
}

/** One `recordJob(provider, fee, units)` call, with `capacityOf(provider)` at that moment. */
export type RecordedJob = { provider: string; fee: bigint; units: bigint; capacity: bigint }

/** What the law reads for one epoch: its recorded jobs and the chain's state at close. */
export type EpochInputs = {
  /** `recordJob` calls of the epoch, in order. */
  jobs: readonly RecordedJob[]
  /** `registry.totalCapacity()` when the epoch is closed. */
  totalCapacity: bigint
  /** `token.totalSupply()` when the epoch is closed. */
  supply: bigint
}

/** Every field of the epoch's `EpochAdvanced` event. */
export type EpochOutputs = {
  epoch: bigint
  fees: bigint
  units: bigint
  utilisation: bigint
  feeEma: bigint
  utilisationEma: bigint
  phi: bigint
  baseAvailability: bigint
  usageEmission: bigint
  availabilityEmission: bigint
  forfeited: bigint
  cap: bigint
  limiter: Limiter
}

/** What a closed epoch keeps for claims (the contract's stored epoch data). */
export type EpochRecord = {
  /** Usage reward per unit of fee, WAD (κ·min(1, F̄/F_k), scaled down when a bound binds). */
  usageRate: bigint
  /** The availability pool after the bounds, before per-provider caps and forfeits. */
  availabilityPool: bigint
  /** Σ sqrt(capacity) over the epoch's recipients. */
  totalWeight: bigint
  /** Per provider (lower-case address): its fees and weight, in first-job order. */
  providers: Map<string, { fees: bigint; weight: bigint }>
}

/** One provider's reward for an epoch. */
export type Payout = { provider: string; usage: bigint; availability: bigint }

const min = (a: bigint, b: bigint) => (a < b ? a : b)
const max = (a: bigint, b: bigint) => (a > b ? a : b)

/** Integer square root rounded down, as OpenZeppelin's `Math.sqrt`. */
export function sqrtFloor(x: bigint): bigint {
  if (x < 0n) throw new RangeError('sqrtFloor of a negative number')
  if (x < 2n) return x
  let r = x
  let y = (r + 1n) / 2n
  while (y < r) {
    r = y
    y = (r + x / r) / 2n
  }
  return r
}

/** The state a freshly deployed controller starts from. */
export function initialState(params: EmissionParams): EmissionState {
  return {
    nextEpoch: 0n,
    feeEma: 0n,
    utilisationEma: 0n,
    phi: params.phi0,
    baseAvailability: params.baseAvailability0,
    rMax: params.rMax0,
    lastEmission: (params.baseAvailability0 * params.phi0) / WAD,
  }
}

/** Folds an epoch's `recordJob` calls into its stored totals, as the contract does while it is open. */
function recordJobs(jobs: readonly RecordedJob[]): {
  fees: bigint
  units: bigint
  totalWeight: bigint
  providers: Map<string, { fees: bigint; weight: bigint }>
} {
  let fees = 0n
  let units = 0n
  let totalWeight = 0n
  const providers = new Map<string, { fees: bigint; weight: bigint }>()
  for (const job of jobs) {
    const key = job.provider.toLowerCase()
    fees += job.fee
    units += job.units
    const p = providers.get(key)
    if (p) p.fees += job.fee
    else {
      const weight = sqrtFloor(job.capacity)
      providers.set(key, { fees: job.fee, weight })
      totalWeight += weight
    }
  }
  return { fees, units, totalWeight, providers }
}

/** `min(pool·weight/totalWeight, pool·maxShare)`, each rounded down. */
function availabilityShare(pool: bigint, weight: bigint, totalWeight: bigint, maxShare: bigint): bigint {
  return min((pool * weight) / totalWeight, (pool * maxShare) / WAD)
}

/**
 * What an epoch's recipients can claim of the availability `pool` together, from totals as the contract computes
 * it at close: the uncapped weights' share floored once, plus the cap for each recipient held to it (weight `w`
 * with `w·WAD ≥ Σw·maxShare`). Each claim floors its own share, so the claims add up to this less < 1 wei per
 * uncapped recipient. The contract keeps the capped set while recipients join; here it is found at close.
 */
function claimableAvailability(pool: bigint, providers: Map<string, { weight: bigint }>, totalWeight: bigint, maxShare: bigint) {
  if (totalWeight === 0n) return 0n
  let cappedWeight = 0n
  let capped = 0n
  for (const { weight } of providers.values()) {
    if (weight !== 0n && weight * WAD >= totalWeight * maxShare) {
      cappedWeight += weight
      capped++
    }
  }
  return (pool * (totalWeight - cappedWeight)) / totalWeight + capped * ((pool * maxShare) / WAD)
}

/**
 * Closes one epoch: the contract's `_closeEpoch`, operation for operation and with the same
 * rounding (every division rounds down), so its outputs equal the `EpochAdvanced` event wei for wei.
 */
export function stepEpoch({ state, inputs, params }: { state: EmissionState; inputs: EpochInputs; params: EmissionParams }): {
  state: EmissionState
  outputs: EpochOutputs
  record: EpochRecord
  payouts: Payout[]
} {
  const s = { ...state }
  const k = s.nextEpoch
  const { fees, units, totalWeight, providers } = recordJobs(inputs.jobs)
  const capacity = inputs.totalCapacity

  let utilisation: bigint
  if (capacity === 0n) utilisation = units === 0n ? 0n : WAD
  else utilisation = min(WAD, (units * WAD) / capacity)
  s.feeEma = (s.feeEma * (WAD - ALPHA_F_WAD) + fees * ALPHA_F_WAD) / WAD
  s.utilisationEma = (s.utilisationEma * (WAD - ALPHA_U_WAD) + utilisation * ALPHA_U_WAD) / WAD

  let usageRate = fees === 0n || s.feeEma >= fees ? params.kappa : (params.kappa * s.feeEma) / fees
  let usage = (fees * usageRate) / WAD

  const base = s.baseAvailability
  const demandRegime = (s.feeEma * params.kappa) / WAD >= (base * s.phi) / WAD
  if (demandRegime && s.utilisationEma + params.deadband < params.targetUtilisation) {
    s.phi = max(params.phiMin, (s.phi * (WAD - params.phiStep)) / WAD)
  }
  let availability = (base * s.phi) / WAD

  const cap = (inputs.supply * s.rMax) / WAD / EPOCHS_PER_YEAR
  const stepUp = (s.lastEmission * (WAD + params.maxStepUp)) / WAD
  const stepDown = (s.lastEmission * (WAD - params.maxStepDown)) / WAD
  const upper = min(stepUp, cap)
  const lower = min(stepDown, upper)
  let limiter: Limiter = Limiter.None
  if (usage + availability > upper) {
    limiter = cap < stepUp ? Limiter.Cap : Limiter.StepUp
    if (usage > upper) {
      usageRate = (upper * WAD) / fees
      usage = (fees * usageRate) / WAD
    }
    availability = upper - usage
  } else if (usage + availability < lower) {
    limiter = Limiter.StepDown
    availability = lower - usage
  }
  s.lastEmission = usage + availability

  const record: EpochRecord = { usageRate, availabilityPool: availability, totalWeight, providers }
  const payouts = [...providers.keys()].map((provider) => ({ provider, ...claimable({ record, provider, params }) }))
  const distributed = claimableAvailability(availability, providers, totalWeight, params.maxProviderShare)

  const outputs: EpochOutputs = {
    epoch: k,
    fees,
    units,
    utilisation,
    feeEma: s.feeEma,
    utilisationEma: s.utilisationEma,
    phi: s.phi,
    baseAvailability: base,
    usageEmission: usage,
    availabilityEmission: distributed,
    forfeited: availability - distributed,
    cap,
    limiter,
  }

  s.baseAvailability = (base * BASE_DECAY_WAD) / WAD
  s.rMax = (s.rMax * R_MAX_DECAY_WAD) / WAD
  s.nextEpoch = k + 1n
  return { state: s, outputs, record, payouts }
}

/**
 * A provider's reward for a closed epoch, as the contract's `claimable` before any claim:
 * usage `fees_i·usageRate`, availability its sqrt-capacity share of the pool capped at
 * `maxProviderShare`; both rounded down. Zero for a provider without a job in the epoch.
 */
export function claimable({
  record,
  provider,
  params,
}: {
  record: EpochRecord
  provider: string
  params: Pick<EmissionParams, 'maxProviderShare'>
}): { usage: bigint; availability: bigint } {
  const p = record.providers.get(provider.toLowerCase())
  if (!p) return { usage: 0n, availability: 0n }
  const usage = (p.fees * record.usageRate) / WAD
  const availability =
    record.totalWeight === 0n ? 0n : availabilityShare(record.availabilityPool, p.weight, record.totalWeight, params.maxProviderShare)
  return { usage, availability }
}

/**
 * Closes several epochs in order, as one `advanceEpoch` call (or several) would; a keeper outage
 * is the same list with empty `jobs`. The contract closes at most the caller's bound per call
 * (`advanceEpoch(maxEpochs)`, 64 for `advanceEpoch()`) and reads capacity and supply once per call:
 * pass the same `totalCapacity` and `supply` for epochs closed together.
 */
export function advanceEpochs({
  state,
  inputs,
  params,
}: {
  state: EmissionState
  inputs: readonly EpochInputs[]
  params: EmissionParams
}): { state: EmissionState; epochs: ReturnType<typeof stepEpoch>[] } {
  const epochs: ReturnType<typeof stepEpoch>[] = []
  let s = state
  for (const epochInputs of inputs) {
    const step = stepEpoch({ state: s, inputs: epochInputs, params })
    epochs.push(step)
    s = step.state
  }
  return { state: s, epochs }
}
