import { describe, expect, test } from 'vitest'
import { takeOf } from '../../protocol/settlement.ts'
import { TSR } from '../../protocol/units.ts'
import { stepEpoch } from '../emissionLaw.ts'
import { BASE_DECAY_WAD, emissionParams } from '../params.ts'
import { washTrader } from './attackers.ts'
import { baseDecayOf, lawWithBaseDecay } from './halfLife.ts'
import { clearSlice, defaultGpuClasses, defaultMarketModel, defaultMarketRules, drawProvider, GWEI, takesOf } from './market.ts'
import { coldStartDemand } from './scenarios.ts'
import { simulate } from './simulate.ts'
import { pointsOf, sweep } from './sweep.ts'

const params = emissionParams({ epochLength: 86_400n })
const lawFields = (o: object) => Object.entries(o).filter(([, v]) => typeof v === 'bigint' || typeof v === 'number')

describe('simulate', () => {
  test('cohorts are only faster: the law sees the same totals as with one identity per provider, to the wei', () => {
    const common = {
      name: 'cohorts',
      seed: 7,
      epochs: 240,
      params,
      demand: coldStartDemand,
      attacker: washTrader({ share: 0.2, volume: 1, from: 30, until: 150, maxShare: 0.25, active: true }),
    }
    const cohort = simulate({ ...common, identities: 'cohort' })
    const single = simulate({ ...common, identities: 'provider' })
    expect(cohort.epochs.map((e) => lawFields(e.law))).toEqual(single.epochs.map((e) => lawFields(e.law)))
    expect(cohort.epochs.map((e) => [e.burned, e.supply, e.attackerRewards])).toEqual(
      single.epochs.map((e) => [e.burned, e.supply, e.attackerRewards]),
    )
    expect(cohort.finalState).toEqual(single.finalState)
    expect(cohort.attacker.rewards).toBeGreaterThan(0n)
  })

  test('is deterministic for a seed and differs across seeds', () => {
    const run = (seed: number) => simulate({ name: 'seeded', seed, epochs: 120, params, demand: coldStartDemand })
    const [a, b, c] = [run(3), run(3), run(4)]
    expect(a.epochs.map((e) => e.law.fees)).toEqual(b.epochs.map((e) => e.law.fees))
    expect(a.epochs.map((e) => e.law.fees)).not.toEqual(c.epochs.map((e) => e.law.fees))
  })

  test('supply is genesis + emitted − burned, and every epoch burns at least the minimum take per small job', () => {
    const result = simulate({ name: 'books', seed: 2, epochs: 60, params, demand: () => 2000 })
    let supply = 100_000_000n * TSR
    for (const e of result.epochs) {
      expect(e.burned).toBeGreaterThan(0n)
      supply += e.law.usageEmission + e.law.availabilityEmission - e.burned
      // Failed challenges slash a little collateral, half of it burned.
      expect(supply - e.supply).toBeGreaterThanOrEqual(0n)
      expect(supply - e.supply).toBeLessThan(TSR)
      supply = e.supply
    }
  })
})

describe('market', () => {
  test('the cheapest asks fill demand and the marginal ask accepted is the price (quoteJob’s rule)', () => {
    const asks = new Float64Array([1, 2, 3, 4])
    const cumulative = new Float64Array([10, 20, 30, 40])
    // Demand 25 at any price ≤ 3, none above: three providers, the third partly.
    expect(clearSlice(asks, cumulative, 4, (p) => (p <= 3 ? 25 : 0))).toEqual({ full: 2, partial: 5, price: 3 })
    // Demand beyond every ask's capacity: all full, the dearest ask sets the price.
    expect(clearSlice(asks, cumulative, 4, () => 100)).toEqual({ full: 4, partial: 0, price: 4 })
    // Demand of 15 at ask 2 but only 5 at ask 3: the first two fill what the second's ask draws.
    expect(clearSlice(asks, cumulative, 4, (p) => (p <= 2 ? 15 : 5))).toEqual({ full: 1, partial: 5, price: 2 })
  })

  test('a small job burns the minimum take, a batch τ of its fee, both as takeOf says', () => {
    const provider = drawProvider({ slot: 0, key: 0, gpuClass: 2, model: defaultMarketModel, next: () => 0.5, joined: 0 })
    const h100 = defaultGpuClasses[2] as (typeof defaultGpuClasses)[number]
    const takes = takesOf(provider, h100, defaultMarketRules)
    const ask = BigInt(provider.askGwei) * GWEI
    expect(takes.small).toBe(takeOf(ask * BigInt(h100.smallJobUnits), defaultMarketRules))
    expect(takes.small).toBe(defaultMarketRules.minTake)
    expect(takes.batch).toBe(takeOf(ask * BigInt(h100.batchJobUnits), defaultMarketRules))
    // A minimum take above τ of a batch: requesters batch until it doesn't bind, so a batch still burns τ of its fee.
    const dear = { ...defaultMarketRules, minTake: 100n * TSR }
    expect(takesOf(provider, h100, dear).batch).toBe((ask * BigInt(h100.batchJobUnits) * dear.takeBps) / 10_000n)
  })
})

describe('exploration-only variants', () => {
  test('T_B = 540 is the contract’s constant and the law itself; another T_B decays B_k at its own rate', () => {
    expect(baseDecayOf(540)).toBe(BASE_DECAY_WAD)
    expect(lawWithBaseDecay(BASE_DECAY_WAD)).toBe(stepEpoch)
    const fast = simulate({ name: 'T_B 270', seed: 1, epochs: 271, params, demand: () => 2000, law: lawWithBaseDecay(baseDecayOf(270)) })
    const half = fast.epochs[270]?.law.baseAvailability ?? 0n
    const b0 = params.baseAvailability0
    expect(half * 2n > b0 - b0 / 1000n && half * 2n < b0 + b0 / 1000n).toBe(true)
  })

  test('sweep runs every point of the grid and skips κ ≥ τ', () => {
    expect(pointsOf({ kappa: [0.03, 0.05], maxStepUp: [0.01, 0.02, 0.05] })).toHaveLength(6)
    const results = sweep({ kappa: [0.05, 0.1], scenarios: ['S10'] })
    expect(results.map((r) => [r.point.kappa, r.passed, r.skipped])).toEqual([
      [0.05, true, undefined],
      [0.1, false, 'κ ≥ τ'],
    ])
    expect(results[0]?.scenarios.S10?.failed).toEqual([])
  })
})
