import { expect, test } from 'vitest'
import { floatOrdinal, perturbByUlps, wordOfOrdinal } from './perturbByUlps.ts'
import { createPrng } from './prng.ts'

const wordsOf = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length)

test('ordinals count float32 steps across zero, with ±0 both 0', () => {
  const tiniest = 2 ** -149
  const words = wordsOf(new Float32Array([0, -0, 1, -1, tiniest, -tiniest]))
  expect([...words].map(floatOrdinal)).toEqual([0, 0, 0x3f800000, -0x3f800000, 1, -1])
  for (const o of [-5, -1, 0, 1, 0x3f800000]) expect(floatOrdinal(wordOfOrdinal(o))).toBe(o)
  // One step below +0 is the smallest negative subnormal.
  expect(new Float32Array(new Uint32Array([wordOfOrdinal(-1)]).buffer)[0]).toBe(-tiniest)
})

test('moves every element by −maxUlps..+maxUlps steps, each amount drawn', () => {
  const values = new Float32Array(20_000).map((_, i) => (i % 3 === 0 ? 0 : Math.sin(i) * 10 ** ((i % 7) - 3)))
  const moved = perturbByUlps({ values, maxUlps: 4, next: createPrng(1) })
  const steps = [...wordsOf(moved)].map((w, i) => floatOrdinal(w) - floatOrdinal(wordsOf(values)[i]))
  expect(new Set(steps)).toEqual(new Set([-4, -3, -2, -1, 0, 1, 2, 3, 4]))
  expect(perturbByUlps({ values, maxUlps: 0, next: createPrng(1) })).toEqual(values)
  expect(() => perturbByUlps({ values, maxUlps: -1, next: createPrng(1) })).toThrow(RangeError)
})
