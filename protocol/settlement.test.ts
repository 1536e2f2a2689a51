import type { Address, Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import { failureFingerprintOf } from './jobInputs.ts'
import {
  challengeBondOf,
  collateralOf,
  escrowOf,
  expectedCostOf,
  majorityOf,
  SettlementInputError,
  settleExpiry,
  settleJob,
  settleNoShows,
  takeOf,
} from './settlement.ts'
import { AuditKind } from './spotCheck.ts'

const A = '0x00000000000000000000000000000000000000a1' as Address
const B = '0x00000000000000000000000000000000000000b2' as Address
const C = '0x00000000000000000000000000000000000000c3' as Address
const x = `0x${'11'.repeat(32)}` as Hex
const y = `0x${'22'.repeat(32)}` as Hex
const D = '0x00000000000000000000000000000000000000d4' as Address
const E = '0x00000000000000000000000000000000000000e5' as Address
const params = { takeBps: 1000n, minTake: 0n, collateralBps: 10_000n, slashBeneficiaryBps: 5000n, failureFeeBps: 1000n, spotCheckBps: 800n }

describe('escrow, collateral and take', () => {
  test('the take rounds up and is at least minTake; the rest rounds down as the contract does', () => {
    // value = 3 × 7 × 2 = 42; take = 42 × 1000 / 10000 = 4.2 → 5: every job burns.
    expect(escrowOf({ maxPricePerUnit: 3n, units: 7n, redundancy: 2 }, params)).toBe(47n)
    expect(takeOf(0n, params)).toBe(0n)
    expect(takeOf(1n, params)).toBe(1n)
    expect(takeOf(10n, params)).toBe(1n)
    expect(takeOf(11n, params)).toBe(2n)
    // With a minimum take, a tiny job burns the minimum and a large one its rounded-up share.
    const withMin = { ...params, minTake: 100n }
    expect(takeOf(0n, withMin)).toBe(100n)
    expect(takeOf(1n, withMin)).toBe(100n)
    expect(takeOf(10_001n, withMin)).toBe(1_001n)
    expect(escrowOf({ maxPricePerUnit: 1n, units: 1n, redundancy: 2 }, withMin)).toBe(102n)
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
      max * (2n ** 64n - 1n) * 16n + (max * (2n ** 64n - 1n) * 16n * 1000n + 9_999n) / 10_000n,
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
    // slash 7 → 3 to the pool; share 3 / 2 = 1 each, remainder 1 to the requester; fees 2, take 0.2 → 1.
    expect(s.shares.map((p) => p.amount)).toEqual([1n, 1n])
    expect(s.refund).toBe(1000n - 2n - 1n + 1n)
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

describe('optimistic jobs', () => {
  // maxPricePerUnit 10 × 10 units: value 100, escrowed twice with its take: 220. A is the original provider (ask 5: pays
  // 50), B the auditor (ask 8: 80), C and D the judges (ask 6 and 7: 60 and 70).
  const escrow = escrowOf({ maxPricePerUnit: 10n, units: 10n, redundancy: 1, verification: 'OPTIMISTIC' }, params)
  const units = 10n
  const slot = (provider: Address, ask: bigint, collateral: bigint, fingerprint: Hex | null) => ({ provider, ask, collateral, fingerprint })
  const original = (fingerprint: Hex | null) => slot(A, 5n, 625n, fingerprint)
  const auditor = (fingerprint: Hex | null) => slot(B, 8n, 1000n, fingerprint)
  const judges = (c: Hex | null, d: Hex | null) => [slot(C, 6n, 750n, c), slot(D, 7n, 875n, d)]
  const optimistic = { escrow, units, verification: 1, params } as const
  const spot = { kind: AuditKind.Spot, bond: 0n }
  /** A challenge bond of an odd number of wei: the provider's half rounds down, the burn takes the rest. */
  const challenged = { kind: AuditKind.Challenge, bond: 7n }
  /** What moves in and out of JobMarket's hands at a verdict balances to the wei. */
  const expectConserved = (s: ReturnType<typeof settleJob>, bond: bigint) => {
    const a = s.auditSettled ?? { premium: 0n, reimbursed: 0n, toProvider: 0n, bondBurned: 0n, bondReturned: 0n, auditFundChange: 0n }
    const pool = s.slashed.reduce((sum, x) => sum + x.toBeneficiary, 0n)
    const shares = s.shares.reduce((sum, x) => sum + x.amount, 0n)
    const into = escrow + bond + (s.status === 'FAILED' ? 0n : pool) + a.reimbursed
    expect(into).toBe(s.fees + shares + s.take + s.refund + a.premium + a.toProvider + a.bondBurned + a.bondReturned)
    expect(a.auditFundChange).toBe(a.premium - a.reimbursed)
  }

  test('escrow holds a second execution; the bond and the expected cost round down as the contract does', () => {
    expect(escrow).toBe(220n)
    expect(challengeBondOf({ maxPricePerUnit: 3n, units: 7n }, { challengeBondBps: 3333n })).toBe(6n) // 21 × 0.3333 = 6.9993
    const costParams = { ...params, auditThreshold: 1_000n }
    // Redundant: Σ fees of the k providers plus the take; optimistic: one fee, its take and the premium (50 × 8% = 4).
    expect(expectedCostOf({ maxPricePerUnit: 10n, units, fees: 150n }, costParams)).toBe(165n)
    expect(expectedCostOf({ maxPricePerUnit: 10n, units, fees: 50n, verification: 'OPTIMISTIC' }, costParams)).toBe(59n)
    // Worth the audit threshold: always audited, the requester paying both executions (500 each) and their take, no premium.
    expect(expectedCostOf({ maxPricePerUnit: 100n, units, fees: 1000n, verification: 1 }, costParams)).toBe(1100n)
  })

  test('unaudited: the provider is paid, the premium goes from the refund into the audit fund', () => {
    const s = settleJob({ ...optimistic, slots: [original(x)] })
    // fees 50, take 5, premium 50 × 800 / 10000 = 4.
    expect(s).toEqual({
      status: 'COMPLETED',
      fingerprint: x,
      paid: [{ provider: A, fee: 50n }],
      shares: [],
      slashed: [],
      unlocked: [A],
      outcomes: [{ provider: A, outcome: 'AGREED' }],
      fees: 50n,
      take: 5n,
      refund: 220n - 50n - 5n - 4n,
      auditSettled: { premium: 4n, reimbursed: 0n, toProvider: 0n, bondBurned: 0n, bondReturned: 0n, auditFundChange: 4n },
    })
    expectConserved(s, 0n)
  })

  test('spot-checked or worth the threshold: the result goes to one auditor and nothing moves', () => {
    for (const kind of [AuditKind.Spot, AuditKind.Threshold]) {
      expect(settleJob({ ...optimistic, slots: [original(x)], audit: { kind, bond: 0n } })).toEqual({
        status: 'DISPUTED',
        fingerprint: null,
        paid: [],
        shares: [],
        slashed: [],
        unlocked: [],
        outcomes: [],
        fees: 0n,
        take: 0n,
        refund: 0n,
        auditStarted: { kind, auditors: 1 },
      })
    }
  })

  test('an original that never revealed fails the job unaudited: its collateral burned whole, the escrow back', () => {
    const s = settleJob({ ...optimistic, slots: [original(null)], audit: spot })
    expect(s).toMatchObject({ status: 'FAILED', slashed: [{ provider: A, amount: 625n, burned: 625n }], refund: escrow })
    expect(s.auditSettled).toBeUndefined()
  })

  test('the auditor agrees: both are paid, the fund reimburses the audit and its take', () => {
    const s = settleJob({ ...optimistic, slots: [auditor(x)], prior: [original(x)], audit: spot, auditFund: 1_000n })
    // fees 80 + 50, take 13; the audit cost 80 + its take 8 comes back from the fund.
    expect(s).toEqual({
      status: 'COMPLETED',
      fingerprint: x,
      paid: [
        { provider: B, fee: 80n },
        { provider: A, fee: 50n },
      ],
      shares: [],
      slashed: [],
      unlocked: [A, B],
      outcomes: [
        { provider: A, outcome: 'AGREED' },
        { provider: B, outcome: 'AGREED' },
      ],
      fees: 130n,
      take: 13n,
      refund: 220n - 130n - 13n + 88n,
      auditSettled: { premium: 0n, reimbursed: 88n, toProvider: 0n, bondBurned: 0n, bondReturned: 0n, auditFundChange: -88n },
    })
    expectConserved(s, 0n)
  })

  test('a fund too small to reimburse gives what it holds; a Threshold audit is the requester’s own cost', () => {
    const low = settleJob({ ...optimistic, slots: [auditor(x)], prior: [original(x)], audit: spot, auditFund: 30n })
    expect(low.auditSettled).toMatchObject({ reimbursed: 30n, auditFundChange: -30n })
    expect(low.refund).toBe(220n - 130n - 13n + 30n)
    const empty = settleJob({ ...optimistic, slots: [auditor(x)], prior: [original(x)], audit: spot, auditFund: 0n })
    expect(empty.auditSettled?.reimbursed).toBe(0n)
    const threshold = { kind: AuditKind.Threshold, bond: 0n }
    const own = settleJob({ ...optimistic, slots: [auditor(x)], prior: [original(x)], audit: threshold, auditFund: 10n ** 30n })
    expect(own.auditSettled).toMatchObject({ premium: 0n, reimbursed: 0n, auditFundChange: 0n })
    expect(own.refund).toBe(220n - 130n - 13n)
    for (const s of [low, empty, own]) expectConserved(s, 0n)
  })

  test('a silent auditor: the original result stands, the auditor is slashed, the lost challenge bond splits 3 / 4', () => {
    const s = settleJob({ ...optimistic, slots: [auditor(null)], prior: [original(x)], audit: challenged, auditFund: 1_000n })
    // B's 1000 slashed: 500 to A, 500 burned. Nothing beyond the original's cost to reimburse.
    expect(s).toEqual({
      status: 'COMPLETED',
      fingerprint: x,
      paid: [{ provider: A, fee: 50n }],
      shares: [{ provider: A, amount: 500n }],
      slashed: [{ provider: B, amount: 1000n, toBeneficiary: 500n, burned: 500n }],
      unlocked: [A],
      outcomes: [
        { provider: A, outcome: 'AGREED' },
        { provider: B, outcome: 'NO_REVEAL' },
      ],
      fees: 50n,
      take: 5n,
      refund: 220n - 50n - 5n,
      auditSettled: { premium: 0n, reimbursed: 0n, toProvider: 3n, bondBurned: 4n, bondReturned: 0n, auditFundChange: 0n },
    })
    expectConserved(s, 7n)
  })

  test('a liar in the audit round (either side) sends both to two judges; an unproven difference still agrees', () => {
    const escalated = { status: 'DISPUTED', paid: [], slashed: [], refund: 0n, auditStarted: { kind: AuditKind.Challenge, auditors: 2 } }
    const base = { ...optimistic, audit: challenged, auditFund: 1_000n }
    expect(settleJob({ ...base, slots: [auditor(x)], prior: [original(y)] })).toMatchObject(escalated)
    expect(settleJob({ ...base, slots: [auditor(y)], prior: [original(x)] })).toMatchObject(escalated)
    expect(settleJob({ ...base, slots: [auditor(failureFingerprintOf('OUT_OF_MEMORY'))], prior: [original(x)] })).toMatchObject(escalated)
    // Under tolerance two different fingerprints agree until a disagreement is proven or an opening goes unanswered.
    const none = { disagreements: [], unanswered: [] }
    expect(settleJob({ ...base, slots: [auditor(y)], prior: [original(x)], proofs: none }).status).toBe('COMPLETED')
    expect(
      settleJob({ ...base, slots: [auditor(y)], prior: [original(x)], proofs: { disagreements: [[x, y]], unanswered: [] } }),
    ).toMatchObject(escalated)
    expect(settleJob({ ...base, slots: [auditor(y)], prior: [original(x)], proofs: { disagreements: [], unanswered: [A] } })).toMatchObject(
      escalated,
    )
  })

  test('the judges side with the original against a lying auditor: shares to all three, the original’s cost unreimbursed', () => {
    const s = settleJob({ ...optimistic, slots: judges(x, x), prior: [original(x), auditor(y)], audit: challenged, auditFund: 1_000n })
    // B's 1000 slashed: 500 over C, D, A = 166 each, 2 left. fees 60 + 70 (A gets no fee in the tie-break), take 13; the
    // fund reimburses what went beyond A's 50: 80 + 8.
    expect(s).toEqual({
      status: 'COMPLETED',
      fingerprint: x,
      paid: [
        { provider: C, fee: 60n },
        { provider: D, fee: 70n },
      ],
      shares: [C, D, A].map((provider) => ({ provider, amount: 166n })),
      slashed: [{ provider: B, amount: 1000n, toBeneficiary: 500n, burned: 500n }],
      unlocked: [A, C, D],
      outcomes: [
        { provider: A, outcome: 'AGREED' },
        { provider: B, outcome: 'DISSENTED' },
        { provider: C, outcome: 'AGREED' },
        { provider: D, outcome: 'AGREED' },
      ],
      fees: 130n,
      take: 13n,
      refund: 220n - 130n - 13n + 2n + 88n,
      auditSettled: { premium: 0n, reimbursed: 88n, toProvider: 3n, bondBurned: 4n, bondReturned: 0n, auditFundChange: -88n },
    })
    expectConserved(s, 7n)
  })

  test('a challenge won: the liar slashed, the bond returned, the requester pays nothing for the lie when the fund holds', () => {
    const s = settleJob({ ...optimistic, slots: judges(x, x), prior: [original(y), auditor(x)], audit: challenged, auditFund: 1_000n })
    // A's 625 slashed: 312 to the pool (104 each to C, D, B), 313 burned. fees 130, take 13, all reimbursed: 143.
    expect(s).toMatchObject({
      status: 'COMPLETED',
      paid: [
        { provider: C, fee: 60n },
        { provider: D, fee: 70n },
      ],
      shares: [C, D, B].map((provider) => ({ provider, amount: 104n })),
      slashed: [{ provider: A, amount: 625n, toBeneficiary: 312n, burned: 313n }],
      refund: escrow,
      auditSettled: { premium: 0n, reimbursed: 143n, toProvider: 0n, bondBurned: 0n, bondReturned: 7n, auditFundChange: -143n },
    })
    expectConserved(s, 7n)
    // With a fund of 100 the requester bears the rest of the judges' cost.
    expect(
      settleJob({ ...optimistic, slots: judges(x, x), prior: [original(y), auditor(x)], audit: challenged, auditFund: 100n }).refund,
    ).toBe(220n - 143n + 100n)
  })

  test('judges that split (or fall silent) fail the job: every deposit back, the bond too, only the silent burned', () => {
    const s = settleJob({ ...optimistic, slots: judges(x, null), prior: [original(y), auditor(x)], audit: challenged, auditFund: 1_000n })
    expect(s).toEqual({
      status: 'FAILED',
      fingerprint: null,
      paid: [],
      shares: [],
      slashed: [{ provider: D, amount: 875n, toBeneficiary: 0n, burned: 875n }],
      unlocked: [A, B, C],
      outcomes: [
        { provider: A, outcome: 'RELEASED' },
        { provider: B, outcome: 'RELEASED' },
        { provider: C, outcome: 'RELEASED' },
        { provider: D, outcome: 'NO_REVEAL' },
      ],
      fees: 0n,
      take: 0n,
      refund: escrow,
      auditSettled: { premium: 0n, reimbursed: 0n, toProvider: 0n, bondBurned: 0n, bondReturned: 7n, auditFundChange: 0n },
    })
    expectConserved(s, 7n)
    // Unchallenged, a failure moves no audit money: the contract emits no AuditSettled.
    expect(
      settleJob({ ...optimistic, slots: judges(x, y), prior: [original(y), auditor(x)], audit: spot, auditFund: 9n }).auditSettled,
    ).toBeUndefined()
  })

  test('failure codes: a deterministic one pays its fee and premium, a resource one fails the job, even audited', () => {
    const invalid = failureFingerprintOf('MODEL_INVALID')
    const oom = failureFingerprintOf('OUT_OF_MEMORY')
    // Unaudited MODEL_INVALID: fee 10% of 50 = 5, take 0.5 → 1, premium 5 × 8% = 0.
    expect(settleJob({ ...optimistic, slots: [original(invalid)] })).toMatchObject({
      status: 'FAILED_INVALID',
      paid: [{ provider: A, fee: 5n }],
      take: 1n,
      refund: 214n,
      auditSettled: { premium: 0n },
    })
    expect(settleJob({ ...optimistic, slots: [original(oom)] })).toMatchObject({
      status: 'FAILED',
      fingerprint: oom,
      unlocked: [A],
      refund: escrow,
    })
    // A challenged OUT_OF_MEMORY whose auditor never reveals: the original's report stands, so the job fails; nobody
    // judged the auditor, so its collateral burns whole and the challenger's bond comes back.
    const silent = settleJob({ ...optimistic, slots: [auditor(null)], prior: [original(oom)], audit: challenged, auditFund: 1_000n })
    expect(silent).toMatchObject({
      status: 'FAILED',
      fingerprint: oom,
      slashed: [{ provider: B, amount: 1000n, toBeneficiary: 0n, burned: 1000n }],
      unlocked: [A],
      refund: escrow,
      auditSettled: { bondReturned: 7n, toProvider: 0n },
    })
    // Both report MODEL_INVALID: both paid the fee (8 and 5), the audit's fee reimbursed, the bond split.
    const agreed = settleJob({ ...optimistic, slots: [auditor(invalid)], prior: [original(invalid)], audit: challenged, auditFund: 1_000n })
    expect(agreed).toMatchObject({
      status: 'FAILED_INVALID',
      fees: 13n,
      take: 2n, // 1.3, rounded up
      auditSettled: { reimbursed: 8n, toProvider: 3n, bondBurned: 4n, bondReturned: 0n },
    })
    expectConserved(agreed, 7n)
  })

  test('an original that won with a failure fee rounding to 0 still wins the challenge: the bond is split', () => {
    const invalid = failureFingerprintOf('INPUT_MISMATCH')
    // ask 1 × 1 unit × 10% = 0.1 → 0.
    const s = settleJob({
      ...optimistic,
      escrow: 2n,
      units: 1n,
      slots: [slot(B, 1n, 12n, invalid)],
      prior: [slot(A, 1n, 12n, invalid)],
      audit: challenged,
      auditFund: 0n,
    })
    expect(s).toMatchObject({ status: 'FAILED_INVALID', fees: 0n, auditSettled: { toProvider: 3n, bondBurned: 4n, bondReturned: 0n } })
  })

  test('inputs no contract state matches are refused', () => {
    expect(() => settleJob({ ...optimistic, slots: [original(x)], audit: challenged })).toThrow(SettlementInputError)
    expect(() => settleJob({ ...optimistic, slots: [auditor(x)], prior: [original(x)], audit: spot })).toThrow(/audit fund/)
    expect(() => settleJob({ ...optimistic, slots: judges(x, x) })).toThrow(SettlementInputError)
  })

  test('an audit that expires or loses its auditor to a no-show past the deadline returns the bond', () => {
    expect(settleExpiry({ escrow, prior: [original(x)], bond: 7n })).toEqual({
      slashed: [],
      unlocked: [A],
      outcomes: [{ provider: A, outcome: 'RELEASED' }],
      refund: escrow,
      auditSettled: { premium: 0n, reimbursed: 0n, toProvider: 0n, bondBurned: 0n, bondReturned: 7n, auditFundChange: 0n },
    })
    expect(settleExpiry({ escrow, prior: [original(x)] }).auditSettled).toBeUndefined()
    const noShow = [{ provider: B, collateral: 1000n, committed: false }]
    expect(settleNoShows({ escrow, slots: noShow, prior: [original(x)], reopened: false, bond: 7n }).auditSettled?.bondReturned).toBe(7n)
    expect(settleNoShows({ escrow, slots: noShow, prior: [original(x)], reopened: true, bond: 7n }).auditSettled).toBeUndefined()
  })
})
