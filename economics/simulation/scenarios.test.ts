import { describe, expect, test } from 'vitest'
import { runScenario, type ScenarioId, washGrid } from './scenarios.ts'
import type { SimulationRun } from './types.ts'

/**
 * ECONOMICS.md's pass bars, one test per scenario, seed 1. Where a bar fails under the defaults, the test runs the
 * change that makes it pass, marked TODO with the change it stands for (see README.md in this folder): the bar itself
 * is never moved.
 */

const seed = 1

/** Every bar of every run that failed, with what it measured, so a failure names the bar and the number. */
function failedBars(runs: readonly SimulationRun[]): string[] {
  return runs.flatMap((run) =>
    run.verdicts.filter((v) => !v.passed).map((v) => `${run.name}: ${v.bar}: measured ${v.measured}, threshold ${v.threshold}`),
  )
}

const run = (id: ScenarioId, overrides: Parameters<typeof runScenario>[1] = { seed }) => runScenario(id, overrides)

describe('scenarios (ECONOMICS.md pass bars)', () => {
  test('S1 cold start: coverage ≥ 0.5 by year 2 and ≥ 1 by year 3, subsidy ≤ 20 % by year 2, no daily step > 2 %', () => {
    const runs = run('S1')
    expect(failedBars(runs)).toEqual([])
    expect(runs[0]?.epochs).toHaveLength(4 * 365)
  })

  test('S2 demand −60 % in 7 days: emissions fall ≤ 36 % in 30 days, coverage ≥ 0.9 within 2 years', () => {
    expect(failedBars(run('S2'))).toEqual([])
  })

  test('S3 demand ×3 in 30 days (years 2, 3, 4): emissions rise ≤ 20 % in 30 days, coverage rises', () => {
    // With κ = 0.05 (the first default) the year-4 surge raised emissions 21.9 % in 30 days; κ = 0.03 passes.
    expect(failedBars(run('S3'))).toEqual([])
  })

  test('S5 30 % of providers exit in a day: peak utilisation ≤ 0.9, capacity back to 95 % within 180 days', () => {
    expect(failedBars(run('S5'))).toEqual([])
  })

  test('S6 wash trading, all 32 cells and the best volume: attacker ROI < 0, honest dilution ≤ 5 %', () => {
    const runs = run('S6')
    expect(runs.filter((r) => !r.name.endsWith('best volume'))).toHaveLength(
      washGrid.shares.length * washGrid.volumes.length * washGrid.regimes.length,
    )
    expect(failedBars(runs)).toEqual([])
  })

  test('S6 near the regime boundary (not in the table): a wash that tips the network into the demand regime', () => {
    // With φ_min = 0.5 (the first default), at κ·F̄ = 0.8 × B·φ in year 3, washing 10 % to 200 % of organic fees tipped
    // the law into the demand regime, where φ fell for everyone: honest rewards −5 % to −16 % in 14 of 16 cells (the
    // attacker lost too: griefing). φ_min = 1 removes the lever.
    expect(failedBars(run('S6', { seed, washRegimes: ['transition'] }))).toEqual([])
  })

  test('S7 adaptive attacker holding Ū after a crash: ROI < 0', () => {
    // φ_min = 1: φ can't fall, so holding Ū gains nothing. With φ_min = 0.5 the 1-wei-per-unit wash returned ~10,000×
    // its take: the law counts declared units up to attested capacity whatever they were paid. Counting utilisation by
    // what was paid would let φ_min fall below 1 again (README.md).
    expect(failedBars(run('S7'))).toEqual([])
  })

  test('S9 fake capacity at 50 %: a fake GPU expects less than its slash + challenge cost at every fail rate from 1 %', () => {
    const runs = run('S9')
    expect(failedBars(runs)).toEqual([])
    expect(runs[0]?.headline['break-even fail rate']).toBeLessThan(0.01)
  })
  test('S9 with the rule before (a failure slashed only the challenge job collateral): a fake GPU breaks even failing > 50 %', () => {
    // Why the protocol burns the stake at risk on a confirmed failure: at a 1-wei ask the collateral is ~0.
    const runs = run('S9', { seed, challengeSlash: 'collateral' })
    expect(runs[0]?.headline['break-even fail rate']).toBeGreaterThan(0.5)
    expect(failedBars(runs).length).toBeGreaterThan(0)
  })

  test('S10 keeper outage of 10 epochs: catch-up equals 10 single steps (±1 wei), no double mint', () => {
    const runs = run('S10')
    expect(failedBars(runs)).toEqual([])
    expect(runs[0]?.headline['epochs closed by the catch-up']).toBe(10)
  })

  test('S11 governance at its bounds every week: under the cap, the glide path holds', () => {
    expect(failedBars(run('S11'))).toEqual([])
  })
})
