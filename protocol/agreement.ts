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
