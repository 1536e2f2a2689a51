import type { Tensor } from './tensorBlob.ts'

const magic = [0x93, ...new TextEncoder().encode('NUMPY')]

/**
 * Encodes a float32 tensor as a NumPy `.npy` file, format version 1.0: the magic, the version, a little-endian uint16
 * header length, then a Python dict literal (`descr` `<f4`, C order, the shape) padded with spaces and ended by a
 * newline so the data starts on a 64-byte boundary, then the values as little-endian float32. `numpy.load` reads it.
 */
export function encodeNpy(tensor: Tensor): Uint8Array {
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`
  const preamble = magic.length + 2 + 2
  const headerLength = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble
  const header = `${dict}${' '.repeat(headerLength - dict.length - 1)}\n`
  const out = new Uint8Array(preamble + headerLength + tensor.data.length * 4)
  const view = new DataView(out.buffer)
  out.set(magic, 0)
  out[6] = 1
  out[7] = 0
  view.setUint16(8, headerLength, true)
  out.set(new TextEncoder().encode(header), preamble)
  for (let i = 0; i < tensor.data.length; i++) view.setFloat32(preamble + headerLength + i * 4, tensor.data[i], true)
  return out
}
