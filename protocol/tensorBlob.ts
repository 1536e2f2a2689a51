import { TesseraError } from './errors.ts'

// Typed arrays use the host's byte order; on little-endian hosts (all we ship for) bytes copy straight over.
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// Node's Buffer when there is one (agents decode inputs of up to 64 MiB, and it is many times faster than btoa/atob),
// the browser's btoa/atob otherwise: the dashboard encodes and decodes tensors in the page with this same module.
type Base64Buffer = { from(bytes: Uint8Array | string, encoding?: 'base64'): Uint8Array & { toString(encoding: 'base64'): string } }
const NodeBuffer = (globalThis as { Buffer?: Base64Buffer }).Buffer

function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes).toString('base64')
  let binary = ''
  // In slices: String.fromCharCode takes its bytes as arguments, and a call takes a bounded number of them.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array {
  if (NodeBuffer) return NodeBuffer.from(text, 'base64')
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

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
  let raw: Uint8Array
  if (littleEndianHost) raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  else {
    raw = new Uint8Array(data.length * 4)
    const view = new DataView(raw.buffer)
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true)
  }
  const json = `{"dims":${JSON.stringify(dims)},"dtype":"float32","data":"${toBase64(raw)}"}`
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
  const raw = fromBase64(data)
  const count = elementCount(dims)
  if (raw.length !== count * 4)
    throw new TensorBlobError('tensor blob data length does not match dims', {
      details: `dims ${JSON.stringify(dims)} need ${count * 4} bytes, data has ${raw.length}`,
    })
  const values = new Float32Array(count)
  if (littleEndianHost) new Uint8Array(values.buffer).set(raw)
  else {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true)
  }
  return { dims, data: values }
}
