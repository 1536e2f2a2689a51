import { createHash } from 'node:crypto'
import { type Address, encodeAbiParameters, type Hex, keccak256 } from 'viem'
import { buildOutputTree } from './outputTree.ts'

const CANONICAL_NAN = 0x7fc00000

/** The `outputTolerance` a job gets when its requester names none: mantissa bits kept before fingerprinting. */
export const defaultOutputTolerance = 16

/**
 * Canonical float32 words under `toleranceBits` significant mantissa bits (PROTOCOL.md): NaN → 0x7fc00000,
 * −0 → +0, otherwise round the 23-bit mantissa half-up to `toleranceBits` bits; a carry out of the mantissa
 * bumps the exponent (so 1.9999 can become 2.0, and the largest finite values can become ±Infinity).
 */
export function canonicalise(values: Float32Array, toleranceBits: number): Uint32Array {
  if (!Number.isInteger(toleranceBits) || toleranceBits < 1 || toleranceBits > 23)
    throw new RangeError(`toleranceBits must be an integer in 1..23, got ${toleranceBits}`)
  const words = new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength))
  const dropped = 23 - toleranceBits
  const half = dropped === 0 ? 0 : 1 << (dropped - 1)
  const mask = ~((1 << dropped) - 1) >>> 0
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    if ((w & 0x7f800000) === 0x7f800000 && (w & 0x007fffff) !== 0) words[i] = CANONICAL_NAN
    else if (w === 0x80000000) words[i] = 0
    else words[i] = ((w + half) & mask) >>> 0
  }
  return words
}

/** `0x`-prefixed sha256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array | string): Hex {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`
}

/**
 * The result fingerprint: the root commitment of the output's tree (`buildOutputTree` in outputTree.ts), so one
 * element can be proven against it when two providers' fingerprints differ.
 */
export function fingerprintOutput(values: Float32Array, toleranceBits: number): Hex {
  return buildOutputTree(values, toleranceBits).fingerprint
}

export type CommitmentParameters = { jobId: bigint; provider: Address; fingerprint: Hex; outputHash: Hex; salt: Hex }

/**
 * `keccak256(abi.encode(uint256 jobId, address provider, bytes32 fingerprint, bytes32 outputHash, bytes32 salt))`,
 * as JobMarket checks it.
 */
export function commitmentOf(parameters: CommitmentParameters): Hex {
  const { jobId, provider, fingerprint, outputHash, salt } = parameters
  return keccak256(
    encodeAbiParameters(
      [{ type: 'uint256' }, { type: 'address' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }],
      [jobId, provider, fingerprint, outputHash, salt],
    ),
  )
}
