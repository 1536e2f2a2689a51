import { encodeAbiParameters, keccak256 } from 'viem'
import { describe, expect, it } from 'vitest'
import { canonicalise, commitmentOf, fingerprintOutput, sha256Hex } from './fingerprint.ts'

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]
const fromBits = (w: number) => new Float32Array(new Uint32Array([w]).buffer)[0]

describe('canonicalise', () => {
  it('rounds the mantissa to the tolerance, half up', () => {
    // 1 + 2^-10 keeps 10 bits; 1 + 2^-11 is the half-way point at 10 bits and rounds up.
    expect(canonicalise(new Float32Array([1 + 2 ** -10]), 10)[0]).toBe(bitsOf(1 + 2 ** -10))
    expect(canonicalise(new Float32Array([1 + 2 ** -11]), 10)[0]).toBe(bitsOf(1 + 2 ** -10))
    expect(canonicalise(new Float32Array([1 + 2 ** -12]), 10)[0]).toBe(bitsOf(1))
  })

  it('carries out of the mantissa into the exponent', () => {
    const almostTwo = fromBits(0x3fffffff) // 1.99999988
    expect(canonicalise(new Float32Array([almostTwo]), 10)[0]).toBe(0x40000000) // 2.0
    expect(canonicalise(new Float32Array([-almostTwo]), 10)[0]).toBe(0xc0000000) // -2.0
  })

  it('maps every NaN to 0x7fc00000 and -0 to +0', () => {
    const nans = new Float32Array(new Uint32Array([0x7fc00000, 0x7f800001, 0xffc00000, 0xffffffff]).buffer)
    expect(Array.from(canonicalise(nans, 8))).toEqual([0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000])
    expect(canonicalise(new Float32Array([-0]), 8)[0]).toBe(0)
  })

  it('keeps infinities and rounds the largest finite float up to infinity', () => {
    expect(Array.from(canonicalise(new Float32Array([Infinity, -Infinity]), 5))).toEqual([0x7f800000, 0xff800000])
    expect(canonicalise(new Float32Array([fromBits(0x7f7fffff)]), 5)[0]).toBe(0x7f800000)
  })

  it('is the identity at 23 bits except for NaN and -0', () => {
    const v = new Float32Array([Math.PI, -1e-30, 123456.78])
    expect(Array.from(canonicalise(v, 23))).toEqual(Array.from(new Uint32Array(v.buffer)))
  })

  it('does not modify its input and rejects tolerances outside 1..23', () => {
    const v = new Float32Array([1.2345678])
    const before = v[0]
    canonicalise(v, 4)
    expect(v[0]).toBe(before)
    expect(() => canonicalise(v, 0)).toThrow(RangeError)
    expect(() => canonicalise(v, 24)).toThrow(RangeError)
  })
})

describe('fingerprintOutput', () => {
  // 314159 / 100000 is exactly the double the literal 3.14159 denotes: a value with a long mantissa, not π.
  const base = new Float32Array([0.5, -1.25, 314159 / 100000, 100.001, 1e-3])

  it('agrees when values differ below the tolerance', () => {
    const noisy = base.map((x) => x * (1 + 2 ** -20))
    expect(noisy).not.toEqual(base)
    expect(fingerprintOutput(noisy, 12)).toBe(fingerprintOutput(base, 12))
  })

  it('differs when values differ above the tolerance', () => {
    const off = base.slice()
    off[2] *= 1 + 2 ** -6
    expect(fingerprintOutput(off, 12)).not.toBe(fingerprintOutput(base, 12))
  })

  it('treats NaN payloads and -0 alike', () => {
    const a = new Float32Array(new Uint32Array([0x7f800001, 0x80000000]).buffer)
    const b = new Float32Array([NaN, 0])
    expect(fingerprintOutput(a, 10)).toBe(fingerprintOutput(b, 10))
  })

  it('is the tree commitment over the canonical words: one chunk of big-endian words, its leaf hash, the root', () => {
    const words = canonicalise(base, 10)
    const chunk = Buffer.alloc(32)
    for (const [i, w] of words.entries()) chunk.writeUInt32BE(w, i * 4)
    const leaf = Buffer.from(sha256Hex(Buffer.concat([Buffer.from([0]), chunk])).slice(2), 'hex')
    const scale = Math.max(...Array.from(words, (w) => w & 0x7fffffff))
    const head = Buffer.alloc(12)
    head.writeBigUInt64BE(BigInt(base.length))
    head.writeUInt32BE(scale, 8)
    expect(fingerprintOutput(base, 10)).toBe(sha256Hex(Buffer.concat([Buffer.from([2]), head, leaf])))
  })
})

describe('sha256Hex', () => {
  it('hashes bytes to 0x-prefixed hex', () => {
    expect(sha256Hex(new Uint8Array())).toBe('0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(sha256Hex('abc')).toBe('0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})

describe('commitmentOf', () => {
  it('is keccak256 of abi.encode(jobId, provider, fingerprint, outputHash, salt)', () => {
    const p = {
      jobId: 7n,
      provider: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as const,
      fingerprint: `0x${'11'.repeat(32)}` as const,
      outputHash: `0x${'22'.repeat(32)}` as const,
      salt: `0x${'33'.repeat(32)}` as const,
    }
    // abi.encode pads each static word to 32 bytes; build it by hand to pin the layout.
    const manual =
      `0x${[(7).toString(16), p.provider.slice(2).toLowerCase(), '11'.repeat(32), '22'.repeat(32), '33'.repeat(32)].map((w) => w.padStart(64, '0')).join('')}` as const
    expect(commitmentOf(p)).toBe(keccak256(manual))
    expect(commitmentOf(p)).toBe(
      keccak256(
        encodeAbiParameters(
          [{ type: 'uint256' }, { type: 'address' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }],
          [7n, p.provider, p.fingerprint, p.outputHash, p.salt],
        ),
      ),
    )
    expect(commitmentOf({ ...p, jobId: 8n })).not.toBe(commitmentOf(p))
  })
})
