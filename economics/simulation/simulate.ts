import type { EmissionParams } from '../../protocol/emissionParams.ts'
import { TSR } from '../../protocol/units.ts'
import {
  type AttestedCapacities,
  advanceEpochs,
  claimable,
  type EmissionState,
  type EpochInputs,
  type EpochOutputs,
  type EpochRecord,
  initialState,
  type RecordedChallenge,
  type RecordedEvent,
  type RecordedJob,
  stepEpoch,
} from '../emissionLaw.ts'
import {
  addExact,
  challengeSlashOf,
  defaultMarketModel,
  defaultMarketRules,
  EPOCH_SECONDS,
  type GpuClass,
  GWEI,
  HOURS_PER_EPOCH,
  hashUniform,
  type MarketModel,
  type MarketRules,
  type Provider,
  TAKE_TICK,
  takesOf,
} from './market.ts'
import { Population, type RewardRates } from './population.ts'
import type { SimulatedEpoch } from './types.ts'

/** TesseraToken's genesis supply, what the cap first reads: 100M TSR. */
export const GENESIS_SUPPLY = 100_000_000n * TSR

/** A law with `stepEpoch`'s signature: the law itself, the sweep's variant of it, or the bench's no-op. */
export type LawStep = typeof stepEpoch

/** One of the attacker's market providers and what it served this epoch. */
export type ServedProvider = { provider: Provider; units: number; feeGwei: number; passed: boolean }

/** What the attacker sees when it acts: after the market cleared and the challenges ran, before the epoch closes. */
export type AttackContext = {
  epoch: number
  /** The law's state before this epoch closes (public on chain). */
  state: EmissionState
  params: EmissionParams
  rules: MarketRules
  model: MarketModel
  /** Its providers in the market, with what they served. */
  providers: readonly ServedProvider[]
  /** This epoch so far over every challenge-passing market identity: units counted as compute, attested capacity. */
  compute: number
  attested: number
  /** Organic fees of the epoch (TSR). */
  organicFees: number
  /** A uniform draw for (index, purpose), the same in every run of a seed. */
  draw: (index: number, purpose: number) => number
}

/** What an attacker does in an epoch beyond its providers' market work. */
export type AttackActions = {
  /** Challenges of its identities outside the market (fake GPUs), recorded with the others before any job. */
  challenges: RecordedChallenge[]
  /** Self-dealt jobs, one aggregate per identity: fee, units, and the take they burn. */
  jobs: { provider: string; fee: bigint; units: bigint; burned: bigint }[]
  /** Stake slashed from its identities (wei), of which `slashBurned` is burned. */
  slashed: bigint
  slashBurned: bigint
  /** Hardware it runs outside the market (TSR). */
  hardwareCost: number
}

/** An attacker: the providers it runs in the market, drawn at genesis, and what it does every epoch. */
export type Attacker = {
  /**
   * Its market providers (their names are identities), drawn with `draw` from a stream of their own; `honestCapacity`
   * is the genesis population's capacity (units per epoch). Empty for an attacker outside the market.
   */
  setup: (parameters: {
    model: MarketModel
    honestCapacity: number
    draw: (gpuClass: number, index: number, name: string) => Provider
  }) => Provider[]
  act: (context: AttackContext) => AttackActions
  /** Its identities outside the market, whose rewards are its own too. */
  identities: () => readonly string[]
}

/** Governance between epochs: new parameters (the contract's `setParams`), JobMarket's rules, or φ (`setPhi`). */
export type Governance = (parameters: {
  epoch: number
  state: EmissionState
  params: EmissionParams
  rules: MarketRules
}) => { params?: EmissionParams; rules?: MarketRules; phi?: bigint } | undefined

/** Everything a run reads; only `name`, `seed`, `epochs`, `params` and `demand` are required. */
export type SimulationConfig = {
  name: string
  seed: number
  epochs: number
  params: EmissionParams
  /** Organic demand: the fees (TSR per epoch) it would pay at reference prices; the clearing makes the actual fees. */
  demand: (epoch: number) => number
  rules?: MarketRules
  model?: MarketModel
  genesisSupply?: bigint
  /**
   * How honest providers appear to the law. 'provider': one identity each. 'cohort' (the default): the challenge-
   * passing providers of a class are grouped into identities below half the per-provider cap's share, each event the
   * sum of its members' (those that failed share one identity per class). The law's outputs and state are the same to
   * the wei: compute (no honest provider serves beyond its attested capacity) and weight add up, no group is capped,
   * and payouts are computed from the epoch's totals. It is only faster; simulate.test.ts checks the equality.
   */
  identities?: 'cohort' | 'provider'
  attacker?: Attacker
  governance?: Governance
  /** Epochs in [from, from + epochs) are closed together by one `advanceEpochs` call after the last (a keeper outage). */
  outage?: { from: number; epochs: number }
  /** Something that happens to the market at the start of an epoch (S5's exit). */
  shock?: (parameters: { epoch: number; active: readonly Provider[] }) => void
  /** The law; `stepEpoch` unless the sweep's variant or the bench's no-op. */
  law?: LawStep
  /** The law's state to start from (a scenario set later in the law's life); `initialState(params)` by default. */
  startState?: EmissionState
}

/** The attacker's books over a run. Token amounts in wei; `hardware` and `organicMargin` in TSR. */
export type AttackerLedger = {
  rewards: bigint
  washFees: bigint
  washBurned: bigint
  slashed: bigint
  /** Hardware outside the market. */
  hardware: number
  /** Its market providers' organic fees less their variable and fixed costs. */
  organicMargin: number
}

/** What a keeper outage leaves to check (S10): the state before it, the epochs' inputs, what the catch-up closed. */
export type OutageRecord = {
  state: EmissionState
  attested: AttestedCapacities
  params: EmissionParams
  inputs: EpochInputs[]
  closed: EpochOutputs[]
  /** The state after the catch-up. */
  after: EmissionState
  /** Usage + availability emission of the epochs the catch-up closed. */
  minted: bigint
}

/** A run's epochs and totals, before a scenario judges them. */
export type SimulationResult = {
  name: string
  seed: number
  epochs: SimulatedEpoch[]
  attacker: AttackerLedger
  /** Rewards of honest providers over the run (wei). */
  honestRewards: bigint
  finalState: EmissionState
  outage?: OutageRecord
}

const weiToTsr = (wei: bigint) => Number(wei / 10n ** 9n) / 1e9
const wadToNumber = (x: bigint) => Number(x / 10n ** 6n) / 1e12
const tsrToWei = (tsr: number) => BigInt(Math.round(tsr * 1e6)) * 10n ** 12n

/**
 * The epoch's `recordChallenge` and `recordJob` calls, challenges first: the attacker's extra identities, then every
 * market provider, alone or in a cohort (see {@link SimulationConfig.identities}); the attacker's wash is added to its
 * identities' jobs.
 */
function lawEvents(parameters: {
  population: Population
  params: EmissionParams
  identities: 'cohort' | 'provider'
  extra: readonly RecordedChallenge[]
  wash: ReadonlyMap<string, { fee: bigint; units: bigint }>
  weightTotal: number
}): RecordedEvent[] {
  const { population, params, identities, extra, wash } = parameters
  const { units, feeGwei, passed } = population
  const challenges: RecordedEvent[] = [...extra]
  const jobs: RecordedJob[] = []
  const merged = new Set<string>()
  const job = (provider: string, feeGwei: bigint, served: number) => {
    const extraJob = wash.get(provider)
    if (extraJob) merged.add(provider)
    const fee = feeGwei * GWEI + (extraJob?.fee ?? 0n)
    const total = BigInt(served) + (extraJob?.units ?? 0n)
    if (total > 0n || fee > 0n) jobs.push({ kind: 'job', provider, fee, units: total })
  }
  const group = (name: string, members: readonly Provider[], ok: boolean, weight: number) => {
    let unitsPerHour = 0
    let served = 0
    let fees = 0
    const feesBig = { total: 0n }
    for (const m of members) {
      unitsPerHour += m.unitsPerHour
      served += units[m.slot] as number
      fees = addExact(fees, feeGwei[m.slot] as number, 1, feesBig)
    }
    // A lone provider shows its own stake; a cohort the stake that makes its weight the sum of its members'.
    const stakeAtRisk = members.length === 1 ? (members[0] as Provider).stake : params.stakePerUnit * BigInt(weight)
    challenges.push({ kind: 'challenge', provider: name, passed: ok, unitsPerHour: BigInt(unitsPerHour), stakeAtRisk })
    job(name, feesBig.total + BigInt(fees), served)
  }
  // Below half the cap's share of the market's weight (the attacker's extra identities only raise Σw), none is capped.
  const threshold = parameters.weightTotal * (wadToNumber(params.maxProviderShare) / 2)
  for (const [i, ladder] of population.ladders.entries()) {
    const failed: Provider[] = []
    let members: Provider[] = []
    let weight = 0
    let cohorts = 0
    const flush = () => {
      // Stable names: the law keeps every identity's attested capacity, so fresh names would grow its map.
      if (members.length === 1) group((members[0] as Provider).name, members, true, weight)
      else if (members.length > 1) group(`cohort-${i}-${cohorts++}`, members, true, weight)
      members = []
      weight = 0
    }
    for (const p of ladder.providers) {
      const ok = passed[p.slot] === 1
      if (identities === 'provider' || p.attacker || (ok && p.weight >= threshold)) group(p.name, [p], ok, p.weight)
      else if (!ok) failed.push(p)
      else {
        if (weight + p.weight >= threshold) flush()
        members.push(p)
        weight += p.weight
      }
    }
    flush()
    // Failed providers have neither weight nor counted compute: one identity holds their fees (a stable name, as above).
    if (failed.length) group(`failed-${i}`, failed, false, 0)
  }
  // The wash of identities outside the market: their own job events.
  for (const [provider, j] of wash) if (!merged.has(provider)) jobs.push({ kind: 'job', provider, fee: j.fee, units: j.units })
  return [...challenges, ...jobs]
}

/**
 * Runs the market and the exact emission law for `config.epochs` daily epochs. Each epoch: governance, entry and exit,
 * the market cleared per GPU class with the matcher's rules, jobs settled with JobMarket's take, a challenge per
 * provider, the attacker's move, then one `recordChallenge` per identity and one `recordJob` per identity closed by
 * `stepEpoch` (or the configured law); claims are paid at once (supply = genesis + minted − burned, what the next
 * cap reads) and providers decide on their margins. Deterministic for a seed.
 */
export function simulate(config: SimulationConfig): SimulationResult {
  const model = config.model ?? defaultMarketModel
  const law = config.law ?? stepEpoch
  const identities = config.identities ?? 'cohort'
  const seed = config.seed >>> 0
  if (config.params.epochLength !== EPOCH_SECONDS) throw new RangeError('the simulator runs daily epochs: epochLength must be 86400')
  let params = config.params
  let rules = config.rules ?? defaultMarketRules
  const population = new Population({ model, seed, defaultRules: defaultMarketRules })

  // Genesis: a population sized for the first epoch's demand at `initialUtilisation`, or a fixed count.
  const meanGpus = model.gpuCounts.reduce((s, g) => s + g.gpus * g.weight, 0) / model.gpuCounts.reduce((s, g) => s + g.weight, 0)
  const sized = model.classes.map((c, i) => {
    const units = (c.demandShare * config.demand(0)) / (population.ladders[i]?.referencePrice ?? 1)
    return units / model.initialUtilisation / (c.unitsPerHour * HOURS_PER_EPOCH * meanGpus)
  })
  const sizedTotal = sized.reduce((s, x) => s + x, 0)
  for (const [i, x] of sized.entries()) {
    const count = model.initialProviders === undefined ? Math.max(1, Math.round(x)) : Math.round((model.initialProviders * x) / sizedTotal)
    for (let j = 0; j < count; j++) population.add(population.draw(i, 0), params.stakePerUnit)
  }
  const honestCapacity = population.providers.reduce((s, p) => s + p.capacity, 0)
  const attackerProviders =
    config.attacker?.setup({ model, honestCapacity, draw: (gpuClass, index, name) => population.drawAttacker(gpuClass, index, name) }) ?? []
  for (const p of attackerProviders) population.add(p, params.stakePerUnit)
  const attackerNames = [...attackerProviders.map((p) => p.name), ...(config.attacker?.identities() ?? [])]

  let state = config.startState ?? initialState(params)
  let attested: AttestedCapacities = new Map()
  let supply = config.genesisSupply ?? GENESIS_SUPPLY
  const epochs: SimulatedEpoch[] = []
  const ledger: AttackerLedger = { rewards: 0n, washFees: 0n, washBurned: 0n, slashed: 0n, hardware: 0, organicMargin: 0 }
  let honestRewards = 0n
  let outage: OutageRecord | undefined
  const buffered: { inputs: EpochInputs; epoch: SimulatedEpoch }[] = []
  // The last closed epoch's reward rates: what providers decide on (during an outage, the last known ones).
  const rates: RewardRates = { usageRate: 0, pool: 0, totalWeight: 0, maxShare: wadToNumber(params.maxProviderShare) }

  const payRewards = (step: ReturnType<LawStep>, target: SimulatedEpoch) => {
    target.law = step.outputs
    let attackerRewards = 0n
    for (const name of attackerNames) {
      const r = claimable({ record: step.record, provider: name, params })
      attackerRewards += r.usage + r.availability
    }
    // What the event reports as emitted; the claims mint up to 1 wei less per uncapped recipient.
    const minted = step.outputs.usageEmission + step.outputs.availabilityEmission
    target.attackerRewards = attackerRewards
    target.honestRewards = minted - attackerRewards
    ledger.rewards += attackerRewards
    honestRewards += minted - attackerRewards
    supply += minted
    return step.record
  }
  const readRates = (record: EpochRecord) => {
    rates.usageRate = wadToNumber(record.usageRate)
    rates.pool = weiToTsr(record.availabilityPool)
    rates.totalWeight = Number(record.totalWeight)
    rates.maxShare = wadToNumber(params.maxProviderShare)
  }

  for (let k = 0; k < config.epochs; k++) {
    const governed = config.governance?.({ epoch: k, state, params, rules })
    if (governed?.params && governed.params !== params) {
      const reweigh = governed.params.stakePerUnit !== params.stakePerUnit
      params = governed.params
      if (reweigh) population.reweigh(params.stakePerUnit)
    }
    if (governed?.rules) rules = governed.rules
    if (governed?.phi !== undefined) state = { ...state, phi: governed.phi }

    population.turnover(k, params.stakePerUnit)
    if (config.shock) {
      config.shock({ epoch: k, active: population.active() })
      population.turnover(k, params.stakePerUnit)
    }
    const { organicFees, clearingPrice } = population.clear({ fees: config.demand(k), rules })
    const active = population.active()
    population.challenge(k, active)

    const { units, feeGwei, passed, smallJobs, batchJobs } = population
    let burnedTicks = 0
    const burnedBig = { total: 0n }
    let compute = 0
    let attestedUnits = 0
    let weightTotal = 0
    let slashBurned = 0n
    let attackerSlashed = 0n
    for (const p of active) {
      const takes = takesOf(p, model.classes[p.gpuClass] as GpuClass, rules)
      burnedTicks = addExact(burnedTicks, smallJobs[p.slot] as number, takes.smallTicks, burnedBig)
      burnedTicks = addExact(burnedTicks, batchJobs[p.slot] as number, takes.batchTicks, burnedBig)
      if (passed[p.slot] === 1) {
        compute += Math.min(units[p.slot] as number, p.capacity)
        attestedUnits += p.capacity
        weightTotal += p.weight
      } else {
        const slash = challengeSlashOf(BigInt(p.askGwei) * GWEI, model.challengeUnits, rules)
        slashBurned += slash.burned
        if (p.attacker) attackerSlashed += slash.slashed
      }
    }

    const mine = attackerProviders
      .filter((p) => p.leaves > k)
      .map((p) => ({ provider: p, units: units[p.slot] as number, feeGwei: feeGwei[p.slot] as number, passed: passed[p.slot] === 1 }))
    const attack = config.attacker?.act({
      epoch: k,
      state,
      params,
      rules,
      model,
      providers: mine,
      compute,
      attested: attestedUnits,
      organicFees,
      draw: (index, purpose) => hashUniform(seed, 2_000_000 + index, k, 10 + purpose),
    })
    const events = lawEvents({
      population,
      params,
      identities,
      extra: attack?.challenges ?? [],
      wash: new Map((attack?.jobs ?? []).map((j) => [j.provider, j])),
      weightTotal,
    })

    const washBurned = (attack?.jobs ?? []).reduce((s, j) => s + j.burned, 0n)
    const washFees = (attack?.jobs ?? []).reduce((s, j) => s + j.fee, 0n)
    const takeBurned = (burnedBig.total + BigInt(burnedTicks)) * TAKE_TICK + washBurned
    supply -= takeBurned + slashBurned + (attack?.slashBurned ?? 0n)
    ledger.washBurned += washBurned
    ledger.washFees += washFees
    ledger.slashed += (attack?.slashed ?? 0n) + attackerSlashed
    ledger.hardware += attack?.hardwareCost ?? 0
    let hardware = attack?.hardwareCost ?? 0
    for (const { provider: p, units: served, feeGwei: fee } of mine) {
      const cost = p.fixedCost + p.variableCost * served
      ledger.organicMargin += fee / 1e9 - cost
      hardware += cost
    }
    let attestedCapacity = 0n
    for (const e of events) if (e.kind === 'challenge' && e.passed) attestedCapacity += (e.unitsPerHour * EPOCH_SECONDS) / 3600n
    const epoch: SimulatedEpoch = {
      // Set when the epoch closes (at once, or when the keeper is back after an outage).
      law: undefined as unknown as EpochOutputs,
      organicFees: tsrToWei(organicFees),
      washFees,
      burned: takeBurned,
      honestRewards: 0n,
      attackerRewards: 0n,
      attackerCosts: washBurned + (attack?.slashed ?? 0n) + attackerSlashed + tsrToWei(hardware),
      supply,
      providers: active.length,
      attestedCapacity,
      clearingPrice,
    }
    epochs.push(epoch)

    const inputs: EpochInputs = { events, supply }
    const inOutage = config.outage !== undefined && k >= config.outage.from && k < config.outage.from + config.outage.epochs
    if (!inOutage) {
      const step = law({ state, inputs, params, attested })
      readRates(payRewards(step, epoch))
      state = step.state
      attested = step.attested
    } else {
      outage ??= { state, attested, params, inputs: [], closed: [], after: state, minted: 0n }
      buffered.push({ inputs, epoch })
      if (k === (config.outage?.from ?? 0) + (config.outage?.epochs ?? 0) - 1 || k === config.epochs - 1) {
        // The keeper is back: one call closes every ended epoch, reading the supply once.
        const caughtUpInputs = buffered.map((b) => ({ events: b.inputs.events, supply }))
        const caughtUp = advanceEpochs({ state, inputs: caughtUpInputs, params, attested })
        for (const [i, step] of caughtUp.epochs.entries()) {
          const before = supply
          readRates(payRewards(step, (buffered[i] as (typeof buffered)[number]).epoch))
          outage.minted += supply - before
          outage.closed.push(step.outputs)
        }
        outage.inputs = caughtUpInputs
        outage.after = caughtUp.state
        state = caughtUp.state
        attested = caughtUp.attested
        buffered.length = 0
      }
    }
    epoch.supply = supply
    population.decide({ epoch: k, active, rates, rules })
  }

  return { name: config.name, seed: config.seed, epochs, attacker: ledger, honestRewards, finalState: state, outage }
}
