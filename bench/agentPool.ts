/**
 * The agent's inference pool (`agent/inferencePool.ts`: worker threads, pipelined) against a plain onnxruntime-node
 * loop on the main thread (one session, `await session.run` back to back), on a small and a large catalogue model:
 * inferences per second over the same seeded inputs (1 to 8 rows), in blocks A B B A, and the main thread's
 * event-loop delay p99 meanwhile (what a loop that blocks its thread costs the agent's timers and sockets).
 * `npx tsx bench/agentPool.ts` runs this alone and rewrites its section of BENCHMARKS.md.
 */
import { createHash } from 'node:crypto'
import { cpus } from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import ort from 'onnxruntime-node'
import { defaultPipelineDepth, InferencePool, maxBatch } from '../agent/inferencePool.ts'
import { type CatalogueModel, catalogueInputs, modelCatalogue } from '../agent/models/modelCatalogue.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

export type PoolRun = {
  model: string
  shape: string
  side: 'pool' | 'plain loop'
  inferences: number
  perSecond: number
  /** The main thread's event-loop delay p99 while it ran (ms). */
  loopDelayP99Ms: number
}

export type AgentPoolBenchReturnType = {
  runs: PoolRun[]
  ratios: { model: string; ratio: number }[]
  poolSize: number
  onnxruntime: string
}

const rowsOf = (model: CatalogueModel, input: Float32Array) => input.length / model.inputSize

async function timed(run: () => Promise<void>, inferences: number): Promise<{ perSecond: number; loopDelayP99Ms: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const t0 = performance.now()
  await run()
  const seconds = (performance.now() - t0) / 1000
  delay.disable()
  return { perSecond: inferences / seconds, loopDelayP99Ms: delay.percentile(99) / 1e6 }
}

export async function agentPoolBench(parameters: { inferences?: Record<string, number> } = {}): Promise<AgentPoolBenchReturnType> {
  const counts = parameters.inferences ?? { small: 40000, wide: 4000 }
  const models = modelCatalogue().filter((m) => m.name in counts)
  const pool = new InferencePool()
  const runs: PoolRun[] = []
  try {
    for (const model of models) {
      const n = counts[model.name] as number
      const inputs = catalogueInputs({ model, count: n })
      const modelHash = createHash('sha256').update(model.bytes).digest('hex')
      const session = await ort.InferenceSession.create(model.bytes, {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
      })
      const inputName = session.inputNames[0] as string
      const plain = async () => {
        for (const input of inputs) {
          const results = await session.run({ [inputName]: new ort.Tensor('float32', input, [rowsOf(model, input), model.inputSize]) })
          for (const t of Object.values(results)) t.dispose?.()
        }
      }
      const pooled = async () => {
        await Promise.all(
          inputs.map((input) => pool.run({ modelHash, modelBytes: model.bytes, input, dims: [rowsOf(model, input), model.inputSize] })),
        )
      }
      // Warm both (sessions loaded in every worker), then A B B A.
      await plain()
      await pooled()
      await pooled()
      const measured = {
        pool: [] as { perSecond: number; loopDelayP99Ms: number }[],
        'plain loop': [] as { perSecond: number; loopDelayP99Ms: number }[],
      }
      for (const side of ['pool', 'plain loop', 'plain loop', 'pool'] as const)
        measured[side].push(await timed(side === 'pool' ? pooled : plain, n))
      await session.release()
      for (const side of ['pool', 'plain loop'] as const) {
        const m = measured[side]
        runs.push({
          model: model.name,
          shape: model.shape,
          side,
          inferences: n,
          perSecond: m.reduce((a, b) => a + b.perSecond, 0) / m.length,
          loopDelayP99Ms: Math.max(...m.map((x) => x.loopDelayP99Ms)),
        })
      }
    }
  } finally {
    await pool.close()
  }
  const ratios = models.map((m) => {
    const rate = (side: PoolRun['side']) => runs.find((r) => r.model === m.name && r.side === side)?.perSecond ?? Number.NaN
    return { model: m.name, ratio: rate('pool') / rate('plain loop') }
  })
  const { version } = (await import('onnxruntime-node/package.json', { with: { type: 'json' } })).default as { version: string }
  return { runs, ratios, poolSize: pool.size, onnxruntime: version }
}

/** The BENCHMARKS.md section of a run. */
export function agentPoolSection(bench: AgentPoolBenchReturnType): string[] {
  const cpu = cpus()
  const row = (model: string, side: PoolRun['side']) => bench.runs.find((r) => r.model === model && r.side === side)
  return [
    '## Agent: the inference pool against a plain onnxruntime-node loop',
    '',
    `Time, so ratios: the agent's pool (${bench.poolSize} worker threads, up to ${defaultPipelineDepth} requests in flight per worker, sent in batches of up to ${maxBatch}, runs of one model packed in two arrays per message, one ` +
      'onnxruntime intra-op thread per session) against one session on the main thread running the same seeded inputs ' +
      `(1 to 8 rows) back to back, onnxruntime-node ${bench.onnxruntime}, in blocks A B B A, measured on ` +
      `${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ${process.versions.node}, ` +
      `${new Date().toISOString().slice(0, 10)}, by \`bench/agentPool.ts\`. Event-loop delay: the main thread's p99 while ` +
      'each ran (`monitorEventLoopDelay`), the worst block: what the agent’s timers, heartbeats and sockets wait.',
    '',
    '| model | pool (inferences/s) | plain loop (inferences/s) | ratio | pool: main-thread delay p99 (ms) | plain loop: main-thread delay p99 (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...bench.ratios.map(({ model, ratio }) => {
      const p = row(model, 'pool')
      const l = row(model, 'plain loop')
      return (
        `| ${model} (${p?.shape}) | ${p?.perSecond.toFixed(0)} | ${l?.perSecond.toFixed(0)} | ${ratio.toFixed(2)} | ` +
        `${p?.loopDelayP99Ms.toFixed(1)} | ${l?.loopDelayP99Ms.toFixed(1)} |`
      )
    }),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await agentPoolBench()
  writeSection(benchmarksFile, agentPoolSection(bench))
  console.log(JSON.stringify(bench, null, 2))
  process.exit(0)
}
