import { expect, test } from 'vitest'
import { encodeNpy } from './npy.ts'

const ascii = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1')

test('a float32 tensor as NPY 1.0: magic, version, a 64-byte-aligned header naming <f4 and the shape, then little-endian values', () => {
  const npy = encodeNpy({ dims: [2, 3], data: new Float32Array([1, -2, 0.5, 3.25, 0, Number.NaN]) })
  expect(ascii(npy.subarray(0, 6))).toBe('\x93NUMPY')
  expect([npy[6], npy[7]]).toEqual([1, 0])
  const view = new DataView(npy.buffer)
  const headerLength = view.getUint16(8, true)
  expect((10 + headerLength) % 64).toBe(0)
  const header = ascii(npy.subarray(10, 10 + headerLength))
  expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/)
  expect(npy.length).toBe(10 + headerLength + 6 * 4)
  const values = Array.from({ length: 6 }, (_, i) => view.getFloat32(10 + headerLength + i * 4, true))
  expect(values.slice(0, 5)).toEqual([1, -2, 0.5, 3.25, 0])
  expect(values[5]).toBeNaN()
})

test('a one-dimensional shape is written as a Python 1-tuple', () => {
  const npy = encodeNpy({ dims: [4], data: new Float32Array(4) })
  const headerLength = new DataView(npy.buffer).getUint16(8, true)
  expect(ascii(npy.subarray(10, 10 + headerLength))).toContain("'shape': (4,), }")
})
