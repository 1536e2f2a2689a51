import { type Hex, keccak256, toHex, zeroHash } from 'viem'
import { describe, expect, test } from 'vitest'
import { prng } from '../economics/prng.ts'
import { AuditKind, catchProbability, spotCheckOf } from './spotCheck.ts'

/** Block hashes as a chain would give them: unpredictable 32-byte values. */
const seedOf = (n: number): Hex => keccak256(toHex(`block ${n}`))

/** |observed − expected| in standard errors of a binomial proportion over `n` draws. */
const zScore = (hits: number, n: number, p: number) => Math.abs(hits / n - p) / Math.sqrt((p * (1 - p)) / n)

describe('spot-check selection (JobMarket spotCheckOf, mirrored)', () => {
  test('selects a fraction p of jobs within statistical bounds, for several p', () => {
    const n = 15_000
    for (const spotCheckBps of [800n, 2500n, 100n]) {
      let hits = 0
      for (let i = 0; i < n; i++) if (spotCheckOf({ seed: seedOf(i), jobId: BigInt(i % 97), spotCheckBps }) === AuditKind.Spot) hits++
      // 5 standard errors: a correct draw fails this about once in 1.7 million runs.
      expect(zScore(hits, n, Number(spotCheckBps) / 10_000), `p = ${spotCheckBps} bps, ${hits} of ${n}`).toBeLessThan(5)
    }
  })

  test('an unreadable block hash selects, 0 bps never does, 10 000 bps always does', () => {
    expect(spotCheckOf({ seed: zeroHash, jobId: 1n, spotCheckBps: 0n })).toBe(AuditKind.Spot)
    for (let i = 0; i < 1000; i++) {
      expect(spotCheckOf({ seed: seedOf(i), jobId: 7n, spotCheckBps: 0n })).toBe(AuditKind.None)
      expect(spotCheckOf({ seed: seedOf(i), jobId: 7n, spotCheckBps: 10_000n })).toBe(AuditKind.Spot)
    }
  })

  test('the same block decides different jobs independently: knowing one job’s draw says nothing of the next', () => {
    // Pairs of consecutive job ids under one seed: P(both selected) ≈ p², as for independent draws.
    const n = 12_000
    const p = 0.25
    let both = 0
    for (let i = 0; i < n; i++) {
      const a = spotCheckOf({ seed: seedOf(i), jobId: 2n * BigInt(i), spotCheckBps: 2500n }) === AuditKind.Spot
      const b = spotCheckOf({ seed: seedOf(i), jobId: 2n * BigInt(i) + 1n, spotCheckBps: 2500n }) === AuditKind.Spot
      if (a && b) both++
    }
    expect(zScore(both, n, p * p)).toBeLessThan(5)
  })

  test('a cheater faking a fraction r of its jobs is caught within n jobs with probability 1 − (1 − p·r)^n', () => {
    // Each cheater runs `jobs` optimistic jobs, faking each with probability r; a faked job is caught when spot-checked.
    const rand = prng(7)
    const cheaters = 1500
    for (const { r, jobs } of [
      { r: 1, jobs: 9 },
      { r: 0.5, jobs: 20 },
      { r: 0.1, jobs: 50 },
    ]) {
      let caught = 0
      for (let c = 0; c < cheaters; c++) {
        for (let j = 0; j < jobs; j++) {
          const fakes = rand.next() < r
          const seed = seedOf(c * 1000 + j + Math.round(r * 1e6))
          if (fakes && spotCheckOf({ seed, jobId: BigInt(j), spotCheckBps: 800n }) === AuditKind.Spot) {
            caught++
            break
          }
        }
      }
      const expected = catchProbability({ p: 0.08, r, n: jobs })
      expect(zScore(caught, cheaters, expected), `r = ${r}, ${jobs} jobs: ${caught}/${cheaters} vs ${expected.toFixed(3)}`).toBeLessThan(5)
    }
    // The numbers PROTOCOL.md quotes: an always-cheater is caught by 9 jobs half the time, by 56 with 99 %.
    expect(catchProbability({ p: 0.08, r: 1, n: 9 })).toBeGreaterThan(0.5)
    expect(catchProbability({ p: 0.08, r: 1, n: 56 })).toBeGreaterThan(0.99)
  })
})
