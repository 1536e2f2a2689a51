import onnxProto from 'onnx-proto'
import { encodeModel, floatValueInfo } from './buildMlp.ts'

const { onnx } = onnxProto

/**
 * Builds a float32 model as ONNX bytes whose `output [copies, batch, inputSize]` is `input [batch, inputSize]` repeated
 * `copies` times (one `Expand`). It loads anywhere; with `copies` large enough its inference asks onnxruntime for
 * more memory than any machine can address, so tests get a real out-of-memory failure at run time.
 */
export function buildBroadcast(parameters: { inputSize: number; copies: bigint }): Uint8Array {
  const { inputSize, copies } = parameters
  // ONNX raw data is little-endian, whatever the host.
  const shape = new Uint8Array(3 * 8)
  const view = new DataView(shape.buffer)
  for (const [i, d] of [copies, 1n, BigInt(inputSize)].entries()) view.setBigInt64(i * 8, d, true)
  const graph = onnx.GraphProto.create({
    name: 'tessera_broadcast',
    node: [onnx.NodeProto.create({ name: 'expand', opType: 'Expand', input: ['input', 'shape'], output: ['output'] })],
    initializer: [
      onnx.TensorProto.create({
        name: 'shape',
        dims: [3],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: shape,
      }),
    ],
    input: [floatValueInfo('input', ['batch', inputSize])],
    output: [floatValueInfo('output', ['copies', 'batch', inputSize])],
  })
  return encodeModel(graph)
}
