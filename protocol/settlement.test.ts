import type { Address, Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import { collateralOf, escrowOf, majorityOf, settleJob, settleNoShows, takeOf } from './settlement.ts'

const A = '0x00000000000000000000000000000000000000a1' as Address
const B = '0x00000000000000000000000000000000000000b2' as Address
const C = '0x00000000000000000000000000000000000000c3' as Address
const x = `0x${'11'.repeat(32)}` as Hex
const y = `0x${'22'.repeat(32)}` as Hex
const params = { takeBps: 1000n, collateralBps: 10_000n, slashBeneficiaryBps: 5000n }

describe('escrow, collateral and take', () => {
  test('round down as the contract does', () => {
    // value = 3 × 7 × 2 = 42; take = 42 × 1000 / 10000 = 4.2 → 4.
    expect(escrowOf({ maxPricePerUnit: 3n, units: 7n, redundancy: 2 }, params)).toBe(46n)
    expect(takeOf(9n, params)).toBe(0n)
    expect(takeOf(10n, params)).toBe(1n)
    // ask 3 × 7 units × 2500 / 10000 = 5.25 → 5.
    expect(collateralOf({ ask: 3n, units: 7n }, { collateralBps: 2500n })).toBe(5n)
  })

  test('collateral follows the ask, whatever the requester offers', () => {
    // A requester offering 10^30 per unit can't raise what a provider asking 3 risks.
    const job = { maxPricePerUnit: 10n ** 30n, units: 7n }
    expect(collateralOf({ ask: 3n, units: job.units }, { collateralBps: 2500n })).toBe(5n)
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
    expect(majorityOf([x, x])).toEqual({ fingerprint: x, count: 2 })
    expect(majorityOf([x, y])).toBeUndefined()
    expect(majorityOf([x, null])).toBeUndefined()
    expect(majorityOf([y, x, x])).toEqual({ fingerprint: x, count: 2 })
    expect(majorityOf([x, x, y, y])).toBeUndefined()
    expect(majorityOf([null, null, null])).toBeUndefined()
    expect(majorityOf([])).toBeUndefined()
  })

  test('compares fingerprints without regard to case', () => {
    expect(majorityOf([x, x.toUpperCase().replace('0X', '0x') as Hex, null])?.count).toBe(2)
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
        { provider: A, fee: 100n, slashShare: 25n },
        { provider: C, fee: 300n, slashShare: 25n },
      ],
      slashed: [{ provider: B, amount: 101n, toBeneficiary: 50n, burned: 51n }],
      unlocked: [A, C],
      fees: 400n,
      take: 40n,
      refund: 1100n - 400n - 40n + 0n,
    })
  })

  test('the remainder of an uneven split goes to the refund', () => {
    const s = settleJob({ escrow: 1000n, units: 1n, slots: threeSlots([1n, 1n, 1n], 7n, [x, x, null]), params })
    // slash 7 → 3 to the pool; share 3 / 2 = 1 each, remainder 1 to the requester.
    expect(s.paid.map((p) => p.slashShare)).toEqual([1n, 1n])
    expect(s.refund).toBe(1000n - 2n - 0n + 1n)
  })

  test('no majority fails the job: non-revealers burned whole, revealers released, exactly the escrow back', () => {
    const s = settleJob({ escrow: 500n, units: 5n, slots: threeSlots([1n, 1n, 1n], 40n, [x, y, null]), params })
    expect(s).toEqual({
      status: 'FAILED',
      fingerprint: null,
      paid: [],
      slashed: [{ provider: C, amount: 40n, toBeneficiary: 0n, burned: 40n }],
      unlocked: [A, B],
      fees: 0n,
      take: 0n,
      refund: 500n,
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
      refund: 0n,
    })
    expect(settleNoShows({ escrow: 200n, slots, reopened: false }).refund).toBe(200n)
  })
})
