import type { Address, Hex } from 'viem'
import type { MarketParams } from './deployment.ts'
import type { SlotOutcome, VerificationName } from './enums.ts'
import { TesseraError } from './errors.ts'
import { failureReasonOf, isDeterministicFailure } from './jobInputs.ts'
import { AuditKind } from './spotCheck.ts'
import { BPS } from './units.ts'

/**
 * JobMarket's money maths in bigint, rounding exactly as the contract does (every division floors). Parity-tested
 * against the contract in `settlement.parity.test.ts`; every part computes escrow, collateral, take, majority and an
 * optimistic job's audit money here, never on its own.
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

/**
 * The protocol take burned when a job settles with `fees` paid (JobMarket `takeOf`): `fees × takeBps / BPS` rounded
 * up, and at least `minTake`, so every settled job burns something.
 */
export function takeOf(fees: bigint, params: Pick<MarketParams, 'takeBps' | 'minTake'>): bigint {
  const take = (fees * params.takeBps + BPS - 1n) / BPS
  return take < params.minTake ? params.minTake : take
}

/**
 * What `submitJob` pulls: `value + take(value)` with `value = maxPricePerUnit × units × k` (JobMarket `quoteEscrow`);
 * an optimistic job escrows as k = 2 does, the second execution held for an audit and refunded when none happens.
 */
export function escrowOf(job: JobSize, params: Pick<MarketParams, 'takeBps' | 'minTake'>): bigint {
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

/** The bond `challenge` pulls: `maxPricePerUnit × units × challengeBondBps / BPS` (JobMarket `challenge`). */
export function challengeBondOf(job: Pick<JobSize, 'maxPricePerUnit' | 'units'>, params: Pick<MarketParams, 'challengeBondBps'>): bigint {
  return (slotValueOf(job) * params.challengeBondBps) / BPS
}

/**
 * What a requester can expect a job to cost, the rest of its escrow refunded, given `fees`: Σ ask × units of the
 * providers it will pay (k of them for a redundant job; one for an optimistic job, two when it is worth
 * `auditThreshold` or more and so always audited at its requester's cost). That is `fees + take(fees)`, plus for an
 * optimistic job below the threshold the premium `fees × spotCheckBps / BPS` it pays into the audit fund when not
 * audited (a spot-checked or challenged job's audit is reimbursed from the fund instead, as far as the fund holds).
 */
export function expectedCostOf(
  job: Pick<JobSize, 'maxPricePerUnit' | 'units' | 'verification'> & { fees: bigint },
  params: Pick<MarketParams, 'takeBps' | 'minTake' | 'spotCheckBps' | 'auditThreshold'>,
): bigint {
  const { fees } = job
  const premium = isOptimistic(job.verification) && slotValueOf(job) < params.auditThreshold ? (fees * params.spotCheckBps) / BPS : 0n
  return fees + takeOf(fees, params) + premium
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

/** An optimistic job's audit as `finalize` finds it (JobMarket `getAudit`): why it is audited, and the challenge bond. */
export type Audit = {
  /**
   * In the provider's own round, what `spotCheckOf` says once the deciding block is mined (None, Spot or Threshold);
   * in the audit and tie-break rounds, the kind the audit started with (Spot, Threshold or Challenge).
   */
  kind: AuditKind
  /** The challenger's bond (`challengeBondOf`), 0 unless challenged. */
  bond: bigint
}

/** An optimistic job going to fresh auditors instead of settling (`AuditStarted`). */
export type AuditStart = { kind: AuditKind; auditors: 1 | 2 }

/**
 * How an optimistic job's audit money moved beyond the usual settlement (`AuditSettled`): `premium` from the refund
 * into the audit fund, `reimbursed` from the fund into the refund, the challenge bond's `toProvider` (credited to the
 * original provider), `bondBurned` and `bondReturned` (credited to the challenger).
 */
export type AuditSettlement = {
  premium: bigint
  reimbursed: bigint
  toProvider: bigint
  bondBurned: bigint
  bondReturned: bigint
  /** What the audit fund gains: `premium − reimbursed`. */
  auditFundChange: bigint
}

/** What `finalize` does to a job's money, event for event. */
export type Settlement = {
  /**
   * DISPUTED: no first-round majority, or an optimistic job sent to auditors (`auditStarted`); the job waits for a
   * tie-break and nothing moves yet.
   */
  status: 'COMPLETED' | 'FAILED_INVALID' | 'FAILED' | 'DISPUTED'
  /** The winning fingerprint, null without a majority (`JobFinalized`). */
  fingerprint: Hex | null
  /**
   * `ProviderPaid` per winner of the deciding round: ask × units, or the failure fee when FAILED_INVALID; in an
   * optimistic job's audit round the original provider (the `prior` round) is paid too, after the auditor.
   */
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
  /** Credited back to the requester (`Refunded`), net of an optimistic job's premium and reimbursement; 0 when DISPUTED. */
  refund: bigint
  /** An optimistic job that goes to auditors instead of settling (status DISPUTED); absent otherwise. */
  auditStarted?: AuditStart
  /**
   * An optimistic job's `AuditSettled`: present whenever it settles with a verdict, and when it fails or expires with a
   * challenge bond to return; absent when the contract emits none.
   */
  auditSettled?: AuditSettlement
}

/** Something a settlement can't be computed from: the inputs describe no state the contract can be in. Not retryable. */
export class SettlementInputError extends TesseraError {
  override name = 'SettlementInputError'
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

/** A challenged job that ends without a verdict (failed, expired): the bond back to the challenger (`_returnBond`). */
function bondReturnedOf(bond: bigint | undefined): Pick<Settlement, 'auditSettled'> {
  if (!bond) return {}
  return { auditSettled: { premium: 0n, reimbursed: 0n, toProvider: 0n, bondBurned: 0n, bondReturned: bond, auditFundChange: 0n } }
}

/**
 * JobMarket `_settleAudit`: an unaudited job pays `spotCheckBps` of its fees into the fund; a Spot or Challenge audit
 * is reimbursed the fees beyond `originalCost`, with their take, as far as the fund holds (a Threshold job pays for
 * its own audit); a bond goes half (rounded down) to the original provider and the rest to the burn when the original
 * won (`originalWon`, even with a failure fee that rounds to 0), back to the challenger otherwise.
 */
function auditSettlementOf(parameters: {
  audit: Audit
  fees: bigint
  originalWon: boolean
  originalCost: bigint
  auditFund: bigint | undefined
  params: Pick<MarketParams, 'takeBps' | 'minTake' | 'spotCheckBps'>
}): AuditSettlement {
  const { audit, fees, originalWon: won, originalCost, auditFund, params } = parameters
  let premium = 0n
  let reimbursed = 0n
  if (audit.kind === AuditKind.None) {
    premium = (fees * params.spotCheckBps) / BPS
  } else if (audit.kind !== AuditKind.Threshold) {
    if (auditFund === undefined) throw new SettlementInputError('A Spot or Challenge audit needs the audit fund balance.')
    const beyond = fees > originalCost ? fees - originalCost : 0n
    // The reimbursed take is floored and has no minimum (JobMarket `_settleAudit`).
    const extra = beyond + (beyond * params.takeBps) / BPS
    reimbursed = extra < auditFund ? extra : auditFund
  }
  const toProvider = won ? audit.bond / 2n : 0n
  return {
    premium,
    reimbursed,
    toProvider,
    bondBurned: won ? audit.bond - toProvider : 0n,
    bondReturned: won ? 0n : audit.bond,
    auditFundChange: premium - reimbursed,
  }
}

/** A job that waits, nothing moved: a redundant dispute, or an optimistic job sent to `auditStarted`'s auditors. */
function waiting(auditStarted?: AuditStart): Settlement {
  const nothing = { fingerprint: null, paid: [], shares: [], slashed: [], unlocked: [], outcomes: [], fees: 0n, take: 0n, refund: 0n }
  return { status: 'DISPUTED', ...nothing, ...(auditStarted && { auditStarted }) }
}

/**
 * Whether a round's last reveal settles the job in its own transaction (JobMarket's `revealResult`), rather than a
 * later `finalize`: every slot of the round revealed, the round is not an optimistic job's own (that waits for its
 * spot check and challenge window), and no two revealed results of this round and `prior` differ (failure codes aside;
 * differing results wait for the proof window). It then settles as {@link settleJob} says.
 */
export function settlesAtReveal(parameters: {
  slots: readonly Pick<SettlementSlot, 'fingerprint'>[]
  prior?: readonly Pick<SettlementSlot, 'fingerprint'>[]
  verification?: Verification
}): boolean {
  const prior = parameters.prior ?? []
  if (parameters.slots.some((slot) => slot.fingerprint === null)) return false
  if (isOptimistic(parameters.verification) && prior.length === 0) return false
  const results = [...prior, ...parameters.slots].flatMap((slot) =>
    slot.fingerprint !== null && failureReasonOf(slot.fingerprint) === undefined ? [slot.fingerprint] : [],
  )
  return new Set(results).size <= 1
}

/**
 * Gas a reveal may need beyond a reveal's own: the settlement it runs should it turn out to be the last (another
 * provider's reveal mined ahead of it in the same block, after the estimate was made), for a round of `slots`
 * providers after a first round of `prior`. An upper bound with room to spare, checked against the contract in
 * settlement.parity.test.ts (a k = 2 settlement takes some 262,000; a tie-break's verdict over 2 + 2 slots 365,000).
 */
export function settlementGasAllowance(slots: number, prior = 0): bigint {
  return 100_000n + 100_000n * BigInt(slots + prior)
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
 *
 * An optimistic job (`verification`) is settled by its round, which `prior` tells apart as `disputed` does on chain:
 * - its provider's round (no `prior`): a revealed result that `audit.kind` selects (Spot, Threshold) goes to one auditor
 *   (DISPUTED, `auditStarted`); otherwise it settles as above, paying a premium into the audit fund;
 * - the audit round (`prior` = [original], `slots` = [auditor]): an auditor that agrees settles both, the original paid
 *   its ask × units as well; a silent auditor leaves the original's result standing and is slashed; one that disagrees
 *   sends both to two judges (DISPUTED, `auditStarted.auditors` 2);
 * - the judges' round (`prior` = [original, auditor]): a redundant tie-break, `prior` credited slash shares only.
 * A verdict then moves the audit money (`auditSettled`, `refund`): Spot and Challenge audits are reimbursed from
 * `auditFund`, capped at it; a challenge bond is returned, or split between the original provider and the burn. Inputs
 * no contract state matches (a challenged job without its original, three rounds) throw {@link SettlementInputError}.
 */
export function settleJob(parameters: {
  escrow: bigint
  units: bigint
  slots: readonly SettlementSlot[]
  /** The first round when `slots` is a tie-break (an optimistic job's original, then its auditor); empty otherwise. */
  prior?: readonly SettlementSlot[]
  /** Whether the job's deadline has passed at finalize (a first round without majority then fails instead). */
  deadlinePassed?: boolean
  /** What was proven in the proof windows of both rounds; see {@link Proofs}. */
  proofs?: Proofs
  /** The job's verification mode; Redundant when omitted. */
  verification?: Verification
  /** An optimistic job's audit; omitted, unaudited and unchallenged (the contract's zero `Audit`). */
  audit?: Audit
  /** The audit fund's balance before `finalize`; needed to settle a Spot or Challenge audit. */
  auditFund?: bigint
  params: Pick<MarketParams, 'takeBps' | 'minTake' | 'slashBeneficiaryBps' | 'failureFeeBps' | 'spotCheckBps'>
}): Settlement {
  const { escrow, units, slots, params } = parameters
  const prior = parameters.prior ?? []
  const { proofs } = parameters
  const optimistic = isOptimistic(parameters.verification)
  const audit = parameters.audit ?? { kind: AuditKind.None, bond: 0n }
  const majority = majorityOf(slots, proofs)
  let winning: SettlementSlot | undefined = majority && slots[majority.index]
  if (optimistic) {
    if (prior.length > 2 || slots.length !== (prior.length === 2 ? 2 : 1))
      throw new SettlementInputError('An optimistic job settles one provider, one auditor, or two judges.', {
        details: `${slots.length} slots, ${prior.length} prior`,
      })
    const [original] = prior
    if (prior.length === 0 && audit.kind === AuditKind.Challenge)
      throw new SettlementInputError('A challenged job is in its audit round: pass its original provider as `prior`.')
    if (prior.length === 0 && slots[0].fingerprint !== null && audit.kind !== AuditKind.None)
      return waiting({ kind: audit.kind, auditors: 1 })
    if (prior.length === 1 && original) {
      // A silent auditor can't overturn the original result; a dissenting one sends both to two judges.
      if (!winning) winning = original
      else if (!agreesWith(winning, original, proofs)) return waiting({ kind: audit.kind, auditors: 2 })
    }
  }
  const failure = winning?.fingerprint ? failureReasonOf(winning.fingerprint) : undefined
  if (!winning && prior.length === 0 && !parameters.deadlinePassed && slots.some((s) => s.fingerprint !== null)) return waiting()
  if (!winning?.fingerprint || (failure && !isDeterministicFailure(failure))) {
    const first = releaseUndecided(prior)
    const deciding = releaseUndecided(slots)
    return {
      status: 'FAILED',
      fingerprint: winning?.fingerprint ?? null,
      paid: [],
      shares: [],
      slashed: [...first.slashed, ...deciding.slashed],
      unlocked: [...first.unlocked, ...deciding.unlocked],
      outcomes: [...first.outcomes, ...deciding.outcomes],
      fees: 0n,
      take: 0n,
      refund: escrow,
      ...(optimistic && bondReturnedOf(audit.bond)),
    }
  }
  const decider = winning
  const agrees = (s: SettlementSlot) => agreesWith(decider, s, proofs)
  const rounds = [...prior, ...slots]
  const winners = rounds.filter(agrees)
  const slashed = rounds.filter((s) => !agrees(s)).map((s) => slashing(s.provider, s.collateral, params))
  const slashPool = slashed.reduce((sum, s) => sum + s.toBeneficiary, 0n)
  const share = slashPool / BigInt(winners.length)
  const feeOf = (s: SettlementSlot) => (failure ? (s.ask * units * params.failureFeeBps) / BPS : s.ask * units)
  // JobMarket pays and credits the deciding round's winners first, then the first round's; in an optimistic job's
  // audit round the original provider is paid as well, otherwise a first round only gets its slash shares.
  const deciding = slots.filter(agrees)
  const credited = [...deciding, ...prior.filter(agrees)]
  const payPrior = optimistic && prior.length === 1
  const paid = (payPrior ? credited : deciding).map((s) => ({ provider: s.provider, fee: feeOf(s) }))
  const fees = paid.reduce((sum, p) => sum + p.fee, 0n)
  // A take raised by governance after the escrow was pulled is held to what the escrow still covers.
  let take = takeOf(fees, params)
  if (take > escrow - fees) take = escrow - fees
  const outcomeOf = (s: SettlementSlot): SlotOutcome => (agrees(s) ? 'AGREED' : s.fingerprint === null ? 'NO_REVEAL' : 'DISSENTED')
  let refund = escrow - fees - take + (slashPool - share * BigInt(winners.length))
  let auditSettled: AuditSettlement | undefined
  if (optimistic) {
    const original = prior[0] ?? slots[0]
    const originalWon = agrees(original)
    const originalCost = originalWon ? feeOf(original) : 0n
    auditSettled = auditSettlementOf({ audit, fees, originalWon, originalCost, auditFund: parameters.auditFund, params })
    refund = refund + auditSettled.reimbursed - auditSettled.premium
  }
  return {
    status: failure ? 'FAILED_INVALID' : 'COMPLETED',
    fingerprint: decider.fingerprint,
    paid,
    shares: share > 0n ? credited.map((s) => ({ provider: s.provider, amount: share })) : [],
    slashed,
    unlocked: winners.map((s) => s.provider),
    outcomes: rounds.map((s) => ({ provider: s.provider, outcome: outcomeOf(s) })),
    fees,
    take,
    refund,
    ...(auditSettled && { auditSettled }),
  }
}

/**
 * What `expireAssignment` does: providers that didn't commit are no-shows, their collateral burned whole (none of it
 * to the requester, who must not profit from an assignment it can make fail); committed ones are released; when the
 * job's deadline passed (`reopened` false) the escrow is refunded, a dispute's first round (`prior`) released as
 * no verdict releases it, and a challenge `bond` returned.
 */
export function settleNoShows(parameters: {
  escrow: bigint
  slots: readonly { provider: Address; collateral: bigint; committed: boolean }[]
  prior?: readonly SettlementSlot[]
  reopened: boolean
  /** An optimistic job's challenge bond, returned when the job expires. */
  bond?: bigint
}): Pick<Settlement, 'slashed' | 'unlocked' | 'outcomes' | 'refund' | 'auditSettled'> {
  const { slots, reopened } = parameters
  const first = releaseUndecided(reopened ? [] : (parameters.prior ?? []))
  const committed = slots.filter((s) => s.committed)
  return {
    slashed: [...slots.filter((s) => !s.committed).map((s) => burning(s.provider, s.collateral)), ...first.slashed],
    unlocked: [...committed.map((s) => s.provider), ...first.unlocked],
    outcomes: [...committed.map((s) => ({ provider: s.provider, outcome: 'RELEASED' as const })), ...first.outcomes],
    refund: reopened ? 0n : parameters.escrow,
    ...(!reopened && bondReturnedOf(parameters.bond)),
  }
}

/**
 * What `expire` does to a job waiting for providers past its deadline: the escrow back, a dispute's first round
 * released, a challenge `bond` returned.
 */
export function settleExpiry(parameters: {
  escrow: bigint
  prior?: readonly SettlementSlot[]
  /** An optimistic job's challenge bond. */
  bond?: bigint
}): Pick<Settlement, 'slashed' | 'unlocked' | 'outcomes' | 'refund' | 'auditSettled'> {
  return { ...releaseUndecided(parameters.prior ?? []), refund: parameters.escrow, ...bondReturnedOf(parameters.bond) }
}
