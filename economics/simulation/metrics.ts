import type { BarVerdict, SimulatedEpoch } from './types.ts'

/**
 * What the scenarios read off a run, with analytics.ts's definitions: emitted = usage + availability emission (what
 * the epoch's recipients can claim), coverage = take burned / emitted, subsidy share = emitted / (emitted + fees paid
 * to providers).
 */

/** An epoch's emission: usage + availability emission, forfeits excluded. */
export const emitted = (e: SimulatedEpoch): bigint => e.law.usageEmission + e.law.availabilityEmission

/** a / b as a number; NaN when b is 0. */
export const ratioOf = (a: bigint, b: bigint): number => (b === 0n ? Number.NaN : Number((a * 10n ** 12n) / b) / 1e12)

/** Σ `value` over the `days` epochs ending with epoch `to` (fewer at the start). */
export function trailing(epochs: readonly SimulatedEpoch[], to: number, days: number, value: (e: SimulatedEpoch) => bigint): bigint {
  let sum = 0n
  for (let k = Math.max(0, to - days + 1); k <= to; k++) sum += value(epochs[k] as SimulatedEpoch)
  return sum
}

/** Take burned / emitted over the `days` epochs ending with `to`. */
export function coverage(epochs: readonly SimulatedEpoch[], to: number, days = 30): number {
  return ratioOf(
    trailing(epochs, to, days, (e) => e.burned),
    trailing(epochs, to, days, emitted),
  )
}

/** Emitted / (emitted + fees paid to providers) over the `days` epochs ending with `to`. */
export function subsidyShare(epochs: readonly SimulatedEpoch[], to: number, days = 30): number {
  const rewards = trailing(epochs, to, days, emitted)
  return ratioOf(rewards, rewards + trailing(epochs, to, days, (e) => e.organicFees + e.washFees))
}

/** The largest |E_k / E_{k−1} − 1| of the daily emission over epochs in (from, to]. */
export function maxDailyChange(epochs: readonly SimulatedEpoch[], from = 0, to = epochs.length - 1): number {
  let worst = 0
  for (let k = Math.max(1, from + 1); k <= to; k++) {
    const before = emitted(epochs[k - 1] as SimulatedEpoch)
    if (before === 0n) continue
    worst = Math.max(worst, Math.abs(ratioOf(emitted(epochs[k] as SimulatedEpoch), before) - 1))
  }
  return worst
}

/**
 * The largest relative change of the daily emission over `span` epochs, `sign` 1 for rises and −1 for falls, over
 * window starts in [from, to].
 */
export function largestMove(
  epochs: readonly SimulatedEpoch[],
  parameters: { from: number; to: number; span: number; sign: 1 | -1 },
): number {
  const { from, to, span, sign } = parameters
  let worst = 0
  for (let k = Math.max(0, from); k <= to && k + span < epochs.length; k++) {
    const start = emitted(epochs[k] as SimulatedEpoch)
    if (start === 0n) continue
    worst = Math.max(worst, sign * (ratioOf(emitted(epochs[k + span] as SimulatedEpoch), start) - 1))
  }
  return worst
}

/** A pass bar: `measured` against `threshold` with `compare`. */
export function verdict(bar: string, measured: number, compare: '<' | '≤' | '≥' | '>', threshold: number): BarVerdict {
  const passed =
    compare === '<'
      ? measured < threshold
      : compare === '≤'
        ? measured <= threshold
        : compare === '≥'
          ? measured >= threshold
          : measured > threshold
  return { bar, measured, threshold, passed }
}

/** A wei amount in TSR as a number. */
export const tsr = (wei: bigint): number => Number(wei / 10n ** 12n) / 1e6
