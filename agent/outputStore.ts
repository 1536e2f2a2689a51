import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Hex } from 'viem'

/** How long the agent keeps its own copy of an output: long past any job's proof window. */
const keepMs = 24 * 60 * 60 * 1000

/**
 * The agent's own copies of the outputs it uploaded, under `<dataDir>/outputs/<sha256>`, so it can open an element of
 * one on request (`openingRequestWatch`) even when the server lost the blob. Copies older than a day go on the next
 * save.
 */
export function createOutputStore(dataDir: string) {
  const dir = path.join(dataDir, 'outputs')
  const fileOf = (hash: Hex) => path.join(dir, hash.slice(2).toLowerCase())
  let saves = 0
  const prune = async () => {
    const cutoff = Date.now() - keepMs
    for (const name of await readdir(dir)) {
      const file = path.join(dir, name)
      if ((await stat(file)).mtimeMs < cutoff) await rm(file, { force: true })
    }
  }
  return {
    async save(hash: Hex, bytes: Uint8Array): Promise<void> {
      // The folder is made on the first save (or again, should it have gone), not before every one.
      await writeFile(fileOf(hash), bytes).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
        await mkdir(dir, { recursive: true })
        await writeFile(fileOf(hash), bytes)
      })
      if (++saves % 100 === 1) await prune()
    },
    /** The copy's bytes, undefined when there is none. */
    async read(hash: Hex): Promise<Uint8Array | undefined> {
      try {
        return new Uint8Array(await readFile(fileOf(hash)))
      } catch {
        return undefined
      }
    },
  }
}
