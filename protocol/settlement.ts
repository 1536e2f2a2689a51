import type { Address, Hex } from 'viem'
import type { MarketParams } from './deployment.ts'
import type { SlotOutcome, VerificationName } from './enums.ts'
import { failureReasonOf, isDeterministicFailure } from './jobInputs.ts'
import { BPS } from './units.ts'

/**
 * JobMarket's money maths in bigint, rounding exactly as the contract does (every division floors). Parity-tested
 * against the contract in `settlement.parity.test.ts`; every part computes escrow, collateral, take and majority
 * here, never on its own.
 */

/** What a job spec contributes to escrow and collateral; `verification` 1 (or `OPTIMISTIC`) is optimistic, else redundant. */
export type JobSize = { maxPricePerUnit: bigint; units: bigint; redundancy: number | bigint; verification?: Verification }

/** A job's verification mode, as the contract's enum value or by name. */
export type Verification = number | bigint | VerificationName

/** Whether `verification` names the Optimistic mode (k = 1, spot checks and challenges). */
export function isOptimistic(verification: Verification | undefined): boolean {
  return verification === 'OPTIMISTIC' || verification === 1 || verification === 1n
}

/** A slot's value: what the requester offers one provider, `maxPricePerUnit × units`. */
function slotValueOf(job: Pick<JobSize, 'maxPricePerUnit' | 'units'>): bigint {
  return job.maxPricePerUnit * job.units
}

/** The protocol take of `fees`: `fees × takeBps / BPS`. */
export function takeOf(fees: bigint, params: Pick<MarketParams, 'takeBps'>): bigint {
  return (fees * params.takeBps) / BPS
}

/**
 * What `submitJob` pulls: `value + take(value)` with `value = maxPricePerUnit × units × k` (JobMarket `quoteEscrow`);
 * an optimistic job escrows as k = 2 does, the second execution held for an audit and refunded when none happens.
 */
export function escrowOf(job: JobSize, params: Pick<MarketParams, 'takeBps'>): bigint {
  const value = slotValueOf(job) * (isOptimistic(job.verification) ? 2n : BigInt(job.redundancy))
  return value + takeOf(value, params)
}

/**
 * Collateral a provider asking `ask` per unit locks for a slot: `ask × units × collateralBps / BPS`, with
 * `optimisticCollateralBps` in an optimistic job (JobMarket `collateralOf`). It follows the provider's own ask, so a
 * requester's max price can't inflate what a slash takes.
 */
export function collateralOf(
  slot: { ask: bigint; units: bigint; verification?: Verification },
  params: Pick<MarketParams, 'collateralBps' | 'optimisticCollateralBps'>,
): bigint {
  const bps = isOptimistic(slot.verification) ? params.optimisticCollateralBps : params.collateralBps
  return (slot.ask * slot.units * bps) / BPS
}

/** The part of a slashed `amount` credited to the honest side; the rest is burned. */
function beneficiaryShareOf(amount: bigint, params: Pick<MarketParams, 'slashBeneficiaryBps'>): bigint {
  return (amount * params.slashBeneficiaryBps) / BPS
}

/**
 * What was proven about a job's differing results before `finalize` (JobMarket `proveDisagreement`,
 * `requestOpening`): the pairs of fingerprints proven to disagree under the tolerance, and the providers that left an
 * opening request unanswered. Omitted, every two different results count as proven to disagree: what a keeper that
 * holds every output achieves, and what the fingerprint alone said before tolerance.
 */
export type Proofs = { disagreements: readonly (readonly [Hex, Hex])[]; unanswered: readonly Address[] }

/** A revealed fingerprint, with who revealed it; null when it didn't reveal. */
export type Reveal = { provider?: Address; fingerprint: Hex | null }

const lower = (h: string) => h.toLowerCase()

/**
 * JobMarket `_agrees`: two reveals agree when their fingerprints are equal (a failure code only matches itself), or
 * when both are results that were not proven to disagree and whose providers answered any opening request.
 */
function agreesWith(a: Reveal, b: Reveal, proofs?: Proofs): boolean {
  if (a.fingerprint === null || b.fingerprint === null) return false
  const [fa, fb] = [lower(a.fingerprint), lower(b.fingerprint)]
  if (fa === fb) return true
  if (!proofs || failureReasonOf(a.fingerprint) || failureReasonOf(b.fingerprint)) return false
  const proven = proofs.disagreements.some(([x, y]) => (lower(x) === fa && lower(y) === fb) || (lower(x) === fb && lower(y) === fa))
  const silent = (r: Reveal) => r.provider !== undefined && proofs.unanswered.some((u) => lower(u) === lower(r.provider as string))
  return !proven && !silent(a) && !silent(b)
}

/**
 * The first reveal that more than half of the k reveals (itself included) agree with (`agreesWith`), its fingerprint
 * and how many agree; undefined without a strict majority. A plain fingerprint list (null: no reveal) is judged by
 * fingerprint equality alone.
 */
export function majorityOf(
  reveals: readonly (Reveal | Hex | null)[],
  proofs?: Proofs,
): { fingerprint: Hex; count: number; index: number } | undefined {
  const all = reveals.map((r): Reveal => (r === null || typeof r === 'string' ? { fingerprint: r } : r))
  for (const [index, reveal] of all.entries()) {
    if (reveal.fingerprint === null) continue
    const count = all.filter((other) => agreesWith(reveal, other, proofs)).length
    if (2 * count > all.length) return { fingerprint: reveal.fingerprint, count, index }
  }
  return undefined
}

/** One slot of a job being settled, in slot order. */
export type SettlementSlot = {
  provider: Address
  /** The provider's ask per unit, recorded at assignment. */
  ask: bigint
  collateral: bigint
  /** The revealed fingerprint (a result, or a failure code: protocol/jobInputs.ts), null when the provider didn't reveal. */
  fingerprint: Hex | null
}

export type Slashing = { provider: Address; amount: bigint; toBeneficiary: bigint; burned: bigint }

/** What `finalize` does to a job's money, event for event. */
export type Settlement = {
  /** DISPUTED: no first-round majority; the job waits for a tie-break and nothing moves yet. */
  status: 'COMPLETED' | 'FAILED_INVALID' | 'FAILED' | 'DISPUTED'
  /** The winning fingerprint, null without a majority (`JobFinalized`). */
  fingerprint: Hex | null
  /** `ProviderPaid` per winner of the deciding round: ask × units, or the failure fee when FAILED_INVALID. */
  paid: { provider: Address; fee: bigint }[]
  /** `SlashShareCredited` per winner of either round, when the share is above zero. */
  shares: { provider: Address; amount: bigint }[]
  /** `Slashed` per loser of either round (dissenter, non-revealer), its whole collateral; first round first. */
  slashed: Slashing[]
  /** Providers whose collateral is unlocked without fault, first round first. */
  unlocked: Address[]
  /** `SlotSettled` per provider, first round first. */
  outcomes: { provider: Address; outcome: SlotOutcome }[]
  /** Σ fees paid. */
  fees: bigint
  /** The take burned (`FeeBurned`); 0 unless COMPLETED or FAILED_INVALID. */
  take: bigint
  /** Credited back to the requester (`Refunded`); 0 when DISPUTED. */
  refund: bigint
}

function slashing(provider: Address, amount: bigint, params: Pick<MarketParams, 'slashBeneficiaryBps'>): Slashing {
  const toBeneficiary = beneficiaryShareOf(amount, params)
  return { provider, amount, toBeneficiary, burned: amount - toBeneficiary }
}

/** A slash with no honest side to pay (a no-show, a non-revealer of a failed job): the whole amount is burned. */
function burning(provider: Address, amount: bigint): Slashing {
  return { provider, amount, toBeneficiary: 0n, burned: amount }
}

/** No verdict: revealers released, non-revealers' collateral burned whole (JobMarket `_releaseUndecided`). */
function releaseUndecided(slots: readonly SettlementSlot[]): Pick<Settlement, 'slashed' | 'unlocked' | 'outcomes'> {
  return {
    slashed: slots.filter((s) => s.fingerprint === null).map((s) => burning(s.provider, s.collateral)),
    unlocked: slots.filter((s) => s.fingerprint !== null).map((s) => s.provider),
    outcomes: slots.map((s) => ({ provider: s.provider, outcome: s.fingerprint === null ? 'NO_REVEAL' : 'RELEASED' })),
  }
}

/**
 * Settles a Revealed job (or a Committed one past its reveal deadline) as `JobMarket.finalize` does, by the strict
 * majority of the revealed fingerprints of the deciding round `slots`, a failure code counting like any result:
 * - a result wins: COMPLETED, each winner paid its ask × units; a deterministic failure wins: FAILED_INVALID, each
 *   winner paid `failureFeeBps` of that. Either way every loser of both rounds (the tie-break's `prior` round too) is
 *   slashed, the slashes' honest part split equally among the winners of both rounds, the take burned and the rest
 *   (with the share's remainder) refunded;
 * - a resource failure wins, or no majority in a tie-break or past the deadline: FAILED, exactly the escrow refunded,
 *   revealers released and non-revealers' collateral burned whole, so the requester never gets more than it deposited;
 * - no majority in a first round with a reveal and the deadline ahead: DISPUTED, nothing moves.
 * Two different results agree unless `proofs` says otherwise (`agreesWith`); without `proofs`, they never do.
 */
export function settleJob(parameters: {
  escrow: bigint
  units: bigint
  slots: readonly SettlementSlot[]
  /** The first round when `slots` is a tie-break; empty otherwise. */
  prior?: readonly SettlementSlot[]
  /** Whether the job's deadline has passed at finalize (a first round without majority then fails instead). */
  deadlinePassed?: boolean
  /** What was proven in the proof windows of both rounds; see {@link Proofs}. */
  proofs?: Proofs
  params: Pick<MarketParams, 'takeBps' | 'slashBeneficiaryBps' | 'failureFeeBps'>
}): Settlement {
  const { escrow, units, slots, params } = parameters
  const prior = parameters.prior ?? []
  const { proofs } = parameters
  const majority = majorityOf(slots, proofs)
  const failure = majority ? failureReasonOf(majority.fingerprint) : undefined
  const nothing = { paid: [], shares: [], fees: 0n, take: 0n }
  if (!majority && prior.length === 0 && !parameters.deadlinePassed && slots.some((s) => s.fingerprint !== null))
    return { status: 'DISPUTED', fingerprint: null, ...nothing, slashed: [], unlocked: [], outcomes: [], refund: 0n }
  if (!majority || (failure && !isDeterministicFailure(failure))) {
    const first = releaseUndecided(prior)
    const deciding = releaseUndecided(slots)
    return {
      status: 'FAILED',
      fingerprint: majority?.fingerprint ?? null,
      ...nothing,
      slashed: [...first.slashed, ...deciding.slashed],
      unlocked: [...first.unlocked, ...deciding.unlocked],
      outcomes: [...first.outcomes, ...deciding.outcomes],
      refund: escrow,
    }
  }
  const winner = majority.fingerprint
  const winning = slots[majority.index]
  const agrees = (s: SettlementSlot) => agreesWith(winning, s, proofs)
  const rounds = [...prior, ...slots]
  const winners = rounds.filter(agrees)
  const slashed = rounds.filter((s) => !agrees(s)).map((s) => slashing(s.provider, s.collateral, params))
  const slashPool = slashed.reduce((sum, s) => sum + s.toBeneficiary, 0n)
  const share = slashPool / BigInt(winners.length)
  const feeOf = (s: SettlementSlot) => (failure ? (s.ask * units * params.failureFeeBps) / BPS : s.ask * units)
  const deciding = slots.filter(agrees)
  const paid = deciding.map((s) => ({ provider: s.provider, fee: feeOf(s) }))
  const fees = paid.reduce((sum, p) => sum + p.fee, 0n)
  const take = takeOf(fees, params)
  const outcomeOf = (s: SettlementSlot): SlotOutcome => (agrees(s) ? 'AGREED' : s.fingerprint === null ? 'NO_REVEAL' : 'DISSENTED')
  return {
    status: failure ? 'FAILED_INVALID' : 'COMPLETED',
    fingerprint: winner,
    paid,
    // JobMarket credits the deciding round's winners first, then the first round's.
    shares:
      share > 0n
        ? [...deciding, ...prior.filter(agrees)].map((s) => ({
            provider: s.provider,
            amount: share,
          }))
        : [],
    slashed,
    unlocked: winners.map((s) => s.provider),
    outcomes: rounds.map((s) => ({ provider: s.provider, outcome: outcomeOf(s) })),
    fees,
    take,
    refund: escrow - fees - take + (slashPool - share * BigInt(winners.length)),
  }
}

/**
 * What `expireAssignment` does: providers that didn't commit are no-shows, their collateral burned whole (none of it
 * to the requester, who must not profit from an assignment it can make fail); committed ones are released; when the
 * job's deadline passed (`reopened` false) the escrow is refunded and a dispute's first round (`prior`) released as
 * no verdict releases it.
 */
export function settleNoShows(parameters: {
  escrow: bigint
  slots: readonly { provider: Address; collateral: bigint; committed: boolean }[]
  prior?: readonly SettlementSlot[]
  reopened: boolean
}): Pick<Settlement, 'slashed' | 'unlocked' | 'outcomes' | 'refund'> {
  const { slots, reopened } = parameters
  const first = releaseUndecided(reopened ? [] : (parameters.prior ?? []))
  const committed = slots.filter((s) => s.committed)
  return {
    slashed: [...slots.filter((s) => !s.committed).map((s) => burning(s.provider, s.collateral)), ...first.slashed],
    unlocked: [...committed.map((s) => s.provider), ...first.unlocked],
    outcomes: [...committed.map((s) => ({ provider: s.provider, outcome: 'RELEASED' as const })), ...first.outcomes],
    refund: reopened ? 0n : parameters.escrow,
  }
}

/** What `expire` does to a job waiting for providers past its deadline: the escrow back, a dispute's first round released. */
export function settleExpiry(parameters: {
  escrow: bigint
  prior?: readonly SettlementSlot[]
}): Pick<Settlement, 'slashed' | 'unlocked' | 'outcomes' | 'refund'> {
  return { ...releaseUndecided(parameters.prior ?? []), refund: parameters.escrow }
}
