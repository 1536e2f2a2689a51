import { prng } from '../prng.ts'
import {
  challengeSlashOf,
  clearSlice,
  drawProvider,
  type GpuClass,
  GWEI,
  hashUniform,
  type MarketModel,
  type MarketRules,
  normal,
  type Provider,
  referenceAsk,
  sliceDemand,
  stakeProvider,
  weightOf,
} from './market.ts'

/** A class's active providers, cheapest ask first, and the capacity ladder the matcher walks. */
type Ladder = {
  providers: Provider[]
  asks: Float64Array
  /** Capacity per slice of the day up to and including each provider. */
  cumulative: Float64Array
  dirty: boolean
  /** The class's reference ask (TSR per unit): demand is quoted at it. */
  referencePrice: number
  /** Entrants decided but not yet serving (the epochs they arrive at) and fractional entry carried over. */
  pending: number[]
  carry: number
  /** The class's mean smoothed margin last epoch: where an entrant's starts. */
  meanMargin: number
}

/** What a provider's rewards were worth per unit of weight and fee in the last closed epoch (TSR). */
export type RewardRates = { usageRate: number; pool: number; totalWeight: number; maxShare: number }

const growTo = (array: Float64Array<ArrayBuffer>, size: number): Float64Array<ArrayBuffer> => {
  if (array.length >= size) return array
  const grown = new Float64Array(Math.max(size, array.length * 2))
  grown.set(array)
  return grown
}

/**
 * The providers of a run: who is active, sorted per class by ask, and what each served, earned and thinks of staying,
 * in typed arrays indexed by `Provider.slot`.
 */
export class Population {
  readonly model: MarketModel
  readonly providers: Provider[] = []
  readonly ladders: Ladder[]
  units = new Float64Array(256)
  smallJobs = new Float64Array(256)
  batchJobs = new Float64Array(256)
  feeGwei = new Float64Array(256)
  margin = new Float64Array(256)
  passed = new Uint8Array(256)
  private readonly seed: number
  private readonly defaultRules: { takeBps: number; minTake: number }
  private readonly stream: () => number
  private readonly noise: number[]
  private readonly demandStream: () => number
  private nextKey = 0

  constructor(parameters: { model: MarketModel; seed: number; defaultRules: MarketRules }) {
    const { model, seed, defaultRules } = parameters
    this.model = model
    this.seed = seed
    // Separate streams, so an attacker or a different population never shifts another part's draws.
    this.stream = prng(seed ^ 0x5eed0001).next
    this.demandStream = prng(seed ^ 0x5eed0002).next
    this.noise = model.classes.map(() => 0)
    this.defaultRules = { takeBps: Number(defaultRules.takeBps), minTake: Number(defaultRules.minTake / 10n ** 9n) / 1e9 }
    this.ladders = model.classes.map((c) => ({
      providers: [],
      asks: new Float64Array(0),
      cumulative: new Float64Array(0),
      dirty: true,
      referencePrice: referenceAsk(c, model),
      pending: [],
      carry: 0,
      meanMargin: 0,
    }))
  }

  /** Draws an honest provider of `gpuClass` joining at `epoch`. */
  draw(gpuClass: number, epoch: number): Provider {
    return drawProvider({ slot: this.providers.length, key: this.nextKey++, gpuClass, model: this.model, next: this.stream, joined: epoch })
  }

  /** Draws one of the attacker's market providers: its own stream and keys, so honest draws stay as without it. */
  drawAttacker(gpuClass: number, index: number, name: string): Provider {
    const next = prng(this.seed ^ (0xa77ac000 + index)).next
    return drawProvider({
      slot: this.providers.length,
      key: 1_000_000 + index,
      gpuClass,
      model: this.model,
      next,
      joined: 0,
      attacker: true,
      name,
    })
  }

  /** Stakes `provider` and puts it on its class's ladder. */
  add(provider: Provider, stakePerUnit: bigint): void {
    provider.slot = this.providers.length
    stakeProvider(provider, stakePerUnit, this.model)
    this.providers.push(provider)
    const size = this.providers.length
    for (const key of ['units', 'smallJobs', 'batchJobs', 'feeGwei', 'margin'] as const) this[key] = growTo(this[key], size)
    if (this.passed.length < size) {
      const grown = new Uint8Array(this.passed.length * 2)
      grown.set(this.passed)
      this.passed = grown
    }
    const ladder = this.ladders[provider.gpuClass] as Ladder
    this.margin[provider.slot] = ladder.meanMargin
    const list = ladder.providers
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const other = list[mid] as Provider
      if (other.askGwei < provider.askGwei || (other.askGwei === provider.askGwei && other.key < provider.key)) lo = mid + 1
      else hi = mid
    }
    list.splice(lo, 0, provider)
    ladder.dirty = true
  }

  /** Weights for a new `stakePerUnit` (governance). */
  reweigh(stakePerUnit: bigint): void {
    for (const p of this.providers) p.weight = weightOf(p, stakePerUnit)
  }

  /** Adds the entrants due at `epoch` and drops the providers that left before it. */
  turnover(epoch: number, stakePerUnit: bigint): void {
    for (const [i, ladder] of this.ladders.entries()) {
      while (ladder.pending.length && (ladder.pending[0] as number) <= epoch) {
        ladder.pending.shift()
        this.add(this.draw(i, epoch), stakePerUnit)
      }
      const before = ladder.providers.length
      ladder.providers = ladder.providers.filter((p) => p.leaves > epoch)
      if (ladder.providers.length !== before) ladder.dirty = true
    }
  }

  /** Every active provider, class by class, cheapest first. */
  active(): Provider[] {
    const all: Provider[] = []
    for (const ladder of this.ladders) for (const p of ladder.providers) all.push(p)
    return all
  }

  /**
   * Clears every class for `epoch`: demand worth `fees` TSR at reference prices, split over the classes and the slices
   * of the day with noise, meets the ladder (see {@link clearSlice}); each provider's served units become whole small
   * and batch jobs at its own ask. Returns the organic fees (TSR) and each class's clearing price (wei per unit).
   */
  clear(parameters: { fees: number; rules: MarketRules }): { organicFees: number; clearingPrice: Record<string, bigint> } {
    const { model } = this
    const { units, smallJobs, batchJobs, feeGwei } = this
    const takeBps = Number(parameters.rules.takeBps)
    const minTake = Number(parameters.rules.minTake / 10n ** 9n) / 1e9
    const slices = model.slices.length
    const clearingPrice: Record<string, bigint> = {}
    let organicFees = 0
    for (const [i, ladder] of this.ladders.entries()) {
      const gpuClass = model.classes[i] as GpuClass
      const list = ladder.providers
      if (ladder.dirty) {
        ladder.asks = new Float64Array(list.length)
        ladder.cumulative = new Float64Array(list.length)
        let c = 0
        for (let j = 0; j < list.length; j++) {
          const p = list[j] as Provider
          c += p.capacity / slices
          ladder.asks[j] = p.ask
          ladder.cumulative[j] = c
        }
        ladder.dirty = false
      }
      this.noise[i] = model.noisePersistence * (this.noise[i] as number) + model.noiseSigma * normal(this.demandStream)
      const daily = ((gpuClass.demandShare * parameters.fees) / ladder.referencePrice) * Math.exp(this.noise[i] as number)
      for (const p of list) units[p.slot] = 0
      let priceSum = 0
      let smallShare = 0
      for (const shape of model.slices) {
        const volume = (daily * shape) / slices
        const demand = sliceDemand({
          volume,
          gpuClass,
          model,
          referenceAsk: ladder.referencePrice,
          defaultRules: this.defaultRules,
          takeBps,
          minTake,
        })
        const { full, partial, price } = clearSlice(ladder.asks, ladder.cumulative, list.length, demand.total)
        smallShare += demand.smallShare(price > 0 ? price : ladder.referencePrice) / slices
        for (let j = 0; j < full; j++) {
          const p = list[j] as Provider
          units[p.slot] = (units[p.slot] as number) + p.capacity / slices
        }
        if (partial > 0) {
          const p = list[full] as Provider
          units[p.slot] = (units[p.slot] as number) + partial
        }
        priceSum += price
      }
      clearingPrice[gpuClass.name] = BigInt(Math.round((priceSum / slices) * 1e9)) * GWEI
      for (const p of list) {
        const served = units[p.slot] as number
        const small = Math.floor((served * smallShare) / gpuClass.smallJobUnits)
        const batch = Math.floor((served - small * gpuClass.smallJobUnits) / gpuClass.batchJobUnits)
        const whole = small * gpuClass.smallJobUnits + batch * gpuClass.batchJobUnits
        smallJobs[p.slot] = small
        batchJobs[p.slot] = batch
        units[p.slot] = whole
        const fee = p.askGwei * whole
        if (!Number.isSafeInteger(fee)) throw new RangeError(`a provider's fees of ${fee} gwei are past what a double holds exactly`)
        feeGwei[p.slot] = fee
        organicFees += fee / 1e9
      }
    }
    return { organicFees, clearingPrice }
  }

  /** Draws every active provider's challenge for `epoch`: an honest one passes with `honestPassRate`. */
  challenge(epoch: number, active: readonly Provider[]): void {
    for (const p of active) this.passed[p.slot] = hashUniform(this.seed, p.key, epoch, 1) < this.model.honestPassRate ? 1 : 0
  }

  /**
   * Books the epoch for every active provider: fees, rewards as its claim pays them (`rates`), variable and fixed costs
   * and any slash, into its smoothed margin; then exits (a smoothed loss, after `minTenure`, with `exitHazard`) and
   * entry (a class's mean margin above `entryHurdle` adds entrants at up to `maxEntryRate`, after `entryLag`).
   */
  decide(parameters: { epoch: number; active: readonly Provider[]; rates: RewardRates; rules: MarketRules }): void {
    const { epoch, active, rates, rules } = parameters
    const { model, units, feeGwei, margin, passed } = this
    const alpha = 1 - 2 ** (-1 / model.marginHalfLife)
    const capShare = rates.pool * rates.maxShare
    const sums = model.classes.map(() => 0)
    const counts = model.classes.map(() => 0)
    for (const p of active) {
      const fees = (feeGwei[p.slot] as number) / 1e9
      const ok = passed[p.slot] === 1
      const availability = ok && rates.totalWeight > 0 ? Math.min((rates.pool * p.weight) / rates.totalWeight, capShare) : 0
      const slash = ok ? 0 : Number(challengeSlashOf(BigInt(p.askGwei) * GWEI, model.challengeUnits, rules).slashed / 10n ** 9n) / 1e9
      const cost = p.fixedCost + p.variableCost * (units[p.slot] as number) + slash
      const income = fees * (1 + rates.usageRate) + availability
      margin[p.slot] = (margin[p.slot] as number) + alpha * ((income - cost) / cost - (margin[p.slot] as number))
      if (p.attacker || model.fixedPopulation) continue
      sums[p.gpuClass] = (sums[p.gpuClass] as number) + (margin[p.slot] as number)
      counts[p.gpuClass] = (counts[p.gpuClass] as number) + 1
      if (
        (margin[p.slot] as number) < 0 &&
        epoch - p.joined >= model.minTenure &&
        hashUniform(this.seed, p.key, epoch, 2) < model.exitHazard
      ) {
        p.leaves = epoch + 1
      }
    }
    if (model.fixedPopulation) return
    for (const [i, ladder] of this.ladders.entries()) {
      const count = counts[i] as number
      const mean = count ? (sums[i] as number) / count : 2 * model.entryHurdle
      ladder.meanMargin = mean
      if (mean <= model.entryHurdle || ladder.pending.length > count * model.maxEntryRate * model.entryLag) continue
      ladder.carry += Math.max(count, 10) * Math.min(model.maxEntryRate, 0.05 * (mean - model.entryHurdle))
      while (ladder.carry >= 1) {
        ladder.carry -= 1
        ladder.pending.push(epoch + model.entryLag)
      }
    }
  }
}
