import type { MarketParams } from '../../protocol/deployment.ts'
import { collateralOf, takeOf } from '../../protocol/settlement.ts'
import { BPS, TSR } from '../../protocol/units.ts'

/**
 * The market around the emission law: GPU classes, providers with costs, demand with a willingness-to-pay curve, the
 * matcher's clearing rule and JobMarket's settlement. Money here is TSR as a `number` (costs, incomes, the entry and
 * exit decisions) except what the law and the burn read, which stays exact: an ask is a whole number of gwei per unit,
 * so a provider's fees (`askGwei × units`) and each job's take (a multiple of {@link TAKE_TICK} wei) are integers a
 * double holds exactly, summed by {@link addExact} and turned into wei once per identity and epoch.
 */

/** Wei in one gwei: the unit asks are quoted in. */
export const GWEI = 1_000_000_000n
/** Every take is a whole number of these wei (τ of a whole-gwei fee, or the minimum take): 10^5 wei. */
export const TAKE_TICK = 100_000n
/** Seconds per simulated epoch: one economic day. */
export const EPOCH_SECONDS = 86_400n
/** Hours per epoch, what turns a measured `unitsPerHour` into capacity per epoch (the law's `× epochLength / 3600`). */
export const HOURS_PER_EPOCH = 24

/**
 * A kind of GPU. A unit is a second of a reference GPU (an H100-class card serves 3,600 an hour); costs are TSR valued
 * at one cost unit each (the simulator has no token price: rewards count at face value).
 */
export type GpuClass = {
  name: string
  /** Units one GPU of the class serves per hour, what its challenges measure. */
  unitsPerHour: number
  /** TSR per GPU per epoch whatever it serves: amortisation, hosting. */
  fixedCostPerDay: number
  /** TSR per busy GPU-hour: power. */
  variableCostPerHour: number
  /** Share of the organic fees the class takes at reference prices. */
  demandShare: number
  /** Units of an interactive job, which can't be batched: the minimum take bites these. */
  smallJobUnits: number
  /** Units of a batch job: a GPU-hour. */
  batchJobUnits: number
  /** Share of the class's units served as small jobs. */
  smallJobShare: number
}

/** Three classes, consumer to data-centre; the costs are 2025 rental-market orders of magnitude. */
export const defaultGpuClasses: readonly GpuClass[] = [
  {
    name: 'consumer',
    unitsPerHour: 1_260,
    fixedCostPerDay: 4.8,
    variableCostPerHour: 0.05,
    demandShare: 0.2,
    smallJobUnits: 120,
    batchJobUnits: 1_260,
    smallJobShare: 0.3,
  },
  {
    name: 'a100',
    unitsPerHour: 2_160,
    fixedCostPerDay: 19.2,
    variableCostPerHour: 0.12,
    demandShare: 0.3,
    smallJobUnits: 120,
    batchJobUnits: 2_160,
    smallJobShare: 0.2,
  },
  {
    name: 'h100',
    unitsPerHour: 3_600,
    fixedCostPerDay: 36,
    variableCostPerHour: 0.2,
    demandShare: 0.5,
    smallJobUnits: 120,
    batchJobUnits: 3_600,
    smallJobShare: 0.2,
  },
]

/** How the market behaves; every field has a default in {@link defaultMarketModel}. */
export type MarketModel = {
  classes: readonly GpuClass[]
  /** GPUs per provider and their weights. */
  gpuCounts: readonly { gpus: number; weight: number }[]
  /** Spread (σ of the log) of a provider's costs around its class's. */
  costSpread: number
  /** Mean and spread of the markup over full cost at {@link MarketModel.expectedUtilisation} that a provider asks. */
  markup: number
  markupSpread: number
  /** The utilisation a provider prices its fixed costs at. */
  expectedUtilisation: number
  /** Price elasticity of demand (on the requester's price, take included). */
  elasticity: number
  /** Demand is 0 at this multiple of the reference price and above. */
  chokePrice: number
  /** Intraday demand, as multiples of the day's mean, one per slice of the day (mean 1). */
  slices: readonly number[]
  /** Day-to-day demand noise: AR(1) on the log, persistence and innovation σ. */
  noisePersistence: number
  noiseSigma: number
  /** Stake a provider holds per unit of capacity per epoch, as a multiple of the law's `stakePerUnit` (1: full weight). */
  stakeCover: number
  /** Least stake (the registry's `minStake`), TSR. */
  minStake: number
  /** Yearly cost of capital locked as stake. */
  capitalCost: number
  /** Probability an honest provider passes its epoch's challenge. */
  honestPassRate: number
  /** Units of a challenge job (protocol/challengeJobs.ts draws 1 to 8 rows) and its collateral (JobMarket). */
  challengeUnits: number
  /** Entry: epochs from the decision to a serving provider; the margin over cost that draws entrants; most a class grows per epoch. */
  entryLag: number
  entryHurdle: number
  maxEntryRate: number
  /** Exit: a provider whose smoothed margin is below 0 leaves with this probability per epoch, not before `minTenure` epochs. */
  exitHazard: number
  minTenure: number
  /** Half-life (epochs) of the smoothed margin providers decide on. */
  marginHalfLife: number
  /** Initial utilisation the genesis population is sized for. */
  initialUtilisation: number
  /** Fixed genesis population instead of one sized from demand (the bench's 1,000 providers). */
  initialProviders?: number
  /** No entry and no exit: a fixed population. */
  fixedPopulation?: boolean
}

export const defaultMarketModel: MarketModel = {
  classes: defaultGpuClasses,
  gpuCounts: [
    { gpus: 1, weight: 0.4 },
    { gpus: 2, weight: 0.3 },
    { gpus: 4, weight: 0.2 },
    { gpus: 8, weight: 0.1 },
  ],
  costSpread: 0.15,
  markup: 1.1,
  markupSpread: 0.08,
  expectedUtilisation: 0.65,
  elasticity: 1.2,
  chokePrice: 3,
  slices: [0.6, 0.9, 1.1, 1.4],
  noisePersistence: 0.8,
  noiseSigma: 0.03,
  stakeCover: 1,
  minStake: 100,
  capitalCost: 0.1,
  honestPassRate: 0.998,
  challengeUnits: 8,
  entryLag: 14,
  entryHurdle: 0.1,
  maxEntryRate: 0.02,
  exitHazard: 0.05,
  minTenure: 60,
  marginHalfLife: 14,
  initialUtilisation: 0.5,
}

/** JobMarket's parameters the market reads: the take and the minimum take (burned per job), the slash rules. */
export type MarketRules = Pick<MarketParams, 'takeBps' | 'minTake' | 'collateralBps' | 'optimisticCollateralBps' | 'slashBeneficiaryBps'>

/** `devnetParams.market`'s values (contracts/deploy.ts) for the fields the simulator reads. */
export const defaultMarketRules: MarketRules = {
  takeBps: 1000n,
  minTake: TSR / 100n,
  collateralBps: 10_000n,
  optimisticCollateralBps: 125_000n,
  slashBeneficiaryBps: 5000n,
}

/**
 * One provider: hardware, costs, ask and stake. What it serves each epoch lives in the simulator's typed arrays at
 * `slot` (a double written into an object is a fresh heap number each time; 10^6 provider-epochs made that the cost).
 */
export type Provider = {
  /** Index into the simulator's per-provider arrays. */
  slot: number
  /** What its draws (challenges, exit) are keyed by: the same provider draws the same in every run of a seed. */
  key: number
  /** Its identity for the law (lower-case, as the contract keys providers). */
  name: string
  gpuClass: number
  gpus: number
  /** What its challenges measure. */
  unitsPerHour: number
  /** `unitsPerHour × 24`: units per epoch. */
  capacity: number
  askGwei: number
  /** `askGwei` in TSR. */
  ask: number
  /** TSR per unit served. */
  variableCost: number
  /** TSR per epoch: hardware, hosting and the capital cost of its stake. */
  fixedCost: number
  /** Stake at risk (TSR wei). */
  stake: bigint
  /** The law's weight `min(capacity, stake / stakePerUnit)` for the current `stakePerUnit`. */
  weight: number
  joined: number
  /** Epoch it leaves at (exclusive); Infinity while it stays. */
  leaves: number
  /** One of the attacker's identities: never in a cohort, never counted as honest. */
  attacker: boolean
  /** Per-job takes for its ask (wei and in {@link TAKE_TICK}s), cached for one set of market rules. */
  takes: { rules: MarketRules; small: bigint; batch: bigint; smallTicks: number; batchTicks: number } | undefined
}

/**
 * Adds `a × b` (whole numbers) to a running sum kept as a double (`small`, exact below 2^53) and a bigint (`big`),
 * moving the double into the bigint before it could lose a unit; returns the new `small`. A product too large for a
 * double is added as bigints. A caller keeps both in locals: an object field holding a double is a fresh heap number
 * at every write.
 */
export function addExact(small: number, a: number, b: number, big: { total: bigint }): number {
  const product = a * b
  if (!Number.isSafeInteger(product)) {
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b))
      throw new RangeError(`addExact: ${a} × ${b} is not a product of safe integers`)
    big.total += BigInt(a) * BigInt(b)
    return small
  }
  const sum = small + product
  if (sum < 2 ** 52) return sum
  big.total += BigInt(sum)
  return 0
}

/** Makes `provider` a rig of `gpus` GPUs of its class (the attacker's identities are sized, not drawn). */
export function resize(provider: Provider, gpus: number, gpuClass: GpuClass): void {
  provider.fixedCost = (provider.fixedCost / provider.gpus) * gpus
  provider.gpus = gpus
  provider.unitsPerHour = gpuClass.unitsPerHour * gpus
  provider.capacity = provider.unitsPerHour * HOURS_PER_EPOCH
}

/** The law's weight of a provider: `min(capacity, ⌊stake / stakePerUnit⌋)`, capacity alone when `stakePerUnit` is 0. */
export function weightOf(provider: Pick<Provider, 'capacity' | 'stake'>, stakePerUnit: bigint): number {
  if (stakePerUnit === 0n) return provider.capacity
  const byStake = provider.stake / stakePerUnit
  return byStake < BigInt(provider.capacity) ? Number(byStake) : provider.capacity
}

/**
 * A provider's takes for `rules` (cached): JobMarket's `takeOf` of one small job at its ask, and what a batch job
 * burns. Batch requesters size their jobs so the minimum take doesn't bind (a job of at least `minTake / τ` fee), so
 * a batch burns τ of its fee exactly: `takeOf` of a standard batch job when the minimum doesn't bind there, the same
 * τ·fee when it does (a whole-gwei fee makes τ·fee a whole number of wei, so rounding up changes nothing).
 */
export function takesOf(provider: Provider, gpuClass: GpuClass, rules: MarketRules): NonNullable<Provider['takes']> {
  if (provider.takes?.rules === rules) return provider.takes
  if (rules.minTake % TAKE_TICK !== 0n) throw new RangeError('the simulator needs minTake to be a multiple of 10^5 wei')
  const ask = BigInt(provider.askGwei) * GWEI
  const small = takeOf(ask * BigInt(gpuClass.smallJobUnits), rules)
  const standard = takeOf(ask * BigInt(gpuClass.batchJobUnits), rules)
  const tauOfFee = (ask * BigInt(gpuClass.batchJobUnits) * rules.takeBps) / BPS
  const batch = standard < tauOfFee ? standard : tauOfFee
  provider.takes = { rules, small, batch, smallTicks: Number(small / TAKE_TICK), batchTicks: Number(batch / TAKE_TICK) }
  return provider.takes
}

/**
 * What a failed challenge slashes, per protocol rules: the challenge job's optimistic collateral (JobMarket
 * `collateralOf`: the provider's own ask × units × `optimisticCollateralBps`), of which `slashBeneficiaryBps` goes to
 * the honest side and the rest is burned.
 */
export function challengeSlashOf(askWei: bigint, units: number, rules: MarketRules): { slashed: bigint; burned: bigint } {
  const slashed = collateralOf({ ask: askWei, units: BigInt(units), verification: 'OPTIMISTIC' }, rules)
  return { slashed, burned: slashed - (slashed * rules.slashBeneficiaryBps) / 10_000n }
}

/** The full cost per unit of a GPU of `gpuClass` at utilisation `u` (TSR), what providers price from. */
export function fullCostPerUnit(gpuClass: GpuClass, u: number): number {
  return (gpuClass.fixedCostPerDay / HOURS_PER_EPOCH / u + gpuClass.variableCostPerHour) / gpuClass.unitsPerHour
}

/** The reference ask of a class: what a typical provider asks (full cost at expected utilisation × markup). */
export function referenceAsk(gpuClass: GpuClass, model: MarketModel): number {
  return fullCostPerUnit(gpuClass, model.expectedUtilisation) * model.markup
}

/**
 * The take a requester of a small (interactive) job pays on top of the fee, as a share of it, at ask `p` (TSR per
 * unit): τ, or the minimum take where it binds. A batch requester pays τ: it batches its work until it doesn't bind.
 */
export function smallTakeRate(gpuClass: GpuClass, p: number, takeBps: number, minTake: number): number {
  return Math.max(takeBps / 10_000, minTake / (p * gpuClass.smallJobUnits))
}

/** A class's demand in one slice of an epoch at ask `p`: units requested, and the share of them in small jobs. */
export type SliceDemand = { total: (p: number) => number; smallShare: (p: number) => number }

/**
 * The demand curves of a class for one slice, small and batch jobs each `volume × share × (e(p) / e_ref)^(−ε)` units,
 * where `e(p) = p·(1 + take rate)` is what a requester pays per unit and `e_ref` the same at the class's reference ask
 * under the default rules; nothing at or above `chokePrice × e_ref`.
 */
export function sliceDemand(parameters: {
  volume: number
  gpuClass: GpuClass
  model: MarketModel
  referenceAsk: number
  defaultRules: { takeBps: number; minTake: number }
  takeBps: number
  minTake: number
}): SliceDemand {
  const { volume, gpuClass, model, referenceAsk, defaultRules, takeBps, minTake } = parameters
  const curve = (e: number, reference: number) => (e >= model.chokePrice * reference ? 0 : (e / reference) ** -model.elasticity)
  const smallReference = referenceAsk * (1 + smallTakeRate(gpuClass, referenceAsk, defaultRules.takeBps, defaultRules.minTake))
  const batchReference = referenceAsk * (1 + defaultRules.takeBps / 10_000)
  const tau = takeBps / 10_000
  const small = (p: number) =>
    volume * gpuClass.smallJobShare * curve(p * (1 + smallTakeRate(gpuClass, p, takeBps, minTake)), smallReference)
  const batch = (p: number) => volume * (1 - gpuClass.smallJobShare) * curve(p * (1 + tau), batchReference)
  return {
    total: (p) => small(p) + batch(p),
    smallShare: (p) => {
      const total = small(p) + batch(p)
      return total > 0 ? small(p) / total : gpuClass.smallJobShare
    },
  }
}

/**
 * Clears one slice of one class with the matcher's rules. server/leader/quoteJob.ts `quoteMode` places a job on the
 * cheapest eligible providers, eligible (server/leader/matchJobs.ts `isEligible`) meaning among other things
 * `pricePerUnit ≤ maxPricePerUnit`, and quotes the highest ask among those picked; JobMarket pays each provider its own
 * ask (`ask × units`). Requesters set `maxPricePerUnit` to what they are willing to pay, so the cheapest asks fill
 * demand, and the price is the marginal ask accepted. `providers` are sorted by ask with prefix capacities (per
 * slice) `cumulative`; returns how many providers are full, the marginal provider's units and the marginal ask.
 */
export function clearSlice(
  asks: Float64Array,
  cumulative: Float64Array,
  count: number,
  demand: (p: number) => number,
): { full: number; partial: number; price: number } {
  if (count === 0) return { full: 0, partial: 0, price: 0 }
  // The first provider j whose ask's demand fits within the capacity up to and including j; demand falls and
  // capacity rises along the ladder, so a binary search finds it.
  let lo = 0
  let hi = count
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (demand(asks[mid] as number) <= (cumulative[mid] as number)) hi = mid
    else lo = mid + 1
  }
  if (lo === count) return { full: count, partial: 0, price: asks[count - 1] as number }
  const before = lo === 0 ? 0 : (cumulative[lo - 1] as number)
  const wanted = demand(asks[lo] as number)
  // Demand at j's ask is below what the cheaper ones hold: they fill, j gets nothing and j − 1 set the price.
  if (wanted <= before) return { full: lo, partial: 0, price: lo === 0 ? 0 : (asks[lo - 1] as number) }
  return { full: lo, partial: wanted - before, price: asks[lo] as number }
}

/** Normal draw from two uniforms (Box–Muller). */
export function normal(next: () => number): number {
  const u = Math.max(next(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next())
}

/**
 * A uniform in [0, 1) from integers alone: the same for a (seed, provider, epoch, purpose) whoever else exists, so a
 * run with an attacker draws the honest providers' challenges and exits as the run without it does.
 */
export function hashUniform(seed: number, a: number, b: number, c: number): number {
  let h = (seed ^ Math.imul(a + 0x7f4a7c15, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = (h ^ Math.imul(b + 0x165667b1, 0xc2b2ae35)) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) >>> 0
  h = (h ^ Math.imul(c + 0x61c88647, 0x85ebca6b)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x2c1b3c6d) >>> 0
  return ((h ^ (h >>> 15)) >>> 0) / 2 ** 32
}

/** Draws a provider of `gpuClass` with `next` (costs, ask, GPUs); {@link stakeProvider} sets its stake and weight. */
export function drawProvider(parameters: {
  slot: number
  key: number
  gpuClass: number
  model: MarketModel
  next: () => number
  joined: number
  attacker?: boolean
  name?: string
}): Provider {
  const { model, next, joined } = parameters
  const gpuClass = model.classes[parameters.gpuClass] as GpuClass
  let pick = next() * model.gpuCounts.reduce((s, g) => s + g.weight, 0)
  let gpus = model.gpuCounts[0]?.gpus ?? 1
  for (const g of model.gpuCounts) {
    pick -= g.weight
    if (pick < 0) {
      gpus = g.gpus
      break
    }
  }
  const costFactor = Math.exp(model.costSpread * normal(next))
  const markup = model.markup * Math.exp(model.markupSpread * normal(next))
  const unitsPerHour = gpuClass.unitsPerHour * gpus
  const askGwei = Math.max(1, Math.round(fullCostPerUnit(gpuClass, model.expectedUtilisation) * costFactor * markup * 1e9))
  return {
    slot: parameters.slot,
    key: parameters.key,
    name: parameters.name ?? `p${parameters.key}`,
    gpuClass: parameters.gpuClass,
    gpus,
    unitsPerHour,
    capacity: unitsPerHour * HOURS_PER_EPOCH,
    askGwei,
    ask: askGwei / 1e9,
    variableCost: (gpuClass.variableCostPerHour * costFactor) / gpuClass.unitsPerHour,
    fixedCost: gpuClass.fixedCostPerDay * gpus * costFactor,
    stake: 0n,
    weight: 0,
    joined,
    leaves: Number.POSITIVE_INFINITY,
    attacker: parameters.attacker ?? false,
    takes: undefined,
  }
}

/**
 * Stakes `provider` for `stakePerUnit`: `stakeCover × capacity × stakePerUnit`, at least `minStake`, and adds the
 * capital cost of that stake to its fixed cost (once, at entry).
 */
export function stakeProvider(provider: Provider, stakePerUnit: bigint, model: MarketModel): void {
  const wanted = (BigInt(Math.round(model.stakeCover * 1000)) * BigInt(provider.capacity) * stakePerUnit) / 1000n
  const least = BigInt(Math.round(model.minStake)) * TSR
  provider.stake = wanted > least ? wanted : least
  provider.fixedCost += (Number(provider.stake / 10n ** 12n) / 1e6) * (model.capitalCost / 365)
  provider.weight = weightOf(provider, stakePerUnit)
}
