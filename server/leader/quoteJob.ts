import type { MarketParams } from '../../protocol/deployment.ts'
import { jobSpecProblems } from '../../protocol/jobSpec.ts'
import { collateralOf, escrowOf, isOptimistic, takeOf } from '../../protocol/settlement.ts'
import { BPS } from '../../protocol/units.ts'
import { UserInputError } from '../errors.ts'
import { isEligible, type JobSpec, type MatchParams, type MatchProvider } from './matchJobs.ts'

/** Why a job would (not) be matched now. */
export type QuoteReason = 'OK' | 'MAX_PRICE_TOO_LOW' | 'TOO_FEW_LIVE_PROVIDERS' | 'NOT_ENOUGH_PROVIDERS'

export type QuoteJobParameters = {
  spec: JobSpec
  /** Every indexed provider, with liveness and load (`findCandidateProviders`). */
  providers: readonly MatchProvider[]
  /** Pass `deployment.params`. */
  params: MatchParams & {
    market: Pick<MarketParams, 'takeBps' | 'minTake' | 'spotCheckBps' | 'auditThreshold' | 'commitWindow' | 'revealWindow'>
  }
  /** The jobs waiting now and how long jobs recently took (`findJobQueue`); without it no quote has an ETA. */
  queue?: JobQueue
}

/** The live queue a quote's ETA is judged by. */
export type JobQueue = {
  /** Jobs waiting for providers now (OPEN or DISPUTED, deadline ahead). */
  waitingJobs: number
  /** Σ of their rounds' k: the slots the matcher fills before a job submitted now. */
  waitingSlots: number
  /** Median seconds from submission to settlement of the jobs completed lately; null when none has. */
  recentJobSeconds: number | null
}

/** What a job would cost in one verification mode, and whether the matcher could place it now. */
export type ModeQuote = {
  /** OK when enough live, eligible providers (`providers`) ask ≤ maxPricePerUnit; otherwise the first requirement that fails. */
  reason: QuoteReason
  /**
   * Distinct providers the job needs: k when redundant; when optimistic 1, or 2 when it is worth the audit threshold
   * or more (`maxPricePerUnit × units ≥ auditThreshold`: always audited, so a second, fresh provider runs it too).
   */
  providers: number
  /** Live providers that could take a slot (their collateral judged for this mode). */
  eligibleProviders: number
  /** The highest ask among the providers the matcher would pick; null unless OK. */
  pricePerUnit: bigint | null
  /** Σ ask × units over the picked providers (paid on completion); null unless OK. */
  fees: bigint | null
  /** What `submitJob` escrows: max × units × k plus the protocol take (k = 2 for an optimistic job). */
  escrow: bigint
  /**
   * What the requester pays when the job completes: the fees plus the take, and for an optimistic job below the audit
   * threshold the spot-check premium (`spotCheckBps` of the fees, into the audit fund; an audited job's second
   * execution is reimbursed from that fund). Null unless OK.
   */
  cost: bigint | null
  /**
   * The most one slot can lock: the collateral of an ask of `maxPricePerUnit` (× `optimisticCollateralBps` when
   * optimistic). Each provider locks its own ask × units × bps / BPS, so none locks more.
   */
  collateralPerSlot: bigint
  /**
   * Seconds until the job would settle, judged by the live queue (see {@link etaSecondsOf}); null unless OK, or when
   * the queue is unknown.
   */
  etaSeconds: number | null
}

/** The quote for the spec's own mode, and for each mode on its own (the redundant one with k = 2 for an optimistic spec). */
export type QuoteJobReturnType = ModeQuote & { redundant: ModeQuote; optimistic: ModeQuote }

/** More than any ask: judges every requirement but the price. */
const anyPrice = 2n ** 255n

/**
 * The spec's terms as JobMarket's `submitJob` takes them (`jobSpecProblems`): the redundancy its mode allows, positive
 * units and price, an escrow that fits uint256, uint32 requirements, at most 16 regions. Throws a
 * {@link UserInputError} naming every field it refuses (`spec.redundancy must be 2 to 16 …`).
 */
export function validateSpec(spec: JobSpec): void {
  const problems = jobSpecProblems({ ...spec, minVramMiB: spec.minVramMib })
  if (problems.length === 0) return
  throw new UserInputError(problems.map((p) => `spec.${p.message}`).join('; '), {
    details: `fields ${problems.map((p) => `spec.${p.field}`).join(', ')}`,
  })
}

/**
 * Seconds until a job placed now would settle: the matcher fills the slots waiting ahead of it first, `eligible`
 * providers at a time, so it waits `⌊waitingSlots / eligible⌋` rounds and then runs its own; a round takes what jobs
 * took lately from submission to settlement, or, before any completed, the commit and reveal windows (the most a round
 * may take once assigned). Every queued slot is counted against these providers, though some may want others: an
 * upper-leaning estimate, not a promise.
 */
export function etaSecondsOf(parameters: {
  eligible: number
  queue: JobQueue
  market: Pick<MarketParams, 'commitWindow' | 'revealWindow'>
}): number | null {
  const { eligible, queue, market } = parameters
  if (eligible <= 0) return null
  const roundSeconds = queue.recentJobSeconds ?? Number(market.commitWindow + market.revealWindow)
  return roundSeconds * (1 + Math.floor(queue.waitingSlots / eligible))
}

/**
 * What a job with `spec` costs in one mode and whether the matcher could place it now, judged as `matchJobs` judges
 * it: the `needed` cheapest eligible providers. When fewer are eligible the reason names what is missing: the price
 * (enough would fit at any price), liveness (enough would fit were they live), or providers altogether.
 */
function quoteMode(spec: JobSpec, parameters: Omit<QuoteJobParameters, 'spec'>): ModeQuote {
  const { providers, params, queue } = parameters
  const optimistic = isOptimistic(spec.verification)
  const audited = optimistic && spec.maxPricePerUnit * spec.units >= params.market.auditThreshold
  const needed = optimistic ? (audited ? 2 : 1) : spec.redundancy
  const fits = (provider: MatchProvider, job: JobSpec = spec) => isEligible(provider, job, { params, reserved: 0n })
  const countFitting = (fit: (provider: MatchProvider) => boolean) => providers.filter(fit).length
  const eligible = providers
    .filter((p) => fits(p))
    .sort((a, b) => (a.pricePerUnit < b.pricePerUnit ? -1 : a.pricePerUnit > b.pricePerUnit ? 1 : 0))
  let reason: QuoteReason = 'OK'
  if (eligible.length < needed) {
    if (countFitting((p) => fits(p, { ...spec, maxPricePerUnit: anyPrice })) >= needed) reason = 'MAX_PRICE_TOO_LOW'
    else if (countFitting((p) => fits({ ...p, live: true })) >= needed) reason = 'TOO_FEW_LIVE_PROVIDERS'
    else reason = 'NOT_ENOUGH_PROVIDERS'
  }
  const picked = eligible.length >= needed ? eligible.slice(0, needed) : []
  const fees = picked.length ? picked.reduce((sum, p) => sum + p.pricePerUnit * spec.units, 0n) : null
  const premium = fees !== null && optimistic && !audited ? (fees * params.market.spotCheckBps) / BPS : 0n
  return {
    reason,
    providers: needed,
    eligibleProviders: eligible.length,
    pricePerUnit: picked.at(-1)?.pricePerUnit ?? null,
    fees,
    escrow: escrowOf(spec, params.market),
    cost: fees === null ? null : fees + takeOf(fees, params.market) + premium,
    collateralPerSlot: collateralOf({ ask: spec.maxPricePerUnit, units: spec.units, verification: spec.verification }, params.market),
    etaSeconds: reason === 'OK' && queue ? etaSecondsOf({ eligible: eligible.length, queue, market: params.market }) : null,
  }
}

/**
 * What a job with `spec` would cost and whether the matcher could place it now, in the spec's own verification mode
 * and in both: redundant with the spec's k (2 when the spec is optimistic), and optimistic (one provider, an audit's
 * second execution escrowed), each with an ETA when `queue` is given. Pure. Throws a {@link UserInputError} naming the
 * fields of a spec JobMarket would refuse (a redundancy its mode doesn't allow, no units, no price, …).
 */
export function quoteJob(parameters: QuoteJobParameters): QuoteJobReturnType {
  const { spec } = parameters
  validateSpec(spec)
  const optimistic = isOptimistic(spec.verification)
  const redundant = quoteMode({ ...spec, verification: 'REDUNDANT', redundancy: optimistic ? 2 : spec.redundancy }, parameters)
  const asOptimistic = quoteMode({ ...spec, verification: 'OPTIMISTIC', redundancy: 1 }, parameters)
  return { ...(optimistic ? asOptimistic : redundant), redundant, optimistic: asOptimistic }
}
