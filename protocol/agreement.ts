import type { OutputTree } from './outputTree.ts'

export type OutputsAgreeParameters = {
  /** One provider's output. */
  a: Float32Array
  /** The output it is compared against; the relative tolerance scales with its magnitudes. */
  b: Float32Array
  /** Absolute tolerance, ≥ 0: covers elements near zero, where a relative bound is meaningless. */
  atol: number
  /** Relative tolerance, ≥ 0, applied to `|b|`. */
  rtol: number
}

/** Whether the outputs agree, and how many elements don't (every element when the lengths differ). */
export type OutputsAgreeReturnType = { agree: boolean; mismatches: number }

/**
 * Element-wise comparison of two float32 outputs: element `i` agrees when `|a[i] − b[i]| ≤ atol + rtol·|b[i]|`
 * (numpy's `isclose`, so not symmetric in `a` and `b`). Unlike a fingerprint it has no rounding boundaries: values
 * a few ulps apart always agree. NaN agrees only with NaN (as the fingerprint canonicalises every NaN to one word),
 * an infinity only with the same infinity; outputs of different lengths never agree.
 */
export function outputsAgree(parameters: OutputsAgreeParameters): OutputsAgreeReturnType {
  const { a, b, atol, rtol } = parameters
  for (const [name, v] of Object.entries({ atol, rtol }))
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number ≥ 0, got ${v}`)
  if (a.length !== b.length) return { agree: false, mismatches: Math.max(a.length, b.length) }
  let mismatches = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    // Equal values (infinities included) agree; Infinity − Infinity would be NaN below.
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue
    // Past this point a NaN or an infinity on either side is a mismatch (rtol × ∞ would excuse any difference).
    if (!Number.isFinite(x) || !Number.isFinite(y) || Math.abs(x - y) > atol + rtol * Math.abs(y)) mismatches++
  }
  return { agree: mismatches === 0, mismatches }
}

/**
 * Bits the element-wise tolerance sits above the fingerprint's rounding step: at `outputTolerance` t, two elements
 * agree within `2^-(t − TOLERANCE_SLACK_BITS)` of the output's scale (PROTOCOL.md, "Agreement under tolerance", says
 * where the number comes from). JobMarket's `TOLERANCE_SLACK_BITS`.
 */
export const TOLERANCE_SLACK_BITS = 4
/** Fractional bits of the fixed point JobMarket decodes float32 words into: exact down to 2^-100. */
const FIXED_POINT_BITS = 100n

const isNaNWord = (w: number) => (w & 0x7f800000) === 0x7f800000 && (w & 0x007fffff) !== 0
const isFiniteWord = (w: number) => (w & 0x7f800000) !== 0x7f800000

/** A float32 word's value × 2^100, truncated toward zero (exact for every normal float32 ≥ 2^-76), as JobMarket does. */
export function fixedPointOf(word: number): bigint {
  const exponent = (word >>> 23) & 0xff
  const mantissa = BigInt(exponent === 0 ? word & 0x7fffff : (word & 0x7fffff) | 0x800000)
  const shift = BigInt(Math.max(exponent, 1) - 150) + FIXED_POINT_BITS
  const magnitude = shift >= 0n ? mantissa << shift : mantissa >> -shift
  return word >>> 31 ? -magnitude : magnitude
}

const compareBig = (x: bigint, y: bigint) => (x < y ? -1 : x > y ? 1 : 0)

export type WithinToleranceParameters = {
  /** One provider's canonical word for the element. */
  a: number
  /** The other provider's. */
  b: number
  /** The scales (`scaleWordOf`) the two providers committed; the smaller one counts, so inflating one's own buys nothing. */
  scaleA: number
  scaleB: number
  /** The job's `outputTolerance`. */
  toleranceBits: number
}

/**
 * JobMarket's element-wise agreement, exactly (integer maths on the words): equal words agree, NaN agrees with NaN,
 * any other non-finite value disagrees, and finite values agree when
 * `|a − b| ≤ 2^-(t − TOLERANCE_SLACK_BITS) × (min(scaleA, scaleB) + max(|a|, |b|))` — numpy's `isclose` with
 * `atol = rtol × scale`, made symmetric.
 */
export function withinTolerance(parameters: WithinToleranceParameters): boolean {
  const { a, b, toleranceBits } = parameters
  if (a === b || (isNaNWord(a) && isNaNWord(b))) return true
  if (!isFiniteWord(a) || !isFiniteWord(b)) return false
  const [fa, fb] = [fixedPointOf(a), fixedPointOf(b)]
  const scaleA = fixedPointOf(parameters.scaleA & 0x7fffffff)
  const scaleB = fixedPointOf(parameters.scaleB & 0x7fffffff)
  // bigint has no Math.min/Math.max: sort instead.
  const [scale] = [scaleA, scaleB].sort(compareBig)
  const abs = (x: bigint) => (x < 0n ? -x : x)
  const [, magnitude] = [abs(fa), abs(fb)].sort(compareBig)
  return abs(fa - fb) << BigInt(toleranceBits) <= (scale + magnitude) << BigInt(TOLERANCE_SLACK_BITS)
}

/**
 * Where two committed outputs disagree under `withinTolerance`: `'length'` when their lengths differ, the first
 * element out of tolerance, or null when they agree everywhere. What a keeper proves on chain.
 */
export function firstDisagreementOf(parameters: {
  a: Pick<OutputTree, 'length' | 'scale' | 'words'>
  b: Pick<OutputTree, 'length' | 'scale' | 'words'>
  toleranceBits: number
}): number | 'length' | null {
  const { a, b, toleranceBits } = parameters
  if (a.length !== b.length) return 'length'
  for (let i = 0; i < a.length; i++)
    if (!withinTolerance({ a: a.words[i], b: b.words[i], scaleA: a.scale, scaleB: b.scale, toleranceBits })) return i
  return null
}
