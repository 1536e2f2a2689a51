import os from 'node:os'
import { TesseraError } from './errors.ts'

// Typed arrays use the host's byte order; on little-endian hosts (all we ship for) bytes copy straight over.
const littleEndianHost = os.endianness() === 'LE'

/** A decoded tensor blob: row-major float32 values and their shape. */
export type Tensor = { dims: number[]; data: Float32Array }

/** A tensor blob that does not follow PROTOCOL.md's format. Not retryable: the bytes are wrong. */
export class TensorBlobError extends TesseraError {
  override name = 'TensorBlobError'
}

function checkDims(dims: unknown): number[] {
  if (!Array.isArray(dims) || dims.length === 0)
    throw new TensorBlobError('tensor blob dims must be a non-empty array', { details: `got ${JSON.stringify(dims)}` })
  for (const d of dims)
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw new TensorBlobError('tensor blob dims must be non-negative integers', { details: `got ${JSON.stringify(dims)}` })
  return dims as number[]
}

/** Number of elements a shape holds. */
function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}

/**
 * Encodes a float32 tensor as the JSON blob of PROTOCOL.md:
 * `{"dims":[n,d],"dtype":"float32","data":"<base64 of little-endian float32>"}`.
 * Key order and spacing are fixed, so equal tensors give equal bytes (and equal sha256).
 */
export function encodeTensorBlob(tensor: Tensor): Uint8Array {
  const dims = checkDims(tensor.dims)
  const { data } = tensor
  if (!(data instanceof Float32Array)) throw new TensorBlobError('tensor data must be a Float32Array')
  if (elementCount(dims) !== data.length)
    throw new TensorBlobError('tensor data length does not match dims', {
      details: `dims ${JSON.stringify(dims)} hold ${elementCount(dims)} values, data has ${data.length}`,
    })
  let raw: Buffer
  if (littleEndianHost) raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  else {
    raw = Buffer.alloc(data.length * 4)
    for (let i = 0; i < data.length; i++) raw.writeFloatLE(data[i], i * 4)
  }
  const json = `{"dims":${JSON.stringify(dims)},"dtype":"float32","data":"${raw.toString('base64')}"}`
  return new TextEncoder().encode(json)
}

/**
 * Decodes and strictly validates a tensor blob (bytes or its JSON text). Throws `TensorBlobError` on anything
 * else: bytes that are not UTF-8, bad JSON, a dtype other than float32, malformed base64, a byte length that is not 4 × the product of dims.
 */
export function decodeTensorBlob(blob: Uint8Array | string): Tensor {
  let text: string
  try {
    text = typeof blob === 'string' ? blob : new TextDecoder('utf-8', { fatal: true }).decode(blob)
  } catch (cause) {
    throw new TensorBlobError('tensor blob is not UTF-8 text', { cause })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new TensorBlobError('tensor blob is not valid JSON', { cause })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TensorBlobError('tensor blob must be a JSON object')
  const { dims: rawDims, dtype, data } = parsed as Record<string, unknown>
  if (dtype !== 'float32') throw new TensorBlobError(`unsupported tensor dtype ${JSON.stringify(dtype)}: only "float32"`)
  const dims = checkDims(rawDims)
  if (typeof data !== 'string') throw new TensorBlobError('tensor blob data must be a base64 string')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0)
    throw new TensorBlobError('tensor blob data is not valid base64', { details: `length ${data.length}` })
  const raw = Buffer.from(data, 'base64')
  const count = elementCount(dims)
  if (raw.length !== count * 4)
    throw new TensorBlobError('tensor blob data length does not match dims', {
      details: `dims ${JSON.stringify(dims)} need ${count * 4} bytes, data has ${raw.length}`,
    })
  const values = new Float32Array(count)
  if (littleEndianHost) new Uint8Array(values.buffer).set(raw)
  else for (let i = 0; i < count; i++) values[i] = raw.readFloatLE(i * 4)
  return { dims, data: values }
}
