import { decodeTensorBlob, encodeTensorBlob, type Tensor, TensorBlobError } from '../../../protocol/tensorBlob.ts'

export { decodeTensorBlob, encodeTensorBlob, type Tensor }

/** A tensor the page can't use, with a message for a person that names what is wrong. */
export class TensorInputError extends Error {
  override name = 'TensorInputError'
}

/** The shortest decimal that reads back as the same float32, so the number shown is the exact value. */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (Object.is(value, -0)) return '-0'
  for (let digits = 1; digits < 9; digits++) {
    const text = Number(value.toPrecision(digits)).toString()
    if (Math.fround(Number(text)) === value) return text
  }
  return Number(value.toPrecision(9)).toString()
}

const isDims = (dims: unknown): dims is number[] =>
  Array.isArray(dims) && dims.length > 0 && dims.every((d) => Number.isSafeInteger(d) && d >= 0)

const largestFloat32 = 3.4028234663852886e38

/**
 * Rows of numbers (`[[0.1, 0.2], [0.3, 0.4]]`, as typed or read from a `.json` file) as a `[rows, columns]` tensor.
 * Throws {@link TensorInputError} naming the first row or value that is wrong: not an array of arrays, no rows, a row
 * of another length than the first, a value that is not a number or beyond float32.
 */
export function tensorFromRows(rows: unknown): Tensor {
  const example = 'a JSON array of rows, e.g. [[0.1, 0.2], [0.3, 0.4]]'
  if (!Array.isArray(rows)) throw new TensorInputError(`The input must be ${example}`)
  if (rows.length === 0) throw new TensorInputError('The input has no rows: each row is one unit of the job, it needs at least one')
  const columns = Array.isArray(rows[0]) ? rows[0].length : 0
  if (columns === 0) throw new TensorInputError(`Row 1 must be a non-empty array of numbers: the input must be ${example}`)
  const data = new Float32Array(rows.length * columns)
  rows.forEach((row: unknown, r) => {
    if (!Array.isArray(row)) throw new TensorInputError(`Row ${r + 1} is ${JSON.stringify(row)}, not an array of numbers`)
    if (row.length !== columns)
      throw new TensorInputError(
        `Row ${r + 1} has ${row.length} value${row.length === 1 ? '' : 's'} but row 1 has ${columns}: every row needs the same number of values`,
      )
    row.forEach((value: unknown, c) => {
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw new TensorInputError(`Row ${r + 1}, value ${c + 1} is ${JSON.stringify(value)}, not a number`)
      if (Math.abs(value) > largestFloat32) throw new TensorInputError(`Row ${r + 1}, value ${c + 1} (${value}) is beyond float32's range`)
      data[r * columns + c] = value
    })
  })
  return { dims: [rows.length, columns], data }
}

/** Typed text: rows of numbers as JSON. */
export function tensorFromText(text: string): Tensor {
  let rows: unknown
  try {
    rows = JSON.parse(text)
  } catch (error) {
    throw new TensorInputError(`The input is not valid JSON (${(error as Error).message}): it must be a JSON array of rows`)
  }
  return tensorFromRows(rows)
}

/**
 * A NumPy `.npy` file (format 1.x or 2.x, C order) of little-endian float32 or float64, as a float32 tensor; what
 * protocol/npy.ts `encodeNpy` writes reads back unchanged.
 */
export function tensorFromNpy(bytes: Uint8Array): Tensor {
  const magic = [0x93, ...new TextEncoder().encode('NUMPY')]
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new TensorInputError('The file is not a NumPy .npy file')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const major = bytes[6]
  const lengthBytes = major === 1 ? 2 : 4
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const start = 8 + lengthBytes + headerLength
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lengthBytes, start))
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1]
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1]
  if (/'fortran_order':\s*True/.test(header)) throw new TensorInputError('The .npy file is in Fortran order: save it in C order')
  if (descr !== '<f4' && descr !== '<f8')
    throw new TensorInputError(`The .npy file holds ${descr ?? 'an unknown type'}: only little-endian float32 (<f4) or float64 (<f8)`)
  const dims = (shape ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number)
  if (!isDims(dims)) throw new TensorInputError(`The .npy file's shape (${shape}) is not a list of sizes`)
  const count = dims.reduce((a, b) => a * b, 1)
  const size = descr === '<f4' ? 4 : 8
  if (bytes.length - start !== count * size)
    throw new TensorInputError(
      `The .npy file's shape (${dims.join(', ')}) needs ${count * size} bytes of data, it has ${bytes.length - start}`,
    )
  const data = Float32Array.from({ length: count }, (_, i) =>
    size === 4 ? view.getFloat32(start + i * 4, true) : view.getFloat64(start + i * 8, true),
  )
  return { dims, data }
}

/**
 * An input file as a tensor: `.npy`, or JSON that is either a tensor blob (`{"dims", "dtype", "data"}`) or rows of
 * numbers.
 */
export function tensorFromFile(name: string, bytes: Uint8Array): Tensor {
  if (name.toLowerCase().endsWith('.npy')) return tensorFromNpy(bytes)
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new TensorInputError(`${name} is neither a .npy file nor JSON (rows of numbers, or a tensor blob)`)
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
    try {
      return decodeTensorBlob(bytes)
    } catch (error) {
      if (error instanceof TensorBlobError) throw new TensorInputError(`${name}: ${error.shortMessage}`)
      throw error
    }
  return tensorFromRows(parsed)
}
