import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { sha256Hex } from '../protocol/fingerprint.ts'
import type { InferencePool } from './inferencePool.ts'
import { buildMlp, makeInput } from './models/buildMlp.ts'

/**
 * The benchmark, measured once per data dir and kept in `<dataDir>/benchmark.json`: a fresh measurement on
 * every start would differ a little each time and cost a `ProviderRegistry.update` transaction per restart.
 * Returns rows per second, rounded; a missing, unreadable or non-positive saved value is measured again.
 */
export async function cachedBenchmark(parameters: { dataDir: string; measure: () => Promise<number>; log: Logger }): Promise<number> {
  const file = path.join(parameters.dataDir, 'benchmark.json')
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { rowsPerSecond?: unknown }
    if (typeof saved.rowsPerSecond === 'number' && saved.rowsPerSecond > 0) return saved.rowsPerSecond
  } catch {}
  const rowsPerSecond = Math.round(await parameters.measure())
  await mkdir(parameters.dataDir, { recursive: true })
  await writeFile(file, `${JSON.stringify({ rowsPerSecond, measuredAt: new Date().toISOString() })}\n`)
  parameters.log.info({ rowsPerSecond }, 'inference benchmark measured')
  return rowsPerSecond
}

/** Measures inference throughput (rows per second) on a small MLP in the pool, after one warm-up run. */
export async function benchmarkThroughput(pool: InferencePool): Promise<number> {
  const model = buildMlp({ seed: 1, inputSize: 16, hiddenSize: 32, outputSize: 8 })
  const rows = 1024
  const input = makeInput({ seed: 1, rows, inputSize: 16 })
  const run = () => pool.run({ modelHash: sha256Hex(model), modelBytes: model, input, dims: [rows, 16] })
  await run()
  const runs = 5
  const started = performance.now()
  for (let i = 0; i < runs; i++) await run()
  return (rows * runs) / ((performance.now() - started) / 1000)
}
