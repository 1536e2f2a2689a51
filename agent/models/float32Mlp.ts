import type { MlpLayer } from './buildMlp.ts'

/**
 * `referenceMlp` with every product and every partial sum rounded to float32 (no fused multiply-add), summed in
 * index order: a second, differently rounded forward pass that stands in for another machine's kernels when
 * measuring how far honest outputs drift apart (float32 sums drift more than `referenceMlp`'s float64 ones).
 */
export function float32Mlp(layers: MlpLayer[], input: Float32Array, rows: number): Float32Array {
  const f = Math.fround
  let x = input
  layers.forEach((layer, l) => {
    const y = new Float32Array(rows * layer.outSize)
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < layer.outSize; o++) {
        let acc = layer.bias[o]
        for (let i = 0; i < layer.inSize; i++) acc = f(acc + f(x[r * layer.inSize + i] * layer.weight[i * layer.outSize + o]))
        y[r * layer.outSize + o] = l < layers.length - 1 ? Math.max(0, acc) : acc
      }
    x = y
  })
  return x
}
