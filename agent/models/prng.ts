/**
 * A tiny seeded PRNG (mulberry32): the same seed gives the same stream on every machine,
 * which is what makes demo models and inputs reproducible byte for byte.
 */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Uniform float in [min, max) from `next`, rounded to float32 by the caller's storage. */
export function uniform(next: () => number, min: number, max: number): number {
  return min + (max - min) * next()
}
