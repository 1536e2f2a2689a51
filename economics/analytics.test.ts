import { describe, expect, test } from 'vitest'
import { TSR, WAD } from '../protocol/units.ts'
import {
  type ClosedEpoch,
  coverageTarget,
  emissionsPoint,
  emissionsTotals,
  emissionsVsUsage,
  limiterName,
  limiterNames,
  ratio,
  wadToNumber,
} from './analytics.ts'
import { Limiter } from './emissionLaw.ts'

const clock = { genesis: 1_700_000_000n, epochLength: 30n }

const epoch = (n: bigint, over: Partial<ClosedEpoch> = {}): ClosedEpoch => ({
  epoch: n,
  fees: 1000n * TSR,
  units: 40n,
  utilisation: WAD / 4n,
  feeEma: 600n * TSR,
  utilisationEma: (65n * WAD) / 100n,
  phi: WAD / 2n,
  baseAvailability: 10_000n * TSR,
  usageEmission: 50n * TSR,
  availabilityEmission: 150n * TSR,
  forfeited: 7n * TSR,
  cap: 20_000n * TSR,
  limiter: 'STEP_UP',
  ...over,
})

describe('limiter names', () => {
  test('name each Limiter value, in value order, and call anything else NONE', () => {
    expect(Object.values(limiterNames)).toEqual(['NONE', 'STEP_UP', 'STEP_DOWN', 'CAP'])
    expect(limiterName(Limiter.StepDown)).toBe('STEP_DOWN')
    expect(limiterName(Limiter.Cap)).toBe('CAP')
    expect(limiterName(9)).toBe('NONE')
  })
})

describe('ratio and wadToNumber', () => {
  test('divide to 12 decimal places, rounding toward zero; null over zero', () => {
    expect(ratio(3n, 2n)).toBe(1.5)
    expect(ratio(1n, 3n)).toBe(0.333333333333)
    expect(ratio(2n, 3n)).toBe(0.666666666666)
    expect(ratio(0n, 5n)).toBe(0)
    expect(ratio(5n, 0n)).toBeNull()
    expect(ratio(-1n, 4n)).toBe(-0.25)
  })

  test('read a WAD as a fraction', () => {
    expect(wadToNumber((65n * WAD) / 100n)).toBe(0.65)
    expect(wadToNumber(WAD / 3n)).toBe(0.333333333333)
    expect(wadToNumber(2n * WAD)).toBe(2)
  })
})

describe('coverageTarget', () => {
  test('is τ/κ: a 10 % take over a 0.05 usage reward covers emission twice', () => {
    expect(coverageTarget({ market: { takeBps: 1000n }, emission: { kappa: (5n * WAD) / 100n } })).toBe(2)
    expect(coverageTarget({ market: { takeBps: 500n }, emission: { kappa: WAD / 10n } })).toBe(0.5)
    expect(coverageTarget({ market: { takeBps: 1000n }, emission: { kappa: 0n } })).toBeNull()
  })
})

describe('emissionsPoint', () => {
  test("puts the controller's report beside the usage of the epoch's window", () => {
    const usage = { burned: 100n * TSR, jobFees: 990n * TSR, jobsCompleted: 3, jobsFailed: 1, payers: 2 }
    expect(emissionsPoint({ epoch: epoch(3n), usage, clock })).toEqual({
      epoch: 3n,
      startTime: 1_700_000_090n, // genesis + 3 × 30
      endTime: 1_700_000_120n,
      fees: 1000n * TSR,
      jobFees: 990n * TSR,
      jobsCompleted: 3,
      jobsFailed: 1,
      uniquePayers: 2,
      units: 40n,
      burned: 100n * TSR,
      usageEmission: 50n * TSR,
      availabilityEmission: 150n * TSR,
      emitted: 200n * TSR, // 50 + 150
      forfeited: 7n * TSR,
      earnings: -100n * TSR, // 100 burned − 200 emitted
      coverage: 0.5, // 100 / 200
      subsidyShare: 0.166666666666, // 200 / (200 + 1000)
      feeEma: 600n * TSR,
      utilisation: 0.25,
      utilisationEma: 0.65,
      phi: 0.5,
      baseAvailability: 10_000n * TSR,
      cap: 20_000n * TSR,
      limiter: 'STEP_UP',
    })
  })

  test('an epoch without usage burned nothing; without emission its ratios are null', () => {
    const idle = emissionsPoint({ epoch: epoch(0n), clock })
    expect(idle).toMatchObject({ startTime: 1_700_000_000n, burned: 0n, jobFees: 0n, jobsCompleted: 0, uniquePayers: 0 })
    expect(idle.earnings).toBe(-200n * TSR)
    expect(idle.coverage).toBe(0)
    const nothing = emissionsPoint({ epoch: epoch(1n, { fees: 0n, usageEmission: 0n, availabilityEmission: 0n }), clock })
    expect(nothing.emitted).toBe(0n)
    expect(nothing.coverage).toBeNull()
    expect(nothing.subsidyShare).toBeNull()
  })
})

describe('emissionsTotals and emissionsVsUsage', () => {
  test('sum the points and take the ratios of the sums', () => {
    const usage = new Map([
      [4n, { burned: 100n * TSR, jobFees: 1000n * TSR, jobsCompleted: 1, jobsFailed: 0, payers: 1 }],
      [5n, { burned: 300n * TSR, jobFees: 3000n * TSR, jobsCompleted: 2, jobsFailed: 0, payers: 1 }],
    ])
    const epochs = [epoch(4n), epoch(5n, { fees: 3000n * TSR, usageEmission: 150n * TSR, availabilityEmission: 250n * TSR })]
    const report = emissionsVsUsage({
      epochs,
      usage,
      clock,
      params: { market: { takeBps: 1000n }, emission: { kappa: (5n * WAD) / 100n } },
    })
    expect(report.points.map((p) => [p.epoch, p.emitted, p.coverage])).toEqual([
      [4n, 200n * TSR, 0.5],
      [5n, 400n * TSR, 0.75],
    ])
    // fees 1000 + 3000, burned 100 + 300, emitted 200 + 400: coverage 400/600, subsidy 600/(600 + 4000)
    expect(report.totals).toEqual({
      fees: 4000n * TSR,
      burned: 400n * TSR,
      emitted: 600n * TSR,
      forfeited: 14n * TSR,
      coverage: 0.666666666666,
      subsidyShare: 0.130434782608,
    })
    expect(report.coverageTarget).toBe(2)
    expect(emissionsTotals([])).toEqual({ fees: 0n, burned: 0n, emitted: 0n, forfeited: 0n, coverage: null, subsidyShare: null })
  })
})
