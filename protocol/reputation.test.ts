import { describe, expect, test } from 'vitest'
import {
  challengeOutcome,
  type ReputationOutcome,
  reputationDecay,
  reputationHalfLifeSeconds,
  reputationOf,
  reputationWeights,
  type SettledOutcome,
} from './reputation.ts'

const day = 24 * 60 * 60
const fresh = (outcome: ReputationOutcome, count = 1): SettledOutcome[] => Array.from({ length: count }, () => ({ outcome, ageSeconds: 0 }))
const scoreOf = (outcomes: SettledOutcome[]) => reputationOf({ outcomes }).score

describe('reputationDecay', () => {
  test('weighs 1 when fresh, ½ at the half-life, ¼ at two', () => {
    expect(reputationDecay({ ageSeconds: 0 })).toBe(1)
    expect(reputationDecay({ ageSeconds: reputationHalfLifeSeconds })).toBe(0.5)
    expect(reputationDecay({ ageSeconds: 2 * reputationHalfLifeSeconds })).toBe(0.25)
    expect(reputationHalfLifeSeconds).toBe(7 * day)
    expect(reputationDecay({ ageSeconds: 60, halfLifeSeconds: 60 })).toBe(0.5)
  })

  test('a settlement stamped after the clock counts as fresh, never more', () => {
    expect(reputationDecay({ ageSeconds: -3600 })).toBe(1)
  })
})

describe('reputationOf', () => {
  test('a newcomer starts at the prior, 0.5', () => {
    expect(reputationOf({ outcomes: [] })).toEqual({ score: 0.5, good: 0, bad: 0 })
    expect(reputationOf({ outcomes: [], prior: { good: 3, bad: 1 } }).score).toBe(0.75)
  })

  test('one agreed job: (1 + 2) / (1 + 4); one dissent: 2 / (2 + 4)', () => {
    expect(scoreOf(fresh('AGREED'))).toBeCloseTo(0.6, 12)
    expect(scoreOf(fresh('DISSENTED'))).toBeCloseTo(1 / 3, 12)
  })

  test('an outcome at the half-life counts as half a fresh one', () => {
    const old = reputationOf({ outcomes: [{ outcome: 'AGREED', ageSeconds: 7 * day }] })
    const halfFresh = reputationOf({ outcomes: fresh('AGREED'), prior: { good: 4, bad: 4 } })
    expect(old.good).toBe(0.5)
    // (0.5 + 2) / (0.5 + 4) = (1 + 4) / (1 + 8)
    expect(old.score).toBeCloseTo(halfFresh.score, 12)
  })

  test('a slash hurts more than a release, which changes nothing; a dissent hurts more than a no-show', () => {
    const history = fresh('AGREED', 5)
    const base = scoreOf(history)
    expect(scoreOf([...history, ...fresh('RELEASED')])).toBe(base)
    for (const slashed of ['DISSENTED', 'NO_REVEAL', 'NO_SHOW'] as const)
      expect(scoreOf([...history, ...fresh(slashed)])).toBeLessThan(base)
    expect(scoreOf([...history, ...fresh('DISSENTED')])).toBeLessThan(scoreOf([...history, ...fresh('NO_SHOW')]))
  })

  test('monotonic: every agreed job raises the score, every fault lowers it, and recent faults weigh more than old ones', () => {
    let outcomes: SettledOutcome[] = []
    for (let i = 0; i < 50; i++) {
      const next = [...outcomes, ...fresh('AGREED')]
      expect(scoreOf(next)).toBeGreaterThan(scoreOf(outcomes))
      outcomes = next
    }
    expect(scoreOf(outcomes)).toBeLessThan(1)
    for (let i = 0; i < 50; i++) {
      const next = [...outcomes, ...fresh('NO_SHOW')]
      expect(scoreOf(next)).toBeLessThan(scoreOf(outcomes))
      outcomes = next
    }
    expect(scoreOf(outcomes)).toBeGreaterThan(0)
    const recentFault = scoreOf([...fresh('AGREED', 3), { outcome: 'DISSENTED', ageSeconds: day }])
    const oldFault = scoreOf([...fresh('AGREED', 3), { outcome: 'DISSENTED', ageSeconds: 30 * day }])
    expect(recentFault).toBeLessThan(oldFault)
  })

  test('a reformed provider climbs back as its faults age', () => {
    const faults: SettledOutcome[] = Array.from({ length: 10 }, () => ({ outcome: 'NO_SHOW', ageSeconds: 60 * day }))
    expect(scoreOf([...faults, ...fresh('AGREED', 3)])).toBeGreaterThan(0.6)
    expect(scoreOf(faults.map((f) => ({ ...f, ageSeconds: 0 })))).toBeLessThan(0.2)
  })

  test('stays in [0, 1] for every outcome, at any count', () => {
    for (const outcome of Object.keys(reputationWeights) as ReputationOutcome[]) {
      const score = scoreOf(fresh(outcome, 10_000))
      expect(score).toBeGreaterThanOrEqual(0)
      expect(score).toBeLessThanOrEqual(1)
    }
  })

  test('a passed challenge counts as an agreement, a failed one as a dissent, decaying alike', () => {
    const history = fresh('AGREED', 3)
    expect(challengeOutcome(true)).toBe('CHALLENGE_PASSED')
    expect(challengeOutcome(false)).toBe('CHALLENGE_FAILED')
    expect(scoreOf(fresh('CHALLENGE_PASSED'))).toBeCloseTo(0.6, 12)
    expect(scoreOf(fresh('CHALLENGE_FAILED'))).toBeCloseTo(1 / 3, 12)
    expect(scoreOf([...history, ...fresh('CHALLENGE_PASSED')])).toBe(scoreOf([...history, ...fresh('AGREED')]))
    expect(scoreOf([...history, ...fresh('CHALLENGE_FAILED')])).toBe(scoreOf([...history, ...fresh('DISSENTED')]))
    expect(scoreOf([...history, ...fresh('CHALLENGE_FAILED')])).toBeLessThan(scoreOf(history))
    const old = reputationOf({ outcomes: [{ outcome: 'CHALLENGE_FAILED', ageSeconds: 7 * day }] })
    expect(old).toMatchObject({ good: 0, bad: 1 })
  })
})
