import { describe, expect, test } from 'vitest'
import { checkJobInputs, classifyModelLoadError, type ModelSignature } from './jobInputs.ts'

const mlp: ModelSignature = { inputs: [{ name: 'input', type: 'float32', shape: ['batch', 16] }] }
const tensor = (dims: number[]) => ({ dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) })

describe('checkJobInputs', () => {
  test('a matching input and units pass', () => {
    expect(checkJobInputs({ model: mlp, input: tensor([4, 16]), units: 4n })).toEqual([])
  })

  test('units must equal the rows the input holds', () => {
    expect(checkJobInputs({ model: mlp, input: tensor([4, 16]), units: 5n })).toEqual([
      { reason: 'INPUT_MISMATCH', message: 'units is 5 but the input holds 4 rows (its first dimension)' },
    ])
    expect(checkJobInputs({ model: mlp, input: tensor([4, 16]), units: 0n })).toHaveLength(1)
  })

  test('names a wrong rank, a wrong fixed dimension and a wrong element type', () => {
    expect(checkJobInputs({ model: mlp, input: tensor([4, 16, 1]), units: 4n })).toEqual([
      {
        reason: 'INPUT_MISMATCH',
        message: `the model's input "input" has rank 2 [batch, 16], the job's input has rank 3 [4, 16, 1]`,
      },
    ])
    expect(checkJobInputs({ model: mlp, input: tensor([4, 15]), units: 4n })).toEqual([
      { reason: 'INPUT_MISMATCH', message: `dimension 1 of the model's input "input" is 16, the job's input has 15` },
    ])
    const int64: ModelSignature = { inputs: [{ name: 'ids', type: 'int64', shape: [-1, 8] }] }
    expect(checkJobInputs({ model: int64, input: tensor([2, 8]), units: 2n })).toEqual([
      { reason: 'INPUT_MISMATCH', message: `the model's input "ids" is int64, the job's input is float32` },
    ])
  })

  test('a model with several inputs is refused: a job carries one tensor', () => {
    const two: ModelSignature = { inputs: [...mlp.inputs, { name: 'mask', type: 'float32', shape: ['batch', 16] }] }
    expect(checkJobInputs({ model: two, input: tensor([4, 16]), units: 4n })).toEqual([
      { reason: 'INPUT_MISMATCH', message: 'the model takes 2 inputs ("input", "mask"); a job supplies exactly one tensor' },
    ])
  })
})

describe('classifyModelLoadError', () => {
  test('tells unsupported operators and allocation failures from invalid models', () => {
    expect(classifyModelLoadError('Fatal error: NoSuchOperator is not a registered function/op')).toBe('UNSUPPORTED_OPERATOR')
    expect(classifyModelLoadError("Could not find an implementation for Foo(13) node with name 'x'")).toBe('UNSUPPORTED_OPERATOR')
    expect(classifyModelLoadError('std::bad_alloc')).toBe('OUT_OF_MEMORY')
    expect(classifyModelLoadError('Protobuf parsing failed.')).toBe('MODEL_INVALID')
  })
})
