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

/** One `recordJob(provider, fee, units)` call (JobMarket, at a job's settlement). */
export type RecordedJob = { kind: 'job'; provider: string; fee: bigint; units: bigint }

/**
 * One `recordChallenge(provider, passed, unitsPerHour)` call (ChallengeLedger, at a challenge's record), with the
 * registry's `stakeAtRisk(provider)` at that moment.
 */
export type RecordedChallenge = { kind: 'challenge'; provider: string; passed: boolean; unitsPerHour: bigint; stakeAtRisk: bigint }

/** What the controller is told while an epoch is open, in order. */
export type RecordedEvent = RecordedJob | RecordedChallenge

/** What the law reads for one epoch: its recorded jobs and challenges, and the token's supply at close. */
export type EpochInputs = {
  /** `recordJob` and `recordChallenge` calls of the epoch, in order. */
  events: readonly RecordedEvent[]
  /** `token.totalSupply()` when the epoch is closed. */
  supply: bigint
}

/**
 * Each provider's capacity (units per epoch, lower-case address) as its last recorded challenge measured it; 0 (or
 * absent) after a failure. It outlives epochs: the contract's `attestedCapacityOf`.
 */
export type AttestedCapacities = ReadonlyMap<string, bigint>

/** Every field of the epoch's `EpochAdvanced` event. */
export type EpochOutputs = {
  epoch: bigint
  fees: bigint
  units: bigint
  compute: bigint
  attested: bigint
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
  /** Σ weight over the epoch's recipients (providers with a passed challenge). */
  totalWeight: bigint
  /** Per provider (lower-case address): its fees and weight, in first-job order. */
  providers: Map<string, { fees: bigint; weight: bigint }>
}

/** One provider's reward for an epoch. */
export type Payout = { provider: string; usage: bigint; availability: bigint }

const min = (a: bigint, b: bigint) => (a < b ? a : b)
const max = (a: bigint, b: bigint) => (a > b ? a : b)

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

/** An epoch's totals as the contract keeps them while it is open. */
type OpenEpoch = {
  fees: bigint
  units: bigint
  compute: bigint
  attested: bigint
  totalWeight: bigint
  providers: Map<string, { fees: bigint; compute: bigint; weight: bigint; recipient: boolean }>
}

/**
 * Folds an epoch's `recordJob` and `recordChallenge` calls into its stored totals, as the contract does while it is
 * open, updating `attested` (each provider's last measured capacity) in place.
 */
function recordEvents(events: readonly RecordedEvent[], attested: Map<string, bigint>, params: EmissionParams): OpenEpoch {
  const open: OpenEpoch = { fees: 0n, units: 0n, compute: 0n, attested: 0n, totalWeight: 0n, providers: new Map() }
  const providerOf = (key: string) => {
    let p = open.providers.get(key)
    if (!p) {
      p = { fees: 0n, compute: 0n, weight: 0n, recipient: false }
      open.providers.set(key, p)
    }
    return p
  }
  for (const event of events) {
    const key = event.provider.toLowerCase()
    if (event.kind === 'job') {
      const p = providerOf(key)
      open.fees += event.fee
      open.units += event.units
      p.fees += event.fee
      const capacity = attested.get(key) ?? 0n
      if (capacity > p.compute) {
        const counted = min(event.units, capacity - p.compute)
        p.compute += counted
        open.compute += counted
      }
    } else if (!event.passed) {
      attested.set(key, 0n)
    } else {
      const capacity = (event.unitsPerHour * params.epochLength) / 3600n
      attested.set(key, capacity)
      const p = providerOf(key)
      if (p.recipient) continue
      p.recipient = true
      open.attested += capacity
      const weight = params.stakePerUnit === 0n ? capacity : min(capacity, event.stakeAtRisk / params.stakePerUnit)
      p.weight = weight
      open.totalWeight += weight
    }
  }
  return open
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
 * `attested` is each provider's measured capacity before the epoch; the result carries it after.
 */
export function stepEpoch({
  state,
  inputs,
  params,
  attested = new Map(),
}: {
  state: EmissionState
  inputs: EpochInputs
  params: EmissionParams
  attested?: AttestedCapacities
}): {
  state: EmissionState
  outputs: EpochOutputs
  record: EpochRecord
  payouts: Payout[]
  attested: AttestedCapacities
} {
  const s = { ...state }
  const k = s.nextEpoch
  const capacities = new Map(attested)
  const open = recordEvents(inputs.events, capacities, params)
  const { fees, totalWeight } = open

  const utilisation = open.attested === 0n ? 0n : min(WAD, (open.compute * WAD) / open.attested)
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

  // Above the upper bound the usage rate is cut first: fees can be washed, proven availability can't.
  const cap = (inputs.supply * s.rMax) / WAD / EPOCHS_PER_YEAR
  const stepUp = (s.lastEmission * (WAD + params.maxStepUp)) / WAD
  const upper = min(stepUp, cap)
  const lower = min((s.lastEmission * (WAD - params.maxStepDown)) / WAD, upper)
  let limiter: Limiter = Limiter.None
  if (usage + availability > upper) {
    limiter = cap < stepUp ? Limiter.Cap : Limiter.StepUp
    if (availability > upper) availability = upper
    if (usage > upper - availability) {
      usageRate = ((upper - availability) * WAD) / fees
      usage = (fees * usageRate) / WAD
      // The rate's rounding dust (< fees / WAD) goes to availability: the budget is exactly the bound.
      availability = upper - usage
    }
  } else if (usage + availability < lower) {
    limiter = Limiter.StepDown
    availability = lower - usage
  }
  s.lastEmission = usage + availability

  const { providers } = open
  const record: EpochRecord = { usageRate, availabilityPool: availability, totalWeight, providers }
  const payouts = [...providers.keys()].map((provider) => ({ provider, ...claimable({ record, provider, params }) }))
  const distributed = claimableAvailability(availability, providers, totalWeight, params.maxProviderShare)

  const outputs: EpochOutputs = {
    epoch: k,
    fees,
    units: open.units,
    compute: open.compute,
    attested: open.attested,
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
  return { state: s, outputs, record, payouts, attested: capacities }
}

/**
 * A provider's reward for a closed epoch, as the contract's `claimable` before any claim:
 * usage `fees_i·usageRate`, availability its weight's share of the pool capped at
 * `maxProviderShare`; both rounded down. Zero for a provider without a job or passed challenge in the epoch.
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
 * is the same list with empty `events`. The contract closes at most the caller's bound per call
 * (`advanceEpoch(maxEpochs)`, 64 for `advanceEpoch()`) and reads the supply once per call:
 * pass the same `supply` for epochs closed together.
 */
export function advanceEpochs({
  state,
  inputs,
  params,
  attested = new Map(),
}: {
  state: EmissionState
  inputs: readonly EpochInputs[]
  params: EmissionParams
  attested?: AttestedCapacities
}): { state: EmissionState; epochs: ReturnType<typeof stepEpoch>[]; attested: AttestedCapacities } {
  const epochs: ReturnType<typeof stepEpoch>[] = []
  let s = state
  let capacities = attested
  for (const epochInputs of inputs) {
    const step = stepEpoch({ state: s, inputs: epochInputs, params, attested: capacities })
    epochs.push(step)
    s = step.state
    capacities = step.attested
  }
  return { state: s, epochs, attested: capacities }
}
