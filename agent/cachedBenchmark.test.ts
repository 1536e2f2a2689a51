import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { cachedBenchmark } from './cachedBenchmark.ts'

const log = pino({ level: 'silent' })
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})
async function dataDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-benchmark-'))
  dirs.push(dir)
  return path.join(dir, 'agent') // not there yet: the first measurement creates it
}

describe('cachedBenchmark', () => {
  it('measures once per data dir, rounded, and reads the saved value after', async () => {
    const dir = await dataDir()
    let measured = 0
    const measure = async () => {
      measured++
      return 1234.6
    }
    expect(await cachedBenchmark({ dataDir: dir, measure, log })).toBe(1235)
    expect(await cachedBenchmark({ dataDir: dir, measure, log })).toBe(1235)
    expect(measured).toBe(1)
    expect(JSON.parse(await readFile(path.join(dir, 'benchmark.json'), 'utf8'))).toMatchObject({ rowsPerSecond: 1235 })
  })

  it.each([
    ['unreadable', 'not json'],
    ['zero', '{"rowsPerSecond":0}'],
    ['not a number', '{"rowsPerSecond":"fast"}'],
  ])('measures again when the saved value is %s', async (_, saved) => {
    const dir = await dataDir()
    await cachedBenchmark({ dataDir: dir, measure: async () => 1, log })
    await writeFile(path.join(dir, 'benchmark.json'), saved)
    expect(await cachedBenchmark({ dataDir: dir, measure: async () => 77, log })).toBe(77)
  })
})
