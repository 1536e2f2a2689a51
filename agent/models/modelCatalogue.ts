import { buildBroadcast } from './buildBroadcast.ts'
import { type BuildMlpParameters, buildMlp, makeInput, mlpWeights, referenceMlp } from './buildMlp.ts'
import { float32Mlp } from './float32Mlp.ts'

/**
 * The plain-JS forward passes every catalogue model has besides its ONNX bytes, standing in for another machine's
 * kernels: `referenceMlp` (float64 sums, the tests' reference) and `float32Mlp` (float32 sums without FMA).
 */
export const forwardPasses = ['plain JS, float64 sums', 'plain JS, float32 sums'] as const

export type ForwardPass = (typeof forwardPasses)[number]

/** A model the repository builds in code, with the same computation outside onnxruntime. */
export type CatalogueModel = {
  name: string
  /** How it was built, for reports. */
  shape: string
  bytes: Uint8Array
  /** Columns of the `[rows, inputSize]` input. */
  inputSize: number
  forward: Record<ForwardPass, (input: Float32Array, rows: number) => Float32Array>
}

const mlp = (name: string, parameters: BuildMlpParameters): CatalogueModel => {
  const layers = mlpWeights(parameters)
  const sizes = [parameters.inputSize, ...layers.map((l) => l.outSize)].join('→')
  return {
    name,
    shape: `MLP ${sizes}, seed ${parameters.seed}`,
    bytes: buildMlp(parameters),
    inputSize: parameters.inputSize,
    forward: {
      'plain JS, float64 sums': (input, rows) => referenceMlp(layers, input, rows),
      'plain JS, float32 sums': (input, rows) => float32Mlp(layers, input, rows),
    },
  }
}

/**
 * The models the repository builds: the e2e tests' (small), the demo workload's and cached benchmark's (demo), two
 * larger MLPs whose longer sums drift further between kernels, and an `Expand` that copies (no arithmetic at all).
 * What the agreement bench and the cross-machine agreement test measure.
 */
export function modelCatalogue(): CatalogueModel[] {
  const copies = 3
  const repeat = (input: Float32Array) => {
    const out = new Float32Array(input.length * copies)
    for (let c = 0; c < copies; c++) out.set(input, c * input.length)
    return out
  }
  return [
    mlp('small', { seed: 11, inputSize: 16, hiddenSize: 16, outputSize: 4 }),
    mlp('demo', { seed: 1, inputSize: 16, hiddenSize: 32, outputSize: 8 }),
    mlp('medium', { seed: 21, inputSize: 64, hiddenSize: 128, outputSize: 32, layers: 3 }),
    mlp('wide', { seed: 31, inputSize: 256, hiddenSize: 1024, outputSize: 64 }),
    {
      name: 'broadcast',
      shape: `Expand ×${copies} of 16`,
      bytes: buildBroadcast({ inputSize: 16, copies: BigInt(copies) }),
      inputSize: 16,
      forward: { 'plain JS, float64 sums': repeat, 'plain JS, float32 sums': repeat },
    },
  ]
}

/** `count` seeded inputs for `model`, of 1 to 8 rows in turn: the same on every machine and every run. */
export function catalogueInputs(parameters: { model: CatalogueModel; count: number }): Float32Array[] {
  const { model, count } = parameters
  return Array.from({ length: count }, (_, i) => makeInput({ seed: 7_000 + i, rows: 1 + (i % 8), inputSize: model.inputSize }))
}
