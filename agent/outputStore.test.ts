import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { createOutputStore } from './outputStore.ts'

describe('createOutputStore', () => {
  const dirs: string[] = []
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

  it('keeps each saved output under its hash, making its folder on the first save and again if it went', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-outputs-'))
    dirs.push(dataDir)
    const store = createOutputStore(dataDir)
    const first = new Uint8Array([1, 2, 3])
    const second = new Uint8Array([4, 5, 6, 7])
    expect(await store.read(sha256Hex(first))).toBeUndefined()
    await store.save(sha256Hex(first), first)
    expect(await store.read(sha256Hex(first))).toEqual(first)
    // The folder removed under a running agent: the next save makes it again rather than failing.
    await rm(path.join(dataDir, 'outputs'), { recursive: true })
    await store.save(sha256Hex(second), second)
    expect(await store.read(sha256Hex(second))).toEqual(second)
    expect(await store.read(sha256Hex(first))).toBeUndefined()
  })

  it('passes on a failure other than a missing folder', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-outputs-'))
    dirs.push(dataDir)
    const store = createOutputStore(dataDir)
    const bytes = new Uint8Array([9])
    // A folder where the file should go: EISDIR, not ENOENT.
    await mkdir(path.join(dataDir, 'outputs', sha256Hex(bytes).slice(2)), { recursive: true })
    await expect(store.save(sha256Hex(bytes), bytes)).rejects.toThrow(/EISDIR/)
  })
})
