import type { AssignmentOutcome } from './enums.ts'

/**
 * The verdict of a known-answer challenge job (ChallengeLedger's `ChallengeRecorded`): the provider returned the known
 * answer (PASSED) or not (FAILED).
 */
export type ChallengeOutcome = 'CHALLENGE_PASSED' | 'CHALLENGE_FAILED'

/**
 * An outcome that counts toward a provider's reputation: how one of its assignments settled, or how one of its
 * challenge jobs was recorded. A new kind of evidence joins this union with its weights in {@link reputationWeights};
 * nothing else needs to change.
 */
export type ReputationOutcome = Exclude<AssignmentOutcome, 'PENDING'> | ChallengeOutcome

/**
 * The evidence one outcome is worth before decay: `good` for work the protocol accepted, `bad` for a fault it slashed.
 * A dissent weighs double: a wrong result is the fault verification exists to catch, and it costs the requester a
 * tie-break. Not revealing and not showing up are liveness faults (the round or slot is lost, nothing is wrong).
 * RELEASED (no verdict, or a round that expired around a provider who committed) is no one's fault: neutral. A
 * challenge job's verdict weighs as its kind of job outcome does: a known answer returned is an agreement, a wrong
 * one a dissent. It counts on top of the challenge job's own assignment outcome: the ledger's verdict is against a
 * known answer, not a majority, and a provider can't tell a challenge in flight from a paid job.
 */
export const reputationWeights = {
  AGREED: { good: 1, bad: 0 },
  DISSENTED: { good: 0, bad: 2 },
  NO_REVEAL: { good: 0, bad: 1 },
  NO_SHOW: { good: 0, bad: 1 },
  RELEASED: { good: 0, bad: 0 },
  CHALLENGE_PASSED: { good: 1, bad: 0 },
  CHALLENGE_FAILED: { good: 0, bad: 2 },
} as const satisfies Record<ReputationOutcome, { good: number; bad: number }>

/** The reputation outcome of a recorded challenge. */
export function challengeOutcome(passed: boolean): ChallengeOutcome {
  return passed ? 'CHALLENGE_PASSED' : 'CHALLENGE_FAILED'
}

/** How long until an outcome counts half as much: 7 days, in seconds of chain time. */
export const reputationHalfLifeSeconds = 7 * 24 * 60 * 60

/**
 * The Beta prior every provider starts from: as if it had `good` and `bad` evidence already, so a newcomer scores
 * good / (good + bad) = 0.5 and its first outcomes move it gradually (one agreed job: 0.6, one dissent: 0.33).
 */
export const reputationPrior = { good: 2, bad: 2 } as const

/**
 * Past this many half-lives an outcome weighs under 2^-20 (one millionth): a repository may leave older ones out.
 */
export const reputationHorizonHalfLives = 20

/** What an outcome `ageSeconds` old weighs: 2^(−age / halfLife), so 1 when fresh and ½ at the half-life. */
export function reputationDecay(parameters: { ageSeconds: number; halfLifeSeconds?: number }): number {
  const halfLife = parameters.halfLifeSeconds ?? reputationHalfLifeSeconds
  // A settlement stamped after the clock it's judged by (skew between clocks) counts as fresh, never as more.
  return 2 ** (-Math.max(0, parameters.ageSeconds) / halfLife)
}

/** One settled outcome of a provider, and how long ago it settled (seconds of chain time). */
export type SettledOutcome = { outcome: ReputationOutcome; ageSeconds: number }

export type ReputationOfParameters = {
  outcomes: readonly SettledOutcome[]
  /** Default {@link reputationHalfLifeSeconds} (7 days); a devnet may want minutes. */
  halfLifeSeconds?: number
  /** Default {@link reputationPrior}. */
  prior?: { good: number; bad: number }
}

export type ReputationOfReturnType = {
  /** In [0, 1]: (good + prior.good) / (good + bad + prior.good + prior.bad); 0.5 for a newcomer. */
  score: number
  /** Σ weights.good × decay over the outcomes. */
  good: number
  /** Σ weights.bad × decay over the outcomes. */
  bad: number
}

/**
 * A provider's reputation from its settled outcomes: each counts {@link reputationWeights} of good and bad evidence,
 * decayed by age with a half-life ({@link reputationDecay}), and the sums are the posterior mean of a Beta prior:
 *
 *   score = (good + α) / (good + bad + α + β),  α = prior.good, β = prior.bad
 *
 * So a newcomer starts at α / (α + β) (0.5), every agreed job raises the score, every fault lowers it (a dissent
 * twice as much as a no-show), a release changes nothing, and old history fades: a provider that reformed climbs
 * back, one that stopped behaving falls. Pure; the same for the API and the matcher.
 */
export function reputationOf(parameters: ReputationOfParameters): ReputationOfReturnType {
  const prior = parameters.prior ?? reputationPrior
  let good = 0
  let bad = 0
  for (const { outcome, ageSeconds } of parameters.outcomes) {
    const weight = reputationDecay({ ageSeconds, halfLifeSeconds: parameters.halfLifeSeconds })
    good += reputationWeights[outcome].good * weight
    bad += reputationWeights[outcome].bad * weight
  }
  return { score: (good + prior.good) / (good + bad + prior.good + prior.bad), good, bad }
}
