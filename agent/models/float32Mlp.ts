import { type MlpLayer, referenceMlp } from './buildMlp.ts'

/**
 * `referenceMlp` with every product and every partial sum rounded to float32 (no fused multiply-add), summed in
 * index order: a second, differently rounded forward pass that stands in for another machine's kernels when
 * measuring how far honest outputs drift apart (float32 sums drift more than `referenceMlp`'s float64 ones).
 */
export function float32Mlp(layers: MlpLayer[], input: Float32Array, rows: number): Float32Array {
  return referenceMlp(layers, input, rows, Math.fround)
}
