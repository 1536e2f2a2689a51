import type { Address, Hex } from 'viem'
import type { MarketParams } from './deployment.ts'
import { BPS } from './units.ts'

/**
 * JobMarket's money maths in bigint, rounding exactly as the contract does (every division floors). Parity-tested
 * against the contract in `settlement.parity.test.ts`; every part computes escrow, collateral, take and majority
 * here, never on its own.
 */

/** What a job spec contributes to escrow and collateral. */
export type JobSize = { maxPricePerUnit: bigint; units: bigint; redundancy: number | bigint }

/** A slot's value: what the requester offers one provider, `maxPricePerUnit × units`. */
function slotValueOf(job: Pick<JobSize, 'maxPricePerUnit' | 'units'>): bigint {
  return job.maxPricePerUnit * job.units
}

/** The protocol take of `fees`: `fees × takeBps / BPS`. */
export function takeOf(fees: bigint, params: Pick<MarketParams, 'takeBps'>): bigint {
  return (fees * params.takeBps) / BPS
}

/** What `submitJob` pulls: `value + take(value)` with `value = maxPricePerUnit × units × k` (JobMarket `quoteEscrow`). */
export function escrowOf(job: JobSize, params: Pick<MarketParams, 'takeBps'>): bigint {
  const value = slotValueOf(job) * BigInt(job.redundancy)
  return value + takeOf(value, params)
}

/**
 * Collateral a provider asking `ask` per unit locks for a slot: `ask × units × collateralBps / BPS` (JobMarket
 * `collateralOf`). It follows the provider's own ask, so a requester's max price can't inflate what a slash takes.
 */
export function collateralOf(slot: { ask: bigint; units: bigint }, params: Pick<MarketParams, 'collateralBps'>): bigint {
  return (slot.ask * slot.units * params.collateralBps) / BPS
}

/** The part of a slashed `amount` credited to the honest side; the rest is burned. */
function beneficiaryShareOf(amount: bigint, params: Pick<MarketParams, 'slashBeneficiaryBps'>): bigint {
  return (amount * params.slashBeneficiaryBps) / BPS
}

/**
 * The fingerprint revealed by more than half of the k slots, and how many revealed it; undefined without a strict
 * majority. `reveals[i]` is slot i's revealed fingerprint, null when it didn't reveal.
 */
export function majorityOf(reveals: readonly (Hex | null)[]): { fingerprint: Hex; count: number } | undefined {
  const k = reveals.length
  for (const fingerprint of reveals) {
    if (fingerprint === null) continue
    const count = reveals.filter((other) => other !== null && other.toLowerCase() === fingerprint.toLowerCase()).length
    if (2 * count > k) return { fingerprint, count }
  }
  return undefined
}

/** One slot of a job being settled, in slot order. */
export type SettlementSlot = {
  provider: Address
  /** The provider's ask per unit, recorded at assignment. */
  ask: bigint
  collateral: bigint
  /** The revealed fingerprint, null when the provider didn't reveal. */
  fingerprint: Hex | null
}

export type Slashing = { provider: Address; amount: bigint; toBeneficiary: bigint; burned: bigint }

/** What `finalize` does to a job's money, event for event. */
export type Settlement = {
  status: 'COMPLETED' | 'FAILED'
  /** The winning fingerprint (COMPLETED only). */
  fingerprint: Hex | null
  /** `ProviderPaid` (fee = ask × units) and `SlashShareCredited` (slashShare, 0 when none) per agreeing provider. */
  paid: { provider: Address; fee: bigint; slashShare: bigint }[]
  /** `Slashed` per dissenter or non-revealer, its whole collateral. */
  slashed: Slashing[]
  /** Providers whose collateral is unlocked without fault. */
  unlocked: Address[]
  /** Σ fees paid. */
  fees: bigint
  /** The take burned (`FeeBurned`); 0 when FAILED. */
  take: bigint
  /** Credited back to the requester (`Refunded`). */
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

/**
 * Settles a Revealed job (or a Committed one past its reveal deadline) as `JobMarket.finalize` does. With a strict
 * majority it COMPLETES: agreeing providers are paid their ask × units plus an equal share of the slashes' honest
 * part, dissenters and non-revealers lose their collateral, the take is burned and the rest (with the share's
 * remainder) refunded. Without one it FAILS: non-revealers' collateral is burned whole and exactly the escrow
 * refunded, so a failed job never leaves its requester with more than it deposited.
 */
export function settleJob(parameters: {
  escrow: bigint
  units: bigint
  slots: readonly SettlementSlot[]
  params: Pick<MarketParams, 'takeBps' | 'slashBeneficiaryBps'>
}): Settlement {
  const { escrow, units, slots, params } = parameters
  const majority = majorityOf(slots.map((s) => s.fingerprint))
  if (!majority) {
    const slashed = slots.filter((s) => s.fingerprint === null).map((s) => burning(s.provider, s.collateral))
    const unlocked = slots.filter((s) => s.fingerprint !== null).map((s) => s.provider)
    return { status: 'FAILED', fingerprint: null, paid: [], slashed, unlocked, fees: 0n, take: 0n, refund: escrow }
  }
  const winner = majority.fingerprint.toLowerCase()
  const agrees = (s: SettlementSlot) => s.fingerprint !== null && s.fingerprint.toLowerCase() === winner
  const slashed = slots.filter((s) => !agrees(s)).map((s) => slashing(s.provider, s.collateral, params))
  const slashPool = slashed.reduce((sum, s) => sum + s.toBeneficiary, 0n)
  const share = slashPool / BigInt(majority.count)
  const paid = slots.filter(agrees).map((s) => ({ provider: s.provider, fee: s.ask * units, slashShare: share }))
  const fees = paid.reduce((sum, p) => sum + p.fee, 0n)
  const take = takeOf(fees, params)
  const refund = escrow - fees - take + (slashPool - share * BigInt(majority.count))
  return {
    status: 'COMPLETED',
    fingerprint: majority.fingerprint,
    paid,
    slashed,
    unlocked: paid.map((p) => p.provider),
    fees,
    take,
    refund,
  }
}

/**
 * What `expireAssignment` does: providers that didn't commit are no-shows, their collateral burned whole (none of it
 * to the requester, who must not profit from an assignment it can make fail); committed ones are unlocked; the
 * escrow is refunded when the job's deadline passed (`reopened` false), nothing otherwise.
 */
export function settleNoShows(parameters: {
  escrow: bigint
  slots: readonly { provider: Address; collateral: bigint; committed: boolean }[]
  reopened: boolean
}): { slashed: Slashing[]; unlocked: Address[]; refund: bigint } {
  const { slots } = parameters
  const slashed = slots.filter((s) => !s.committed).map((s) => burning(s.provider, s.collateral))
  return {
    slashed,
    unlocked: slots.filter((s) => s.committed).map((s) => s.provider),
    refund: parameters.reopened ? 0n : parameters.escrow,
  }
}
