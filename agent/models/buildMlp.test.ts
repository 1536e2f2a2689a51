import ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { buildMlp, makeInput, mlpWeights, referenceMlp } from './buildMlp.ts'
import { createPrng } from './prng.ts'

describe('createPrng', () => {
  it('repeats for a seed and stays in [0, 1)', () => {
    const a = createPrng(42)
    const b = createPrng(42)
    const xs = Array.from({ length: 1000 }, () => a())
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()))
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(createPrng(43)()).not.toBe(xs[0])
  })
})

describe('buildMlp', () => {
  const p = { seed: 7, inputSize: 16, hiddenSize: 32, outputSize: 8 }

  it('gives the same bytes for the same seed and different bytes for another', () => {
    expect(sha256Hex(buildMlp(p))).toBe(sha256Hex(buildMlp({ ...p })))
    expect(sha256Hex(buildMlp({ ...p, seed: 8 }))).not.toBe(sha256Hex(buildMlp(p)))
    expect(makeInput({ seed: 1, rows: 4, inputSize: 16 })).toEqual(makeInput({ seed: 1, rows: 4, inputSize: 16 }))
  })

  it('runs in onnxruntime with a dynamic batch and matches the plain-JS reference', async () => {
    for (const layers of [1, 2, 3]) {
      const session = await ort.InferenceSession.create(buildMlp({ ...p, layers }))
      expect(session.inputNames).toEqual(['input'])
      expect(session.outputNames).toEqual(['output'])
      for (const rows of [1, 5]) {
        const x = makeInput({ seed: rows, rows, inputSize: 16 })
        const { output } = await session.run({ input: new ort.Tensor('float32', x, [rows, 16]) })
        expect(output.dims).toEqual([rows, 8])
        const expected = referenceMlp(mlpWeights({ ...p, layers }), x, rows)
        const got = output.data as Float32Array
        for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5)
      }
      await session.release()
    }
  })

  it('computes a tiny case by hand', async () => {
    // One Gemm layer 2→1: y = x·W + b, checked against arithmetic written out here.
    const tiny = { seed: 3, inputSize: 2, hiddenSize: 1, outputSize: 1, layers: 1 }
    const [{ weight, bias }] = mlpWeights(tiny)
    const session = await ort.InferenceSession.create(buildMlp(tiny))
    const { output } = await session.run({ input: new ort.Tensor('float32', new Float32Array([1, 2, -3, 0.5]), [2, 2]) })
    const data = output.data as Float32Array
    expect(data[0]).toBeCloseTo(1 * weight[0] + 2 * weight[1] + bias[0], 6)
    expect(data[1]).toBeCloseTo(-3 * weight[0] + 0.5 * weight[1] + bias[0], 6)
    await session.release()
  })

  it('rejects bad sizes', () => {
    expect(() => buildMlp({ ...p, hiddenSize: 0 })).toThrow(/hiddenSize/)
    expect(() => makeInput({ seed: 1, rows: 0, inputSize: 3 })).toThrow(/rows/)
  })
})
