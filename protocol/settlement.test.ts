import type { Address, Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import { failureFingerprintOf } from './jobInputs.ts'
import { collateralOf, escrowOf, majorityOf, settleExpiry, settleJob, settleNoShows, takeOf } from './settlement.ts'

const A = '0x00000000000000000000000000000000000000a1' as Address
const B = '0x00000000000000000000000000000000000000b2' as Address
const C = '0x00000000000000000000000000000000000000c3' as Address
const x = `0x${'11'.repeat(32)}` as Hex
const y = `0x${'22'.repeat(32)}` as Hex
const D = '0x00000000000000000000000000000000000000d4' as Address
const E = '0x00000000000000000000000000000000000000e5' as Address
const params = { takeBps: 1000n, collateralBps: 10_000n, slashBeneficiaryBps: 5000n, failureFeeBps: 1000n }

describe('escrow, collateral and take', () => {
  test('round down as the contract does', () => {
    // value = 3 × 7 × 2 = 42; take = 42 × 1000 / 10000 = 4.2 → 4.
    expect(escrowOf({ maxPricePerUnit: 3n, units: 7n, redundancy: 2 }, params)).toBe(46n)
    expect(takeOf(9n, params)).toBe(0n)
    expect(takeOf(10n, params)).toBe(1n)
    // ask 3 × 7 units × 2500 / 10000 = 5.25 → 5.
    expect(collateralOf({ ask: 3n, units: 7n }, { collateralBps: 2500n, optimisticCollateralBps: 125_000n })).toBe(5n)
  })

  test('collateral follows the ask, whatever the requester offers', () => {
    // A requester offering 10^30 per unit can't raise what a provider asking 3 risks.
    const job = { maxPricePerUnit: 10n ** 30n, units: 7n }
    expect(collateralOf({ ask: 3n, units: job.units }, { collateralBps: 2500n, optimisticCollateralBps: 125_000n })).toBe(5n)
  })

  test('hold the whole uint256 range without overflow (bigint)', () => {
    const max = 2n ** 128n
    expect(escrowOf({ maxPricePerUnit: max, units: 2n ** 64n - 1n, redundancy: 16 }, params)).toBe(
      max * (2n ** 64n - 1n) * 16n + (max * (2n ** 64n - 1n) * 16n * 1000n) / 10_000n,
    )
  })
})

describe('majorityOf', () => {
  test('needs strictly more than half of all k slots, counting silent ones', () => {
    expect(majorityOf([x, x])).toEqual({ fingerprint: x, count: 2, index: 0 })
    expect(majorityOf([x, y])).toBeUndefined()
    expect(majorityOf([x, null])).toBeUndefined()
    expect(majorityOf([y, x, x])).toEqual({ fingerprint: x, count: 2, index: 1 })
    expect(majorityOf([x, x, y, y])).toBeUndefined()
    expect(majorityOf([null, null, null])).toBeUndefined()
    expect(majorityOf([])).toBeUndefined()
  })

  test('compares fingerprints without regard to case', () => {
    expect(majorityOf([x, x.toUpperCase().replace('0X', '0x') as Hex, null])?.count).toBe(2)
  })

  test('with proofs, different results agree unless proven to disagree or left unopened', () => {
    const z = `0x${'cc'.repeat(32)}` as Hex
    const reveals = [
      { provider: A, fingerprint: x },
      { provider: B, fingerprint: y },
      { provider: C, fingerprint: z },
    ]
    const none = { disagreements: [], unanswered: [] }
    expect(majorityOf(reveals, none)).toEqual({ fingerprint: x, count: 3, index: 0 })
    // x–y proven: x still has z; the first reveal with a majority wins.
    expect(majorityOf(reveals, { disagreements: [[y, x]], unanswered: [] })).toEqual({ fingerprint: x, count: 2, index: 0 })
    expect(
      majorityOf(reveals, {
        disagreements: [
          [x, y],
          [x, z],
        ],
        unanswered: [],
      }),
    ).toEqual({ fingerprint: y, count: 2, index: 1 })
    // C never opened its output: it agrees with nobody but itself.
    expect(majorityOf(reveals, { disagreements: [[x, y]], unanswered: [C] })).toBeUndefined()
    // A failure code only ever matches itself.
    const failure = `0x${'00'.repeat(31)}01` as Hex
    expect(majorityOf([{ fingerprint: failure }, { fingerprint: x }, { fingerprint: y }], none)).toEqual({
      fingerprint: x,
      count: 2,
      index: 1,
    })
  })
})

describe('settleJob', () => {
  /** Slots of providers A, B, C in order, each asking `ask` and locking `collateral`, revealing `reveals[i]`. */
  const threeSlots = (ask: readonly bigint[], collateral: bigint, reveals: readonly (Hex | null)[]) =>
    [A, B, C].map((provider, i) => ({ provider, ask: ask[i] ?? 0n, collateral, fingerprint: reveals[i] ?? null }))

  test('k=3 with a dissenter: pays the majority, splits the honest half of the slash, refunds the rest', () => {
    const s = settleJob({ escrow: 1100n, units: 10n, slots: threeSlots([10n, 20n, 30n], 101n, [x, y, x]), params })
    // slash B 101: 50 to the pool, 51 burned; share 50 / 2 = 25 each; fees 100 + 300; take 40.
    expect(s).toEqual({
      status: 'COMPLETED',
      fingerprint: x,
      paid: [
        { provider: A, fee: 100n },
        { provider: C, fee: 300n },
      ],
      shares: [
        { provider: A, amount: 25n },
        { provider: C, amount: 25n },
      ],
      slashed: [{ provider: B, amount: 101n, toBeneficiary: 50n, burned: 51n }],
      unlocked: [A, C],
      outcomes: [
        { provider: A, outcome: 'AGREED' },
        { provider: B, outcome: 'DISSENTED' },
        { provider: C, outcome: 'AGREED' },
      ],
      fees: 400n,
      take: 40n,
      refund: 1100n - 400n - 40n + 0n,
    })
  })

  test('the remainder of an uneven split goes to the refund', () => {
    const s = settleJob({ escrow: 1000n, units: 1n, slots: threeSlots([1n, 1n, 1n], 7n, [x, x, null]), params })
    // slash 7 → 3 to the pool; share 3 / 2 = 1 each, remainder 1 to the requester.
    expect(s.shares.map((p) => p.amount)).toEqual([1n, 1n])
    expect(s.refund).toBe(1000n - 2n - 0n + 1n)
  })

  test('no first-round majority disputes the job and moves nothing; past the deadline or without a reveal it fails', () => {
    const split = threeSlots([1n, 1n, 1n], 40n, [x, y, null])
    expect(settleJob({ escrow: 500n, units: 5n, slots: split, params })).toMatchObject({
      status: 'DISPUTED',
      paid: [],
      slashed: [],
      unlocked: [],
      refund: 0n,
    })
    const failed = {
      status: 'FAILED',
      fingerprint: null,
      paid: [],
      shares: [],
      slashed: [{ provider: C, amount: 40n, toBeneficiary: 0n, burned: 40n }],
      unlocked: [A, B],
      outcomes: [
        { provider: A, outcome: 'RELEASED' },
        { provider: B, outcome: 'RELEASED' },
        { provider: C, outcome: 'NO_REVEAL' },
      ],
      fees: 0n,
      take: 0n,
      refund: 500n,
    }
    expect(settleJob({ escrow: 500n, units: 5n, slots: split, deadlinePassed: true, params })).toEqual(failed)
    const silent = settleJob({ escrow: 500n, units: 5n, slots: threeSlots([1n, 1n, 1n], 40n, [null, null, null]), params })
    expect(silent.status).toBe('FAILED')
    expect(silent.slashed.map((s) => s.provider)).toEqual([A, B, C])
  })

  test('a deterministic failure majority ends FAILED_INVALID: the fee, the take of it, the dissenter slashed', () => {
    const invalid = failureFingerprintOf('MODEL_INVALID')
    // A and C report MODEL_INVALID, B claims a result. Fees 10% of 10 × 10 and 30 × 10: 10 + 30; take 4.
    const s = settleJob({ escrow: 1100n, units: 10n, slots: threeSlots([10n, 20n, 30n], 100n, [invalid, y, invalid]), params })
    expect(s).toMatchObject({
      status: 'FAILED_INVALID',
      fingerprint: invalid,
      paid: [
        { provider: A, fee: 10n },
        { provider: C, fee: 30n },
      ],
      shares: [
        { provider: A, amount: 25n },
        { provider: C, amount: 25n },
      ],
      slashed: [{ provider: B, amount: 100n, toBeneficiary: 50n, burned: 50n }],
      fees: 40n,
      take: 4n,
      refund: 1100n - 40n - 4n,
    })
  })

  test('a resource failure majority fails the job with nobody who spoke slashed, not even a provider that ran it', () => {
    const oom = failureFingerprintOf('OUT_OF_MEMORY')
    const s = settleJob({ escrow: 500n, units: 5n, slots: threeSlots([1n, 1n, 1n], 40n, [oom, x, oom]), params })
    expect(s).toMatchObject({ status: 'FAILED', fingerprint: oom, slashed: [], unlocked: [A, B, C], refund: 500n })
  })

  test("a tie-break's verdict settles both rounds: its winners are paid, every loser slashed, every winner shares", () => {
    // First round: A said x, B said y (no majority). Tie-break: C and D say x, E is silent.
    const prior = [
      { provider: A, ask: 10n, collateral: 100n, fingerprint: x },
      { provider: B, ask: 10n, collateral: 100n, fingerprint: y },
    ]
    const slots = [C, D, E].map((provider, i) => ({ provider, ask: 20n, collateral: 60n, fingerprint: i < 2 ? x : null }))
    const s = settleJob({ escrow: 1000n, units: 1n, slots, prior, params })
    // Slashes B 100 (50 to the pool) and E 60 (30): pool 80 over three winners A, C, D: 26 each, 2 left over.
    expect(s).toEqual({
      status: 'COMPLETED',
      fingerprint: x,
      paid: [
        { provider: C, fee: 20n },
        { provider: D, fee: 20n },
      ],
      shares: [C, D, A].map((provider) => ({ provider, amount: 26n })),
      slashed: [
        { provider: B, amount: 100n, toBeneficiary: 50n, burned: 50n },
        { provider: E, amount: 60n, toBeneficiary: 30n, burned: 30n },
      ],
      unlocked: [A, C, D],
      outcomes: [
        { provider: A, outcome: 'AGREED' },
        { provider: B, outcome: 'DISSENTED' },
        { provider: C, outcome: 'AGREED' },
        { provider: D, outcome: 'AGREED' },
        { provider: E, outcome: 'NO_REVEAL' },
      ],
      fees: 40n,
      take: 4n,
      refund: 1000n - 40n - 4n + 2n,
    })
    // A tie-break without a majority fails for good: both rounds released, exactly the escrow back.
    const split = slots.map((s, i) => ({ ...s, fingerprint: [x, y, null][i] ?? null }))
    expect(settleJob({ escrow: 1000n, units: 1n, slots: split, prior, params })).toMatchObject({
      status: 'FAILED',
      slashed: [{ provider: E, amount: 60n, toBeneficiary: 0n, burned: 60n }],
      unlocked: [A, B, C, D],
      refund: 1000n,
    })
  })
})

describe('settleNoShows', () => {
  const slots = [
    { provider: A, collateral: 30n, committed: true },
    { provider: B, collateral: 30n, committed: false },
  ]
  test('a no-show is burned whole: a reopened job refunds nothing, an expired one exactly its escrow', () => {
    expect(settleNoShows({ escrow: 200n, slots, reopened: true })).toEqual({
      slashed: [{ provider: B, amount: 30n, toBeneficiary: 0n, burned: 30n }],
      unlocked: [A],
      outcomes: [{ provider: A, outcome: 'RELEASED' }],
      refund: 0n,
    })
    expect(settleNoShows({ escrow: 200n, slots, reopened: false }).refund).toBe(200n)
  })

  test("a tie-break's no-shows past the deadline release the dispute's first round too; expire does the same", () => {
    const prior = [
      { provider: C, ask: 1n, collateral: 9n, fingerprint: x },
      { provider: D, ask: 1n, collateral: 9n, fingerprint: null },
    ]
    expect(settleNoShows({ escrow: 200n, slots, prior, reopened: false })).toEqual({
      slashed: [
        { provider: B, amount: 30n, toBeneficiary: 0n, burned: 30n },
        { provider: D, amount: 9n, toBeneficiary: 0n, burned: 9n },
      ],
      unlocked: [A, C],
      outcomes: [
        { provider: A, outcome: 'RELEASED' },
        { provider: C, outcome: 'RELEASED' },
        { provider: D, outcome: 'NO_REVEAL' },
      ],
      refund: 200n,
    })
    expect(settleNoShows({ escrow: 200n, slots, prior, reopened: true }).unlocked).toEqual([A])
    expect(settleExpiry({ escrow: 200n, prior })).toMatchObject({ unlocked: [C], refund: 200n })
  })
})
