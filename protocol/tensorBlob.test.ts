import { describe, expect, it, vi } from 'vitest'
import { decodeTensorBlob, encodeTensorBlob, TensorBlobError } from './tensorBlob.ts'

const blob = (o: unknown) => new TextEncoder().encode(JSON.stringify(o))

describe('tensor blobs', () => {
  it('round-trips and writes the exact PROTOCOL.md layout', () => {
    const data = new Float32Array([1, -2.5, 0.1, NaN, -0, Infinity])
    const bytes = encodeTensorBlob({ dims: [2, 3], data })
    const text = new TextDecoder().decode(bytes)
    expect(text).toMatch(/^\{"dims":\[2,3\],"dtype":"float32","data":"[A-Za-z0-9+/=]+"\}$/)
    const raw = Buffer.from(JSON.parse(text).data, 'base64')
    expect(raw.readFloatLE(4)).toBe(-2.5)
    const back = decodeTensorBlob(bytes)
    expect(back.dims).toEqual([2, 3])
    expect(new Uint32Array(back.data.buffer)).toEqual(new Uint32Array(data.buffer))
    expect(decodeTensorBlob(text).dims).toEqual([2, 3])
  })

  it('is deterministic', () => {
    const t = { dims: [1, 2], data: new Float32Array([3, 4]) }
    expect(encodeTensorBlob(t)).toEqual(encodeTensorBlob({ dims: [1, 2], data: new Float32Array([3, 4]) }))
  })

  it('refuses to encode data that does not match dims', () => {
    expect(() => encodeTensorBlob({ dims: [2, 2], data: new Float32Array(3) })).toThrow(/does not match dims/)
  })

  it.each([
    ['not JSON', new TextEncoder().encode('{nope'), /not valid JSON/],
    ['binary, not UTF-8', new Uint8Array([0xff, 0xfe, 0x00, 0x80]), /not UTF-8/],
    ['an array', blob([1, 2]), /JSON object/],
    ['another dtype', blob({ dims: [1], dtype: 'float64', data: 'AAAAAAAAAAA=' }), /unsupported tensor dtype "float64"/],
    ['no dtype', blob({ dims: [1], data: 'AAAAAA==' }), /unsupported tensor dtype/],
    ['empty dims', blob({ dims: [], dtype: 'float32', data: '' }), /non-empty array/],
    ['fractional dims', blob({ dims: [1.5], dtype: 'float32', data: 'AAAAAA==' }), /non-negative integers/],
    ['negative dims', blob({ dims: [-1], dtype: 'float32', data: 'AAAAAA==' }), /non-negative integers/],
    ['bad base64', blob({ dims: [1], dtype: 'float32', data: 'AA*A' }), /not valid base64/],
    [
      'short data',
      blob({ dims: [2, 2], dtype: 'float32', data: Buffer.alloc(12).toString('base64') }),
      /need 16 bytes, data has 12|does not match dims/,
    ],
    ['data not a string', blob({ dims: [1], dtype: 'float32', data: [0] }), /base64 string/],
  ])('rejects %s', (_, bytes, message) => {
    let error: unknown
    try {
      decodeTensorBlob(bytes)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TensorBlobError)
    expect((error as TensorBlobError).name).toBe('TensorBlobError')
    expect(`${(error as Error).message} ${(error as TensorBlobError).details}`).toMatch(message)
  })
})

describe('tensor blobs in a browser (no Buffer: btoa and atob)', () => {
  it('writes and reads the same bytes as under Node', async () => {
    const data = new Float32Array(70_000).map((_, i) => Math.fround(Math.sin(i) * 1e3))
    const tensor = { dims: [7, 10_000], data }
    const node = encodeTensorBlob(tensor)
    vi.stubGlobal('Buffer', undefined)
    vi.resetModules()
    try {
      const browser = await import('./tensorBlob.ts')
      const bytes = browser.encodeTensorBlob(tensor)
      expect(bytes).toEqual(node)
      expect(browser.decodeTensorBlob(node)).toEqual(tensor)
      expect(browser.decodeTensorBlob(blob({ dims: [1], dtype: 'float32', data: 'AACAPw==' })).data).toEqual(new Float32Array([1]))
    } finally {
      vi.unstubAllGlobals()
      vi.resetModules()
    }
  })
})
