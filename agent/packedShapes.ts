/**
 * The shapes of packed runs (the inference pool's batches of one model, see inferenceWorker.ts) as one flat list: each
 * run's rank, then its dimensions. A module of its own: inferenceWorker.ts answers its thread's port as soon as it is
 * loaded, so any other thread (a server's query thread, say) may import only its types.
 */

/** Appends `dims` to `shapes` as its rank, then its dimensions. */
export function pushShape(shapes: number[], dims: readonly number[]): void {
  shapes.push(dims.length)
  for (const d of dims) shapes.push(d)
}

/** The shapes {@link pushShape} listed in `shapes`, in order, each with its number of values. */
export function shapesOf(shapes: readonly number[]): { dims: number[]; size: number }[] {
  const out: { dims: number[]; size: number }[] = []
  for (let at = 0; at < shapes.length; ) {
    const rank = shapes[at] as number
    const dims = shapes.slice(at + 1, at + 1 + rank)
    at += 1 + rank
    out.push({ dims, size: dims.reduce((a, b) => a * b, 1) })
  }
  return out
}
