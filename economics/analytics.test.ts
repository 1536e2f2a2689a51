import { describe, expect, test } from 'vitest'
import { TSR, WAD } from '../protocol/units.ts'
import {
  type AnalyticsEpoch,
  annualise,
  concentration,
  coverageTarget,
  type EmissionsPoint,
  emissionsReport,
  emissionsWindow,
  epochAt,
  firstEpochNeeded,
  knownProviderRewards,
  limiterName,
  limiterNames,
  ratio,
  repeatRate,
  rollUp,
  utilisationBand,
  wadToNumber,
} from './analytics.ts'
import { Limiter } from './emissionLaw.ts'

const clock = { genesis: 1_700_000_000n, epochLength: 30n }
const params = {
  market: { takeBps: 1000n },
  emission: { kappa: (5n * WAD) / 100n, targetUtilisation: (65n * WAD) / 100n, deadband: (5n * WAD) / 100n },
}
const pct = (n: bigint) => (n * WAD) / 100n

/** An epoch with round numbers; its supply ends 60 TSR above 1,000,000 (180 minted, 100 + 20 burned). */
const row = (n: bigint, over: Partial<AnalyticsEpoch> = {}): AnalyticsEpoch => ({
  epoch: n,
  fees: 1000n * TSR,
  units: 40n,
  compute: 40n,
  attested: 160n,
  utilisation: pct(25n),
  feeEma: 600n * TSR,
  utilisationEma: pct(65n),
  phi: pct(50n),
  baseAvailability: 10_000n * TSR,
  usageEmission: 50n * TSR,
  availabilityEmission: 150n * TSR,
  forfeited: 7n * TSR,
  cap: 20_000n * TSR,
  limiter: 'STEP_UP',
  takeBurned: 100n * TSR,
  otherBurned: 20n * TSR,
  minted: 180n * TSR,
  supply: 1_000_060n * TSR,
  jobsCompleted: 3,
  jobsFailed: 1,
  payerFees: new Map([
    ['a', 600n * TSR],
    ['b', 300n * TSR],
    ['c', 100n * TSR],
  ]),
  providerFees: new Map([
    ['p', 800n * TSR],
    ['q', 200n * TSR],
  ]),
  providerRewards: new Map([
    ['p', 150n * TSR],
    ['q', 50n * TSR],
  ]),
  attestedCapacity: new Map([
    ['p', 1000n],
    ['q', 0n],
  ]),
  challengesRecorded: 4,
  challengesPassed: 3,
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
    expect(wadToNumber(pct(65n))).toBe(0.65)
    expect(wadToNumber(WAD / 3n)).toBe(0.333333333333)
    expect(wadToNumber(2n * WAD)).toBe(2)
  })
})

describe('coverageTarget', () => {
  test('is τ/κ: a 10 % take over a 0.05 usage reward covers emission twice', () => {
    expect(coverageTarget(params)).toBe(2)
    expect(coverageTarget({ market: { takeBps: 500n }, emission: { kappa: WAD / 10n } })).toBe(0.5)
    expect(coverageTarget({ market: { takeBps: 1000n }, emission: { kappa: 0n } })).toBeNull()
  })
})

describe('epochAt', () => {
  test('floors onto the epoch clock, before genesis too', () => {
    expect(epochAt(clock, 1_700_000_000n)).toBe(0n)
    expect(epochAt(clock, 1_700_000_029n)).toBe(0n)
    expect(epochAt(clock, 1_700_000_030n)).toBe(1n)
    expect(epochAt(clock, 1_699_999_999n)).toBe(-1n)
    expect(epochAt(clock, 1_699_999_970n)).toBe(-1n)
    expect(epochAt(clock, 1_699_999_969n)).toBe(-2n)
  })
})

describe('concentration', () => {
  test('Herfindahl Σ(a_i/Σa)² and the top ten’s share', () => {
    expect(concentration([5n])).toEqual({ herfindahl: 1, top10Share: 1 })
    expect(concentration([1n, 1n, 1n, 1n])).toEqual({ herfindahl: 0.25, top10Share: 1 })
    // 3/4 and 1/4: 9/16 + 1/16
    expect(concentration([1n, 3n])).toEqual({ herfindahl: 0.625, top10Share: 1 })
    // twelve equal: 12/144; the ten largest hold 10 of 12
    expect(concentration(Array.from({ length: 12 }, () => 7n * TSR))).toEqual({ herfindahl: 0.083333333333, top10Share: 0.833333333333 })
    // the ten largest whichever order they come in: 1..11, the smallest (1) left out of 66
    expect(concentration([5n, 1n, 11n, 2n, 10n, 3n, 9n, 4n, 8n, 6n, 7n]).top10Share).toBe(0.984848484848)
  })

  test('is null over nothing, or over zeros', () => {
    expect(concentration([])).toEqual({ herfindahl: null, top10Share: null })
    expect(concentration([0n, 0n])).toEqual({ herfindahl: null, top10Share: null })
  })
})

describe('repeatRate', () => {
  test('the share of this window’s payers that paid in the previous one; null without payers', () => {
    expect(repeatRate(new Set(['a', 'b']), new Set(['b', 'c', 'd']))).toBe(0.333333333333)
    expect(repeatRate(new Set(['a', 'b']), new Set(['a', 'b']))).toBe(1)
    expect(repeatRate(new Set(), new Set(['a']))).toBe(0)
    expect(repeatRate(new Set(['a']), new Set())).toBeNull()
  })
})

describe('utilisationBand', () => {
  test('BELOW only where the contract lowers φ (Ū + db < U*), ABOVE past U* + db', () => {
    expect(utilisationBand(pct(59n), params.emission)).toBe('BELOW')
    expect(utilisationBand(pct(60n), params.emission)).toBe('WITHIN')
    expect(utilisationBand(pct(70n), params.emission)).toBe('WITHIN')
    expect(utilisationBand(pct(70n) + 1n, params.emission)).toBe('ABOVE')
  })
})

describe('knownProviderRewards', () => {
  test('usage = F_i × usageEmission / F_k, plus the availability claimed', () => {
    const rewards = knownProviderRewards({
      verifiedFees: new Map([
        ['a', 600n * TSR],
        ['b', 400n * TSR],
      ]),
      fees: 1000n * TSR,
      usageEmission: 50n * TSR,
      claimedAvailability: new Map([
        ['b', 30n * TSR],
        ['c', 10n * TSR],
      ]),
    })
    // a: 600/1000 × 50; b: 400/1000 × 50 + 30; c: no verified fees, claimed 10
    expect(rewards).toEqual(
      new Map([
        ['a', 30n * TSR],
        ['b', 50n * TSR],
        ['c', 10n * TSR],
      ]),
    )
    // Rounded down per provider, as each claim is.
    expect(
      knownProviderRewards({ verifiedFees: new Map([['a', 1n]]), fees: 3n, usageEmission: 2n, claimedAvailability: new Map() }),
    ).toEqual(new Map([['a', 0n]]))
    expect(
      knownProviderRewards({ verifiedFees: new Map([['a', 5n]]), fees: 0n, usageEmission: 0n, claimedAvailability: new Map() }),
    ).toEqual(new Map([['a', 0n]]))
  })
})

describe('emissionsWindow', () => {
  test('one epoch: every metric on hand-worked numbers', () => {
    expect(emissionsWindow({ rows: [row(3n)], from: 3n, to: 3n, clock, params })).toEqual({
      epoch: 3n,
      fromEpoch: 3n,
      epochs: 1,
      startTime: 1_700_000_090n, // genesis + 3 × 30
      endTime: 1_700_000_120n,
      grossFees: 1000n * TSR, // 600 + 300 + 100 by payer
      verifiedFees: 1000n * TSR,
      supplySideFees: 1000n * TSR, // 800 + 200 by provider
      protocolRevenue: 100n * TSR,
      usageEmission: 50n * TSR,
      availabilityEmission: 150n * TSR,
      forfeited: 7n * TSR,
      emitted: 200n * TSR,
      earnings: -100n * TSR, // 100 burned − 200 emitted
      coverageRatio: 0.5, // 100 / 200
      coverageTargetRatio: 2,
      subsidyShareRatio: 0.166666666666, // 200 / (200 + 1000)
      minted: 180n * TSR,
      burnedTotal: 120n * TSR, // take 100 + other 20
      netIssuance: 60n * TSR,
      netIssuanceRatio: 0.00006, // 60 / 1,000,000
      startSupply: 1_000_000n * TSR, // 1,000,060 − 60
      endSupply: 1_000_060n * TSR,
      units: 40n,
      feeEma: 600n * TSR,
      utilisationRatio: 0.25,
      utilisationEmaRatio: 0.65,
      targetUtilisationRatio: 0.65,
      deadbandRatio: 0.05,
      utilisationBand: 'WITHIN',
      phiRatio: 0.5,
      baseAvailability: 10_000n * TSR,
      budget: 207n * TSR, // 50 + 150 + 7
      cap: 20_000n * TSR,
      capUsedRatio: 0.01035, // 207 / 20,000
      limiter: 'STEP_UP',
      capBoundEpochs: 0,
      stepUpBoundEpochs: 1,
      stepDownBoundEpochs: 0,
      providersPaid: 2,
      attestedCapacity: 1000n, // p passed at 1000/h, q failed
      challengesRecorded: 4,
      challengesPassed: 3,
      challengePassRatio: 0.75,
      emissionHerfindahlRatio: 0.625, // 150 and 50 of 200: 0.75² + 0.25²
      emissionTop10ShareRatio: 1,
      uniquePayers: 3,
      payerHerfindahlRatio: 0.46, // 0.6² + 0.3² + 0.1²
      payerTop10ShareRatio: 1,
      repeatPayerRatio: 0, // nobody paid in epoch 2
      jobsCompleted: 3,
      jobsFailed: 1,
    })
  })

  test('an idle epoch: nothing paid, nothing emitted; its ratios are null, not 0', () => {
    const idle = row(0n, {
      usageEmission: 0n,
      availabilityEmission: 0n,
      forfeited: 0n,
      cap: 0n,
      fees: 0n,
      takeBurned: 0n,
      otherBurned: 0n,
      minted: 0n,
      supply: 0n,
      payerFees: new Map(),
      providerFees: new Map(),
      providerRewards: new Map(),
      attestedCapacity: new Map(),
      challengesRecorded: 0,
      challengesPassed: 0,
    })
    expect(emissionsWindow({ rows: [idle], from: 0n, to: 0n, clock, params })).toMatchObject({
      emitted: 0n,
      earnings: 0n,
      coverageRatio: null,
      subsidyShareRatio: null,
      netIssuanceRatio: null,
      capUsedRatio: null,
      challengePassRatio: null,
      emissionHerfindahlRatio: null,
      emissionTop10ShareRatio: null,
      payerHerfindahlRatio: null,
      uniquePayers: 0,
      repeatPayerRatio: null,
      attestedCapacity: 0n,
    })
    expect(emissionsWindow({ rows: [idle], from: 1n, to: 5n, clock, params })).toBeNull()
  })
})

describe('rollUp', () => {
  // Epochs 0–3 and 5 (4 never closed). Payers: 0 {a}, 1 {b}, 2 {a, c}, 3 {c}, 5 {d}. Usage emission 10·(e + 1),
  // U_k = e/10, φ = 1 − e/100. Provider p passes at 500/h in 1 and fails in 2; q passes at 300/h in 2, 400/h in 3.
  const payers = (...names: string[]) => new Map(names.map((n) => [n, 10n * TSR]))
  const rows = [
    row(0n, { payerFees: payers('a'), attestedCapacity: new Map() }),
    row(1n, { payerFees: payers('b'), attestedCapacity: new Map([['p', 500n]]) }),
    row(2n, {
      payerFees: payers('a', 'c'),
      limiter: 'CAP',
      attestedCapacity: new Map([
        ['p', 0n],
        ['q', 300n],
      ]),
    }),
    row(3n, { payerFees: payers('c'), attestedCapacity: new Map([['q', 400n]]) }),
    row(5n, { payerFees: payers('d'), limiter: 'STEP_DOWN', attestedCapacity: new Map() }),
  ].map((r) => ({ ...r, usageEmission: 10n * (r.epoch + 1n) * TSR, utilisation: (r.epoch * WAD) / 10n, phi: WAD - pct(r.epoch) }))

  test('each point sums the window ending at it, reads levels at its end, and compares payers with the window before', () => {
    const points = rollUp({ rows, windowEpochs: 2n, from: 0n, to: 5n, clock, params })
    const view = (p: EmissionsPoint) => ({
      window: [p.fromEpoch, p.epoch, p.epochs],
      usage: p.usageEmission / TSR,
      u: p.utilisationRatio,
      phi: p.phiRatio,
      payers: p.uniquePayers,
      repeat: p.repeatPayerRatio,
      attested: p.attestedCapacity,
      bound: [p.capBoundEpochs, p.stepUpBoundEpochs, p.stepDownBoundEpochs],
      limiter: p.limiter,
    })
    expect(points.map(view)).toEqual([
      // [−1, 0] starts at genesis; before it nobody paid
      { window: [0n, 0n, 1], usage: 10n, u: 0, phi: 1, payers: 1, repeat: 0, attested: 0n, bound: [0, 1, 0], limiter: 'STEP_UP' },
      // [0, 1]: a, b against [−2, −1]
      { window: [0n, 1n, 2], usage: 30n, u: 0.05, phi: 0.99, payers: 2, repeat: 0, attested: 500n, bound: [0, 2, 0], limiter: 'STEP_UP' },
      // [1, 2]: b, a, c against [−1, 0] = {a}: 1/3; p failed after passing, so only q's 300
      {
        window: [1n, 2n, 2],
        usage: 50n,
        u: 0.15,
        phi: 0.98,
        payers: 3,
        repeat: 0.333333333333,
        attested: 300n,
        bound: [1, 1, 0],
        limiter: 'CAP',
      },
      // [2, 3]: a, c against [0, 1] = {a, b}: 1/2; q's latest is 400
      { window: [2n, 3n, 2], usage: 70n, u: 0.25, phi: 0.97, payers: 2, repeat: 0.5, attested: 400n, bound: [1, 1, 0], limiter: 'STEP_UP' },
      // no point for 4, which never closed; [4, 5] holds 5 alone, against [2, 3] = {a, c}
      { window: [4n, 5n, 1], usage: 60n, u: 0.5, phi: 0.95, payers: 1, repeat: 0, attested: 0n, bound: [0, 0, 1], limiter: 'STEP_DOWN' },
    ])
    expect(points.map((p) => [p.startTime - clock.genesis, p.endTime - clock.genesis])).toEqual([
      [0n, 30n],
      [0n, 60n],
      [30n, 90n],
      [60n, 120n],
      [120n, 180n],
    ])
  })

  test('merges per-account amounts over the window before measuring concentration', () => {
    const a = row(7n, {
      providerRewards: new Map([
        ['p', 30n],
        ['q', 10n],
      ]),
      payerFees: new Map([['x', 3n]]),
    })
    const b = row(8n, {
      providerRewards: new Map([
        ['q', 20n],
        ['r', 20n],
      ]),
      payerFees: new Map([
        ['x', 3n],
        ['y', 2n],
      ]),
    })
    const [, point] = rollUp({ rows: [a, b], windowEpochs: 2n, from: 7n, to: 8n, clock, params })
    // p 30, q 30, r 20 of 80: (9 + 9 + 4) / 64; x 6, y 2 of 8: (36 + 4) / 64
    expect(point).toMatchObject({ emissionHerfindahlRatio: 0.34375, payerHerfindahlRatio: 0.625, uniquePayers: 2, grossFees: 8n })
  })
})

describe('firstEpochNeeded', () => {
  test('reaches back over a rolling window and the one before it, or over a range as long as the totals', () => {
    expect(firstEpochNeeded({ from: 500n, to: 509n, windowEpochs: 30n })).toBe(441n) // 2·30 − 1 back
    expect(firstEpochNeeded({ from: 500n, to: 599n, windowEpochs: 30n })).toBe(400n) // the range's 100 back
    expect(firstEpochNeeded({ from: 500n, to: 500n, windowEpochs: 1n })).toBe(499n)
    expect(firstEpochNeeded({ from: 10n, to: 500n, windowEpochs: 7n })).toBe(0n)
  })
})

describe('annualise', () => {
  test('scales flows by 365 / epochs toward zero; net issuance becomes a yearly rate of the start supply', () => {
    const [point] = rollUp({ rows: [row(0n), row(1n)], windowEpochs: 2n, from: 1n, to: 1n, clock, params })
    const annual = annualise({ ...point, earnings: -3n, netIssuance: 2n * TSR, startSupply: 1000n * TSR })
    expect(annual).toEqual({
      epochs: 2,
      grossFees: 365_000n * TSR, // 2000 × 365 / 2
      verifiedFees: 365_000n * TSR,
      supplySideFees: 365_000n * TSR,
      protocolRevenue: 36_500n * TSR,
      usageEmission: 18_250n * TSR,
      availabilityEmission: 54_750n * TSR,
      forfeited: 2_555n * TSR,
      emitted: 73_000n * TSR,
      earnings: -547n, // −1095 / 2, toward zero
      minted: 65_700n * TSR,
      burnedTotal: 43_800n * TSR,
      netIssuance: 365n * TSR,
      netIssuanceRatio: 0.365, // 365 / 1000
    })
  })
})

describe('emissionsReport', () => {
  test('sorts the rows, rolls up points over [from, to], and sums [from, to] as totals', () => {
    const rows = [row(4n), row(2n), row(3n), row(1n)]
    const report = emissionsReport({ rows, from: 3n, to: 4n, interval: 'D7', clock, params })
    expect(report).toMatchObject({ from: 3n, to: 4n, interval: 'D7', windowEpochs: 7n, coverageTargetRatio: 2 })
    expect(report).toMatchObject({ targetUtilisationRatio: 0.65, deadbandRatio: 0.05 })
    // D7 at 3 holds 1–3, at 4 holds 1–4.
    expect(report.points.map((p) => [p.epoch, p.epochs, p.emitted / TSR])).toEqual([
      [3n, 3, 600n],
      [4n, 4, 800n],
    ])
    // The totals are [3, 4] and compare payers with [1, 2]: the same a, b, c.
    expect(report.totals).toMatchObject({ fromEpoch: 3n, epoch: 4n, epochs: 2, emitted: 400n * TSR, repeatPayerRatio: 1 })
    expect(report.annualised).toMatchObject({ epochs: 2, emitted: 73_000n * TSR })
    expect(report.totals).toEqual(emissionsWindow({ rows: [row(1n), row(2n), row(3n), row(4n)], from: 3n, to: 4n, clock, params }))
    const daily = emissionsReport({ rows, from: 3n, to: 4n, interval: 'EPOCH', clock, params })
    expect(daily.points.map((p) => [p.epoch, p.epochs])).toEqual([
      [3n, 1],
      [4n, 1],
    ])
  })

  test('without a closed epoch in the range there are no points, totals or annualised figures', () => {
    const report = emissionsReport({ rows: [row(1n)], from: 5n, to: 9n, interval: 'EPOCH', clock, params })
    expect(report).toMatchObject({ points: [], totals: null, annualised: null, coverageTargetRatio: 2 })
  })
})
