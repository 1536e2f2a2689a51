import onnxProto from 'onnx-proto'
import { createPrng, uniform } from './prng.ts'

const { onnx } = onnxProto

export type BuildMlpParameters = {
  seed: number
  inputSize: number
  hiddenSize: number
  outputSize: number
  /** Number of Gemm layers (≥ 1); hidden layers are followed by Relu. Default 2. */
  layers?: number
  /** The operator after each hidden layer. Default `Relu`; tests name one onnxruntime lacks to get a model that won't load. */
  activation?: string
}

/** The weights of one layer, row-major `[in, out]`, as stored in the model. */
export type MlpLayer = { weight: Float32Array; bias: Float32Array; inSize: number; outSize: number }

/**
 * Draws the layer weights `buildMlp` puts in the model, so tests and references can recompute outputs.
 * Uniform in ±1/√in (Glorot-ish), biases in ±0.1.
 */
export function mlpWeights(parameters: BuildMlpParameters): MlpLayer[] {
  const { seed, inputSize, hiddenSize, outputSize, layers = 2 } = parameters
  for (const [name, v] of Object.entries({ inputSize, hiddenSize, outputSize, layers }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`buildMlp: ${name} must be a positive integer, got ${v}`)
  const next = createPrng(seed)
  const sizes = [inputSize, ...Array.from({ length: layers - 1 }, () => hiddenSize), outputSize]
  const result: MlpLayer[] = []
  for (let l = 0; l < layers; l++) {
    const inSize = sizes[l]
    const outSize = sizes[l + 1]
    const scale = 1 / Math.sqrt(inSize)
    const weight = new Float32Array(inSize * outSize)
    for (let i = 0; i < weight.length; i++) weight[i] = uniform(next, -scale, scale)
    const bias = new Float32Array(outSize)
    for (let i = 0; i < bias.length; i++) bias[i] = uniform(next, -0.1, 0.1)
    result.push({ weight, bias, inSize, outSize })
  }
  return result
}

function floatInitializer(name: string, dims: number[], values: Float32Array) {
  const raw = new Uint8Array(values.length * 4)
  const view = new DataView(raw.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true)
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw })
}

/** A float32 graph input or output named `name` of `shape`: a number per fixed dimension, a name per symbolic one. */
export function floatValueInfo(name: string, shape: readonly (number | string)[]) {
  const dim = shape.map((d) =>
    typeof d === 'number'
      ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
      : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
  )
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({ elemType: onnx.TensorProto.DataType.FLOAT, shape: onnx.TensorShapeProto.create({ dim }) }),
    }),
  })
}

/**
 * Builds a float32 MLP as ONNX bytes: `input [batch, inputSize]` → (Gemm → Relu)* → Gemm → `output [batch, outputSize]`.
 * Deterministic: the same parameters give the same bytes (weights from a seeded PRNG, stored as raw little-endian data).
 */
export function buildMlp(parameters: BuildMlpParameters): Uint8Array {
  const weights = mlpWeights(parameters)
  const nodes: onnxProto.onnx.INodeProto[] = []
  const initializer: onnxProto.onnx.ITensorProto[] = []
  let current = 'input'
  weights.forEach((layer, l) => {
    const last = l === weights.length - 1
    const w = `W${l}`
    const b = `B${l}`
    initializer.push(floatInitializer(w, [layer.inSize, layer.outSize], layer.weight))
    initializer.push(floatInitializer(b, [layer.outSize], layer.bias))
    const gemmOut = last ? 'output' : `gemm${l}`
    nodes.push(onnx.NodeProto.create({ name: `gemm_${l}`, opType: 'Gemm', input: [current, w, b], output: [gemmOut] }))
    if (!last) {
      nodes.push(
        onnx.NodeProto.create({ name: `relu_${l}`, opType: parameters.activation ?? 'Relu', input: [gemmOut], output: [`relu${l}`] }),
      )
      current = `relu${l}`
    }
  })
  const graph = onnx.GraphProto.create({
    name: 'tessera_mlp',
    node: nodes,
    initializer,
    input: [floatValueInfo('input', ['batch', parameters.inputSize])],
    output: [floatValueInfo('output', ['batch', parameters.outputSize])],
  })
  return encodeModel(graph)
}

/** The bytes of an ONNX model (IR 8, default opset 13) holding `graph`. */
export function encodeModel(graph: InstanceType<typeof onnx.GraphProto>): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'tessera',
    producerVersion: '0.1.0',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph,
  })
  return onnx.ModelProto.encode(model).finish()
}

/** Seeded input rows in [-1, 1): `rows × inputSize` float32, row-major. */
export function makeInput(parameters: { seed: number; rows: number; inputSize: number }): Float32Array {
  const { seed, rows, inputSize } = parameters
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`makeInput: rows must be a positive integer, got ${rows}`)
  if (!Number.isInteger(inputSize) || inputSize < 1) throw new Error(`makeInput: inputSize must be a positive integer, got ${inputSize}`)
  const next = createPrng(seed ^ 0x9e3779b9)
  const out = new Float32Array(rows * inputSize)
  for (let i = 0; i < out.length; i++) out[i] = uniform(next, -1, 1)
  return out
}

/**
 * Plain-JS forward pass of the MLP (float64 accumulation, float32 storage per layer): the reference the
 * tests compare onnxruntime against. With `round` (`Math.fround`: float32 sums without fused multiply-add) every product
 * and partial sum is rounded; by default nothing is. Each output's sum runs in input index order from its bias; the
 * loops walk the weights row by row (an input's weights to every output at once), which changes no sum's order.
 */
export function referenceMlp(layers: MlpLayer[], input: Float32Array, rows: number, round?: typeof Math.fround): Float32Array {
  let x = input
  layers.forEach((layer, l) => {
    const { inSize, outSize, weight, bias } = layer
    const y = new Float32Array(rows * outSize)
    const acc = new Float64Array(outSize)
    for (let r = 0; r < rows; r++) {
      acc.set(bias)
      for (let i = 0; i < inSize; i++) {
        const xi = x[r * inSize + i]
        const w = i * outSize
        if (round) for (let o = 0; o < outSize; o++) acc[o] = round(acc[o] + round(xi * weight[w + o]))
        else for (let o = 0; o < outSize; o++) acc[o] += xi * weight[w + o]
      }
      const hidden = l < layers.length - 1
      for (let o = 0; o < outSize; o++) y[r * outSize + o] = hidden ? Math.max(0, acc[o]) : acc[o]
    }
    x = y
  })
  return x
}
