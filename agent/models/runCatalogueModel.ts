import ort from 'onnxruntime-node'
import type { CatalogueModel } from './modelCatalogue.ts'

/** onnxruntime session options that may change how a model's sums are split and fused, and so their rounding. */
export type SessionConfiguration = { name: string; intraOpNumThreads: number; graphOptimizationLevel: 'disabled' | 'all' }

/**
 * Intra-op threads 1 and 2 × graph optimisation `disabled` and `all`, the reference (1 thread, `disabled`) first.
 * The agent itself runs 1 thread with onnxruntime's default optimisation, `all`.
 */
export const sessionConfigurations: readonly SessionConfiguration[] = [
  { name: '1 thread, disabled', intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' },
  { name: '1 thread, all', intraOpNumThreads: 1, graphOptimizationLevel: 'all' },
  { name: '2 threads, disabled', intraOpNumThreads: 2, graphOptimizationLevel: 'disabled' },
  { name: '2 threads, all', intraOpNumThreads: 2, graphOptimizationLevel: 'all' },
]

/**
 * Runs `model` on every input in one onnxruntime session of `configuration` (sequential, one inter-op thread, as
 * agent/inferenceWorker.ts runs it) in this thread, and returns copies of the first output. For measurements and
 * tests only: `session.run` blocks the thread, which the agent never lets happen on its main one.
 */
export async function runCatalogueModel(parameters: {
  model: CatalogueModel
  configuration: SessionConfiguration
  inputs: Float32Array[]
}): Promise<Float32Array[]> {
  const { model, configuration, inputs } = parameters
  const session = await ort.InferenceSession.create(model.bytes, {
    intraOpNumThreads: configuration.intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: configuration.graphOptimizationLevel,
  })
  try {
    const outputs: Float32Array[] = []
    for (const input of inputs) {
      const tensor = new ort.Tensor('float32', input, [input.length / model.inputSize, model.inputSize])
      const results = await session.run({ [session.inputNames[0]]: tensor })
      outputs.push(new Float32Array(results[session.outputNames[0]].data as Float32Array))
      for (const t of Object.values(results)) t.dispose()
    }
    return outputs
  } finally {
    await session.release()
  }
}
