import type { MarketParams } from '../../protocol/deployment.ts'
import { collateralOf, escrowOf } from '../../protocol/settlement.ts'
import { isEligible, type JobSpec, type MatchParams, type MatchProvider } from './matchJobs.ts'

/** Why a job would (not) be matched now. */
export type QuoteReason = 'OK' | 'MAX_PRICE_TOO_LOW' | 'TOO_FEW_LIVE_PROVIDERS' | 'NOT_ENOUGH_PROVIDERS'

export type QuoteJobParameters = {
  spec: JobSpec
  /** Every indexed provider, with liveness and load (`findCandidateProviders`). */
  providers: readonly MatchProvider[]
  /** Pass `deployment.params`. */
  params: MatchParams & { market: Pick<MarketParams, 'takeBps'> }
}

export type QuoteJobReturnType = {
  /** OK when at least k live, eligible providers ask ≤ maxPricePerUnit; otherwise the first requirement that fails. */
  reason: QuoteReason
  /** Live providers that could take a slot. */
  eligibleProviders: number
  /** The highest ask among the k the matcher would pick; null unless OK. */
  pricePerUnit: bigint | null
  /** Σ ask × units over the k picked providers (paid on completion); null unless OK. */
  fees: bigint | null
  /** What `submitJob` escrows: max × units × k plus the protocol take. */
  escrow: bigint
  /**
   * The most one slot can lock: the collateral of an ask of `maxPricePerUnit`. Each provider locks its own
   * ask × units × collateralBps / BPS, so none locks more.
   */
  collateralPerSlot: bigint
}

/** More than any ask: judges every requirement but the price. */
const anyPrice = 2n ** 255n

/**
 * What a job with `spec` would cost and whether the matcher could place it now, judged as `matchJobs` judges it:
 * the k cheapest eligible providers. When fewer than k are eligible the reason names what is missing: the price
 * (enough would fit at any price), liveness (enough would fit were they live), or providers altogether. Pure.
 */
export function quoteJob(parameters: QuoteJobParameters): QuoteJobReturnType {
  const { spec, providers, params } = parameters
  const k = spec.redundancy
  const fits = (provider: MatchProvider, job: JobSpec = spec) => isEligible(provider, job, { params, reserved: 0n })
  const countFitting = (fit: (provider: MatchProvider) => boolean) => providers.filter(fit).length
  const eligible = providers
    .filter((p) => fits(p))
    .sort((a, b) => (a.pricePerUnit < b.pricePerUnit ? -1 : a.pricePerUnit > b.pricePerUnit ? 1 : 0))
  let reason: QuoteReason = 'OK'
  if (eligible.length < k) {
    if (countFitting((p) => fits(p, { ...spec, maxPricePerUnit: anyPrice })) >= k) reason = 'MAX_PRICE_TOO_LOW'
    else if (countFitting((p) => fits({ ...p, live: true })) >= k) reason = 'TOO_FEW_LIVE_PROVIDERS'
    else reason = 'NOT_ENOUGH_PROVIDERS'
  }
  const picked = eligible.length >= k && k > 0 ? eligible.slice(0, k) : []
  return {
    reason,
    eligibleProviders: eligible.length,
    pricePerUnit: picked.at(-1)?.pricePerUnit ?? null,
    fees: picked.length ? picked.reduce((sum, p) => sum + p.pricePerUnit * spec.units, 0n) : null,
    escrow: escrowOf(spec, params.market),
    collateralPerSlot: collateralOf({ ask: spec.maxPricePerUnit, units: spec.units }, params.market),
  }
}
