import { takeOf } from '../../protocol/settlement.ts'
import { TSR } from '../../protocol/units.ts'
import type { RecordedChallenge } from '../emissionLaw.ts'
import { ALPHA_U_WAD } from '../params.ts'
import { challengeSlashOf, type GpuClass, GWEI, HOURS_PER_EPOCH, type MarketModel, type Provider, resize } from './market.ts'
import type { AttackActions, AttackContext, Attacker } from './simulate.ts'

/**
 * The adversaries of ECONOMICS.md's scenarios, each a strategy over the identities it controls. Every one can be run
 * `active: false`: the same identities, the same hardware, acting honestly, which is the baseline its gain is measured
 * against (and the run whose honest rewards its dilution is measured against).
 */

const none = (): AttackActions => ({ challenges: [], jobs: [], slashed: 0n, slashBurned: 0n, hardwareCost: 0 })

/** The GPU class the attackers run (the data-centre class: where the fees are). */
const attackClass = (model: MarketModel): number => model.classes.length - 1

/**
 * `count` market providers of the attack class holding `capacity` units per epoch together, each its own identity
 * named `${prefix}${i}`: sized to stay below the per-provider cap where the count allows.
 */
function rigs(parameters: {
  model: MarketModel
  capacity: number
  count: number
  prefix: string
  draw: (gpuClass: number, index: number, name: string) => Provider
}): Provider[] {
  const { model, capacity, count, prefix, draw } = parameters
  const c = attackClass(model)
  const gpuClass = model.classes[c] as GpuClass
  const gpus = Math.max(1, Math.round(capacity / count / (gpuClass.unitsPerHour * HOURS_PER_EPOCH)))
  return Array.from({ length: count }, (_, i) => {
    const p = draw(c, i, `${prefix}${i}`)
    resize(p, gpus, gpuClass)
    return p
  })
}

/** How many identities keep each below 80 % of the cap's share when they hold `share` of the weight together. */
export function identitiesFor(share: number, maxShare: number): number {
  return Math.max(1, Math.ceil(share / (0.8 * maxShare)))
}

/**
 * S6's wash trader: runs `share` of the capacity in the market like any provider, and from `from` to `until`
 * self-deals `volume` × the epoch's organic fees through its own identities at their own asks (JobMarket pays a
 * provider its ask × units), in one job per identity and epoch so the take is τ of the fee, never the minimum take of
 * many small jobs. Its wash jobs declare units without running them (the most favourable case for it: they cost no
 * power and take no capacity from its organic jobs; the law counts them as compute only up to its attested capacity).
 */
export function washTrader(parameters: {
  share: number
  volume: number
  from: number
  until: number
  maxShare: number
  active: boolean
}): Attacker {
  const { share, volume, from, until, active } = parameters
  let mine: Provider[] = []
  return {
    setup: ({ model, honestCapacity, draw }) => {
      const count = identitiesFor(share, parameters.maxShare)
      mine = rigs({ model, capacity: (share / (1 - share)) * honestCapacity, count, prefix: 'wash', draw })
      return mine
    },
    identities: () => [],
    act: (context) => {
      const actions = none()
      if (!active || context.epoch < from || context.epoch >= until) return actions
      const total = context.providers.reduce((s, p) => s + p.provider.capacity, 0)
      for (const { provider } of context.providers) {
        const units = Math.floor((volume * context.organicFees * (provider.capacity / total)) / provider.ask)
        if (units <= 0) continue
        const fee = BigInt(provider.askGwei) * BigInt(units) * GWEI
        actions.jobs.push({ provider: provider.name, fee, units: BigInt(units), burned: takeOf(fee, context.rules) })
      }
      return actions
    },
  }
}

/**
 * The least utilisation this epoch that keeps Ū at or above U* − db after it (`Ū' = Ū + α_U (U − Ū)`), or 0 when Ū
 * stays there anyway; φ falls only below that line.
 */
export function utilisationToHold(context: Pick<AttackContext, 'state' | 'params'>): number {
  const line = Number(context.params.targetUtilisation - context.params.deadband) / 1e18
  const alpha = Number(ALPHA_U_WAD) / 1e18
  const ema = Number(context.state.utilisationEma) / 1e18
  // A hair above the line: the law rounds the EMA down.
  return Math.max(0, (line + 1e-6 - ema * (1 - alpha)) / alpha)
}

/**
 * S7's adaptive attacker: holds `share` of the capacity and, from `from`, washes just enough units each epoch to keep
 * Ū at U* − db, so φ never falls and the availability pool it shares stays whole. `pricing: 'market'`: its identities
 * serve organic jobs at their asks and wash at those asks. `pricing: 'minimum'`: its identities stay out of the
 * organic market (hardware no organic job asks for) with an ask of 1 wei per unit, so a wash job of any size costs the
 * minimum take; in the baseline the same identities are idle hardware that passes its challenges.
 */
export function adaptiveWasher(parameters: {
  share: number
  from: number
  pricing: 'market' | 'minimum'
  maxShare: number
  active: boolean
}): Attacker {
  const { share, from, pricing, active } = parameters
  let mine: Provider[] = []
  let outside: { name: string; unitsPerHour: number; stake: bigint; fixedCost: number }[] = []
  return {
    setup: ({ model, honestCapacity, draw }) => {
      const count = identitiesFor(share, parameters.maxShare)
      const sized = rigs({ model, capacity: (share / (1 - share)) * honestCapacity, count, prefix: 'hold', draw })
      if (pricing === 'market') {
        mine = sized
        return mine
      }
      outside = sized.map((p) => ({ name: p.name, unitsPerHour: p.unitsPerHour, stake: 0n, fixedCost: p.fixedCost }))
      return []
    },
    identities: () => outside.map((o) => o.name),
    act: (context) => {
      const actions = none()
      // Identities outside the market pass their challenges like any real hardware, staked for full weight.
      for (const [i, o] of outside.entries()) {
        if (o.stake === 0n) o.stake = BigInt(o.unitsPerHour * HOURS_PER_EPOCH) * context.params.stakePerUnit
        const passed = context.draw(i, 0) < context.model.honestPassRate
        actions.challenges.push({ kind: 'challenge', provider: o.name, passed, unitsPerHour: BigInt(o.unitsPerHour), stakeAtRisk: o.stake })
        actions.hardwareCost += o.fixedCost
      }
      if (!active || context.epoch < from) return actions
      const own = actions.challenges.reduce((s, c) => s + (c.passed ? Number(c.unitsPerHour) * HOURS_PER_EPOCH : 0), 0)
      let needed = utilisationToHold(context) * (context.attested + own) - context.compute
      if (needed <= 0) return actions
      if (pricing === 'minimum') {
        for (const c of actions.challenges) {
          if (!c.passed || needed <= 0) continue
          const units = Math.min(Math.ceil(needed), Number(c.unitsPerHour) * HOURS_PER_EPOCH)
          needed -= units
          const fee = BigInt(units)
          actions.jobs.push({ provider: c.provider, fee, units: BigInt(units), burned: takeOf(fee, context.rules) })
        }
        return actions
      }
      for (const { provider, units: organic, passed } of context.providers) {
        if (!passed || needed <= 0) continue
        const units = Math.min(Math.ceil(needed), provider.capacity - organic)
        if (units <= 0) continue
        needed -= units
        const fee = BigInt(provider.askGwei) * BigInt(units) * GWEI
        actions.jobs.push({ provider: provider.name, fee, units: BigInt(units), burned: takeOf(fee, context.rules) })
      }
      return actions
    },
  }
}

/** What a failed challenge costs a Sybil identity: the protocol's rule, or the one before it (for comparison). */
export type SlashRule =
  /**
   * The protocol: a wrong answer the audit confirmed burns the stake at risk behind the identity's weight
   * (`ChallengeLedger.record` → `ProviderRegistry.slashStake`), beside the challenge job's collateral.
   */
  | 'stakeAtRisk'
  /** The rule before: the challenge job's optimistic collateral only, at the identity's own ask (1 wei for a fake). */
  | 'collateral'

/** A Sybil farm's books: its fake GPUs, identities and rig, the identity-epochs that passed, a failure's slash per GPU. */
export type SybilBooks = {
  fakeGpus: number
  identities: number
  gpusPerIdentity: number
  rigGpus: number
  /** Identity-epochs whose challenge passed. */
  passes: number
  /** What one failed challenge slashes, per fake GPU of the identity (TSR). */
  slashPerGpu: number
}

/**
 * S9's Sybil farmer: fake GPUs worth `share` of the capacity, spread over `identities` identities outside the market
 * (none serves a paid job; each asks 1 wei per unit so no organic job ever comes its way). Each answers its challenge
 * from a small real rig shared by `sharing` fake GPUs (the hardware it must really run: a challenge is a few rows, so a
 * rig answers many), computing on cheaper hardware than it claims, so a fraction `failRate` of its answers fall outside
 * the tolerance and it can't tell which (it reveals them all: a no-show forfeits the epoch as surely). A failed
 * challenge records `passed = false` (no availability that epoch, attested capacity 0 until it passes again) and is
 * slashed by `slash`; each identity stakes enough for full weight (`capacity × stakePerUnit`) and restakes what a
 * slash took.
 */
export function sybilFarmer(parameters: {
  share: number
  identities: number
  failRate: number
  slash: SlashRule
  sharing: number
  active: boolean
}): Attacker & { books: () => SybilBooks } {
  const { share, identities, failRate, slash, sharing, active } = parameters
  let fakes: { name: string; unitsPerHour: number; gpus: number }[] = []
  let rigCost = 0
  let books: SybilBooks = { fakeGpus: 0, identities, gpusPerIdentity: 0, rigGpus: 0, passes: 0, slashPerGpu: 0 }
  return {
    setup: ({ model, honestCapacity }) => {
      const gpuClass = model.classes[attackClass(model)] as GpuClass
      const fakeGpus = Math.max(
        identities,
        Math.round(((share / (1 - share)) * honestCapacity) / (gpuClass.unitsPerHour * HOURS_PER_EPOCH)),
      )
      const perIdentity = Math.floor(fakeGpus / identities)
      fakes = Array.from({ length: identities }, (_, i) => ({
        name: `sybil${i}`,
        gpus: perIdentity,
        unitsPerHour: perIdentity * gpuClass.unitsPerHour,
      }))
      const rigGpus = Math.ceil((perIdentity * identities) / sharing)
      rigCost = rigGpus * gpuClass.fixedCostPerDay
      books = { fakeGpus: perIdentity * identities, identities, gpusPerIdentity: perIdentity, rigGpus, passes: 0, slashPerGpu: 0 }
      return []
    },
    identities: () => fakes.map((f) => f.name),
    books: () => books,
    act: (context) => {
      const actions = none()
      if (!active) return actions
      actions.hardwareCost = rigCost
      for (const [i, f] of fakes.entries()) {
        const stake = BigInt(f.unitsPerHour * HOURS_PER_EPOCH) * context.params.stakePerUnit + BigInt(context.model.minStake) * TSR
        const slashed = slash === 'stakeAtRisk' ? stake : challengeSlashOf(1n, context.model.challengeUnits, context.rules).slashed
        books.slashPerGpu = Number(slashed / 10n ** 12n) / 1e6 / f.gpus
        const passed = context.draw(i, 1) >= failRate
        const challenge: RecordedChallenge = {
          kind: 'challenge',
          provider: f.name,
          passed,
          unitsPerHour: BigInt(f.unitsPerHour),
          stakeAtRisk: stake,
        }
        actions.challenges.push(challenge)
        if (passed) {
          books.passes++
          continue
        }
        actions.slashed += slashed
        actions.slashBurned += slashed - (slashed * context.rules.slashBeneficiaryBps) / 10_000n
      }
      return actions
    },
  }
}
