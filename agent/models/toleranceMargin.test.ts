import { expect, test } from 'vitest'
import { firstDisagreementOf } from '../../protocol/agreement.ts'
import { buildOutputTree } from '../../protocol/outputTree.ts'
import { createPrng } from './prng.ts'
import { toleranceMargin, unroundedOutput } from './toleranceMargin.ts'

const t = 16

test('is 0 for equal outputs, Infinity for different lengths or a non-finite difference', () => {
  const b = buildOutputTree(new Float32Array([1, -2, Number.NaN, 0]), t)
  expect(toleranceMargin({ a: b, b, toleranceBits: t })).toBe(0)
  expect(toleranceMargin({ a: buildOutputTree(new Float32Array([1, -2, Number.NaN]), t), b, toleranceBits: t })).toBe(
    Number.POSITIVE_INFINITY,
  )
  const infinite = buildOutputTree(new Float32Array([1, -2, Number.POSITIVE_INFINITY, 0]), t)
  expect(toleranceMargin({ a: infinite, b, toleranceBits: t })).toBe(Number.POSITIVE_INFINITY)
  // Raw words: −0 and +0, or two NaN payloads, differ as words but not as values.
  const raw = unroundedOutput(new Float32Array([0, Number.NaN]))
  const other = unroundedOutput(new Float32Array(new Uint32Array([0x80000000, 0x7fc00001]).buffer))
  expect(toleranceMargin({ a: raw, b: other, toleranceBits: t })).toBe(0)
})

test('is the ratio withinTolerance tests: above 1 exactly where firstDisagreementOf finds an element', () => {
  const next = createPrng(9)
  let outside = 0
  for (let k = 0; k < 2_000; k++) {
    const b = new Float32Array(8).map(() => (next() - 0.5) * 2 ** (8 * next() - 4))
    const a = b.map((v) => v + (next() - 0.5) * 2 ** -(next() * 20) * Math.abs(v))
    const [ta, tb] = [buildOutputTree(a, t), buildOutputTree(b, t)]
    const margin = toleranceMargin({ a: ta, b: tb, toleranceBits: t })
    if (margin > 1) outside++
    expect(margin > 1).toBe(firstDisagreementOf({ a: ta, b: tb, toleranceBits: t }) !== null)
  }
  // Both sides of the bound were drawn.
  expect(outside).toBeGreaterThan(100)
  expect(outside).toBeLessThan(1_900)
})
