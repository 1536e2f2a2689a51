import { describe, expect, it } from 'vitest'
import { firstDisagreementOf, fixedPointOf, withinTolerance } from './agreement.ts'
import { canonicalise } from './fingerprint.ts'
import { buildOutputTree, openedWordOf, openingOf, treeDepthOf, verifyOpening } from './outputTree.ts'

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]
const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * (i % 7 === 0 ? 40 : 1))

describe('buildOutputTree and openings', () => {
  it('opens every element of outputs of many lengths, each proof the depth the length implies', () => {
    for (const n of [0, 1, 7, 8, 9, 16, 17, 63, 64, 65, 1000]) {
      const tree = buildOutputTree(values(n), 16)
      expect(tree.levels.length - 1).toBe(treeDepthOf(n))
      for (let i = 0; i < n; i++) {
        const opening = openingOf(tree, i)
        expect(openedWordOf(opening)).toBe(tree.words[i])
        expect(verifyOpening(tree.fingerprint, opening)).toBe(true)
      }
    }
  })

  it('refuses an opening with another word, index, length, scale, or a shortened proof', () => {
    const tree = buildOutputTree(values(100), 16)
    const opening = openingOf(tree, 42)
    const otherChunk = openingOf(tree, 50).chunk
    expect(verifyOpening(tree.fingerprint, { ...opening, chunk: otherChunk })).toBe(false)
    expect(verifyOpening(tree.fingerprint, { ...opening, index: 50n })).toBe(false)
    // Same chunk, another position inside it: the chunk proves all eight words, so the index only picks one.
    expect(verifyOpening(tree.fingerprint, { ...opening, index: 41n })).toBe(true)
    expect(verifyOpening(tree.fingerprint, { ...opening, index: 100n })).toBe(false)
    expect(verifyOpening(tree.fingerprint, { ...opening, length: 101n })).toBe(false)
    expect(verifyOpening(tree.fingerprint, { ...opening, scale: opening.scale + 1 })).toBe(false)
    expect(verifyOpening(tree.fingerprint, { ...opening, proof: opening.proof.slice(1) })).toBe(false)
    expect(() => openingOf(tree, 100)).toThrow(RangeError)
  })

  it('gives equal fingerprints to values that round alike and different ones otherwise', () => {
    // Multiples of 2^-6 keep 12 bits exactly, so one ulp up still rounds to them.
    const v = Float32Array.from({ length: 33 }, (_, i) => (i - 16) / 64)
    const ulpUp = v.map((x) => new Float32Array(new Uint32Array([bitsOf(x) + 1]).buffer)[0])
    expect(buildOutputTree(ulpUp, 12).fingerprint).toBe(buildOutputTree(v, 12).fingerprint)
    const off = v.slice()
    off[32] += 1
    expect(buildOutputTree(off, 12).fingerprint).not.toBe(buildOutputTree(v, 12).fingerprint)
    expect(buildOutputTree(v.subarray(0, 32), 12).fingerprint).not.toBe(buildOutputTree(v, 12).fingerprint)
  })
})

describe('withinTolerance', () => {
  const scale = bitsOf(1)
  const at = (a: number, b: number, t = 16, s = scale) =>
    withinTolerance({ a: bitsOf(a), b: bitsOf(b), scaleA: s, scaleB: s, toleranceBits: t })

  it('decodes words to fixed point exactly', () => {
    expect(fixedPointOf(bitsOf(1))).toBe(1n << 100n)
    expect(fixedPointOf(bitsOf(-2.5))).toBe(-5n << 99n)
    expect(fixedPointOf(bitsOf(2 ** 127))).toBe(1n << 227n)
    expect(fixedPointOf(1)).toBe(0n) // the smallest subnormal, 2^-149, truncates to zero
    expect(fixedPointOf(bitsOf(2 ** -76))).toBe(1n << 24n)
  })

  it('accepts differences up to 2^-(t−4) of scale plus magnitude and refuses beyond', () => {
    const tol = 2 ** -12
    expect(at(1, 1 + 2 * tol)).toBe(true) // (1 + max(1, 1+2tol)) × tol ≥ 2tol
    expect(at(1, 1 + 2.1 * tol)).toBe(false)
    expect(at(0, tol)).toBe(true)
    expect(at(0, 1.01 * tol)).toBe(false)
    expect(at(100, 100 * (1 + 0.9 * tol))).toBe(true) // relative part
    expect(at(1, 1 + 2 * 2 ** -16, 20)).toBe(true) // t = 20: 2^-16
    expect(at(1, 1 + 2.1 * 2 ** -16, 20)).toBe(false)
  })

  it('is symmetric, agrees NaN with NaN, and refuses infinities against anything else', () => {
    for (const [a, b] of [
      [1, 1.0003],
      [-3, 3],
      [1e-30, -1e-30],
      [5e6, 5e6 + 1],
    ])
      expect(at(a, b)).toBe(at(b, a))
    const nan = 0x7fc00000
    expect(withinTolerance({ a: nan, b: 0x7f800001, scaleA: scale, scaleB: scale, toleranceBits: 16 })).toBe(true)
    expect(withinTolerance({ a: nan, b: bitsOf(1), scaleA: scale, scaleB: scale, toleranceBits: 16 })).toBe(false)
    expect(at(Infinity, Infinity)).toBe(true)
    expect(at(Infinity, 3e38)).toBe(false)
    expect(at(-Infinity, Infinity)).toBe(false)
  })

  it('takes the smaller committed scale, so a provider inflating its own buys no slack', () => {
    const huge = bitsOf(1e30)
    expect(withinTolerance({ a: bitsOf(0), b: bitsOf(0.5), scaleA: huge, scaleB: scale, toleranceBits: 16 })).toBe(false)
    expect(withinTolerance({ a: bitsOf(0), b: bitsOf(0.5), scaleA: huge, scaleB: huge, toleranceBits: 16 })).toBe(true)
  })

  it('never overflows the contract’s uint256 maths at the extremes', () => {
    const max = 0x7f7fffff
    expect(withinTolerance({ a: max, b: max ^ 0x80000000, scaleA: max, scaleB: max, toleranceBits: 23 })).toBe(false)
    expect((2n * fixedPointOf(max)) << 23n < 2n ** 256n).toBe(true)
  })
})

describe('firstDisagreementOf', () => {
  it('finds the element a perturbation pushed beyond the tolerance and ignores a few ulps', () => {
    const v = values(300)
    const ulps = v.map((x, i) => {
      const w = bitsOf(x)
      return new Float32Array(new Uint32Array([w + ((i % 9) - 4)]).buffer)[0]
    })
    const t = (x: Float32Array) => ({ length: x.length, words: canonicalise(x, 16), scale: buildOutputTree(x, 16).scale })
    expect(firstDisagreementOf({ a: t(ulps), b: t(v), toleranceBits: 16 })).toBe(null)
    const altered = v.slice()
    altered[217] += 0.1
    expect(firstDisagreementOf({ a: t(altered), b: t(v), toleranceBits: 16 })).toBe(217)
    expect(firstDisagreementOf({ a: t(v.subarray(1)), b: t(v), toleranceBits: 16 })).toBe('length')
  })
})
