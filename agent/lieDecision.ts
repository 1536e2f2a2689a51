import { createHash } from 'node:crypto'
import type { Address } from 'viem'

/** What a cheating agent returns instead of `output`: every value scaled and shifted, far beyond any tolerance. */
export function alterOutput(output: Float32Array): Float32Array {
  return output.map((v) => v * 1.5 + 1)
}

/**
 * Whether a cheating agent (a test and demo device) alters its output for `jobId`: always at `rate` 1 (or `true`),
 * never at 0, else for a fraction `rate` of jobs. Decided by a hash of provider and job rather than a coin flip, so
 * the same job gets the same answer after a restart, and a test can predict it.
 */
export function liesOn(parameters: { rate: number | boolean; provider: Address; jobId: string }): boolean {
  const rate = typeof parameters.rate === 'boolean' ? Number(parameters.rate) : parameters.rate
  if (rate <= 0) return false
  if (rate >= 1) return true
  const digest = createHash('sha256').update(`tessera-lie:${parameters.provider.toLowerCase()}:${parameters.jobId}`).digest()
  return Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53 < rate
}
