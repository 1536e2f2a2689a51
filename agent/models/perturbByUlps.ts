/** A float32 word's position on the number line in steps: adjacent floats differ by 1, and ±0 are both 0. */
export function floatOrdinal(word: number): number {
  // 0 − x rather than −x: −0 would be a distinct ordinal to strict comparisons.
  return word & 0x80000000 ? 0 - (word & 0x7fffffff) : word
}

/** The float32 word at `floatOrdinal` `ordinal` (+0 for 0). */
export function wordOfOrdinal(ordinal: number): number {
  return ordinal < 0 ? (0x80000000 | -ordinal) >>> 0 : ordinal
}

/**
 * `values` with every element moved by a seeded random whole number of float32 steps (ulps) in −maxUlps..+maxUlps,
 * uniformly: what an honest kernel that rounds a little differently does to an output, at its smallest.
 */
export function perturbByUlps(parameters: { values: Float32Array; maxUlps: number; next: () => number }): Float32Array {
  const { values, maxUlps, next } = parameters
  if (!Number.isInteger(maxUlps) || maxUlps < 0) throw new RangeError(`maxUlps must be an integer ≥ 0, got ${maxUlps}`)
  const from = new Uint32Array(values.buffer, values.byteOffset, values.length)
  const words = new Uint32Array(values.length)
  for (let i = 0; i < words.length; i++) words[i] = wordOfOrdinal(floatOrdinal(from[i]) + Math.floor(next() * (2 * maxUlps + 1)) - maxUlps)
  return new Float32Array(words.buffer)
}
