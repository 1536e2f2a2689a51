import { describe, expect, it } from 'vitest'
import { outputsAgree } from './agreement.ts'

/** `x` moved by `ulps` representable float32 steps (positive: away from zero for x > 0). */
const stepUlps = (x: number, ulps: number) => {
  const words = new Uint32Array(new Float32Array([x]).buffer)
  words[0] += ulps
  return new Float32Array(words.buffer)[0]
}

// The bench's candidate at 16 bits: rtol = 2^-14, atol = rtol × the output's largest magnitude.
const rtol = 2 ** -14
const b = new Float32Array([0.7312, -1.25, 3.5e-3, 12.0625, -0.0001])
const atol = rtol * 12.0625

describe('outputsAgree', () => {
  it('agrees on equal outputs, with zero tolerance too', () => {
    expect(outputsAgree({ a: b.slice(), b, atol, rtol })).toEqual({ agree: true, mismatches: 0 })
    expect(outputsAgree({ a: b.slice(), b, atol: 0, rtol: 0 })).toEqual({ agree: true, mismatches: 0 })
  })

  it('agrees when every element is up to ±4 ulps off', () => {
    for (const ulps of [-4, -3, -1, 1, 2, 4]) {
      const a = b.map((x) => stepUlps(x, ulps))
      expect(a).not.toEqual(b)
      expect(outputsAgree({ a, b, atol, rtol })).toEqual({ agree: true, mismatches: 0 })
    }
  })

  it('disagrees when one element is off by 1 %, and counts it', () => {
    const a = b.slice()
    a[1] *= 1.01
    expect(outputsAgree({ a, b, atol, rtol })).toEqual({ agree: false, mismatches: 1 })
  })

  it('disagrees on the agent’s lie transform (v × 1.5 + 1) in every element', () => {
    expect(outputsAgree({ a: b.map((v) => v * 1.5 + 1), b, atol, rtol })).toEqual({ agree: false, mismatches: b.length })
  })

  it('lets NaN agree only with NaN, and an infinity only with itself', () => {
    const nanB = new Float32Array([Number.NaN, 1, Number.POSITIVE_INFINITY])
    expect(outputsAgree({ a: new Float32Array([Number.NaN, 1, Number.POSITIVE_INFINITY]), b: nanB, atol, rtol }).agree).toBe(true)
    expect(outputsAgree({ a: new Float32Array([0, 1, Number.POSITIVE_INFINITY]), b: nanB, atol, rtol }).mismatches).toBe(1)
    expect(outputsAgree({ a: new Float32Array([Number.NaN, Number.NaN, Number.POSITIVE_INFINITY]), b: nanB, atol, rtol }).mismatches).toBe(
      1,
    )
    expect(outputsAgree({ a: new Float32Array([Number.NaN, 1, Number.NEGATIVE_INFINITY]), b: nanB, atol, rtol }).mismatches).toBe(1)
    expect(outputsAgree({ a: new Float32Array([Number.NaN, 1, 3e38]), b: nanB, atol, rtol }).mismatches).toBe(1)
  })

  it('disagrees on outputs of different lengths, counting every element', () => {
    expect(outputsAgree({ a: b.subarray(0, 4), b, atol, rtol })).toEqual({ agree: false, mismatches: 5 })
    expect(outputsAgree({ a: new Float32Array(0), b: new Float32Array(1), atol, rtol }).agree).toBe(false)
  })

  it('rejects negative or non-finite tolerances', () => {
    expect(() => outputsAgree({ a: b, b, atol: -1, rtol })).toThrow(RangeError)
    expect(() => outputsAgree({ a: b, b, atol, rtol: Number.NaN })).toThrow(RangeError)
    expect(() => outputsAgree({ a: b, b, atol: Number.POSITIVE_INFINITY, rtol })).toThrow(RangeError)
  })
})
