import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { ModelCache } from './modelCache.ts'

let dataDir: string | undefined

afterEach(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

/** A model file already on disk under its sha256, so `ensure` verifies it without asking the server. */
async function onDisk(dir: string, text: string) {
  const bytes = new TextEncoder().encode(text)
  const hash = sha256Hex(bytes)
  await mkdir(path.join(dir, 'models'), { recursive: true })
  await writeFile(path.join(dir, 'models', `${hash.slice(2)}.onnx`), bytes)
  return hash
}

describe('ModelCache.held', () => {
  it('names the models verified on disk, the most recent up to a limit; none before', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-models-'))
    // Nothing listens there: the models must come from disk.
    const cache = new ModelCache({ dataDir, serverUrl: 'http://127.0.0.1:1' })
    const a = await onDisk(dataDir, 'model a')
    const b = await onDisk(dataDir, 'model b')
    expect(cache.held()).toEqual([])
    await cache.ensure(a)
    await cache.ensure(b)
    await cache.ensure(a)
    expect(cache.held()).toEqual([a, b])
    expect(cache.held(1)).toEqual([b])
    expect(cache.held(0)).toEqual([])
  })

  it('does not count a file whose bytes no longer match its hash', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-models-'))
    const cache = new ModelCache({ dataDir, serverUrl: 'http://127.0.0.1:1' })
    const a = await onDisk(dataDir, 'model a')
    await writeFile(path.join(dataDir, 'models', `${a.slice(2)}.onnx`), 'corrupted')
    await expect(cache.ensure(a)).rejects.toThrow()
    expect(cache.held()).toEqual([])
  })
})
