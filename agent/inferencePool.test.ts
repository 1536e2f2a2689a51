import { Worker } from 'node:worker_threads'
import ort from 'onnxruntime-node'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { startTypeScriptWorker } from '../protocol/typescriptWorker.ts'
import {
  disableTf32,
  InferenceError,
  InferenceOutOfMemoryError,
  InferencePool,
  ModelLoadError,
  spawnInferenceWorker,
  stopWorker,
} from './inferencePool.ts'
import type { WorkerResponse } from './inferenceWorker.ts'
import { buildBroadcast } from './models/buildBroadcast.ts'
import { buildMlp, makeInput, mlpWeights, referenceMlp } from './models/buildMlp.ts'

describe('InferencePool', () => {
  const pool = new InferencePool({ size: 2, maxSessionsPerWorker: 1 })
  afterAll(() => pool.close())
  const specA = { seed: 1, inputSize: 16, hiddenSize: 32, outputSize: 8 }
  const specB = { seed: 2, inputSize: 16, hiddenSize: 32, outputSize: 4 }
  const modelA = buildMlp(specA)
  const modelB = buildMlp(specB)

  it('runs real onnxruntime inference in workers, concurrently, without blocking the main thread', async () => {
    const x = makeInput({ seed: 5, rows: 64, inputSize: 16 })
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        pool.run({ modelHash: sha256Hex(i % 2 ? modelB : modelA), modelBytes: i % 2 ? modelB : modelA, input: x, dims: [64, 16] }),
      ),
    )
    clearInterval(timer)
    expect(ticks).toBeGreaterThan(0)
    const expectedA = referenceMlp(mlpWeights(specA), x, 64)
    const expectedB = referenceMlp(mlpWeights(specB), x, 64)
    results.forEach((r, i) => {
      const expected = i % 2 ? expectedB : expectedA
      expect(r.dims).toEqual([64, i % 2 ? 4 : 8])
      for (let j = 0; j < expected.length; j++) expect(r.output[j]).toBeCloseTo(expected[j], 5)
    })
  })

  it('reuses cached sessions without the bytes and reloads after eviction', async () => {
    const x = makeInput({ seed: 9, rows: 2, inputSize: 16 })
    // Every worker has seen both models by now with a 1-session cache: some have evicted A.
    for (let i = 0; i < 4; i++) {
      const r = await pool.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [2, 16] })
      expect(r.dims).toEqual([2, 8])
    }
  })

  it('rejects an unknown model without bytes, a bad shape and garbage models with InferenceError', async () => {
    const x = makeInput({ seed: 9, rows: 2, inputSize: 16 })
    await expect(pool.run({ modelHash: '0xunknown', input: x, dims: [2, 16] })).rejects.toThrow(/model not available/)
    await expect(pool.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [4, 16] })).rejects.toThrow(
      /does not match dims/,
    )
    await expect(pool.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [4, 8] })).rejects.toBeInstanceOf(
      InferenceError,
    )
    const junk = new Uint8Array([1, 2, 3, 4])
    const failure = pool.run({ modelHash: sha256Hex(junk), modelBytes: junk, input: x, dims: [2, 16] })
    await expect(failure).rejects.toThrow(ModelLoadError)
    await expect(failure).rejects.toMatchObject({ reason: 'MODEL_INVALID', retryable: false })
  })

  it('inspects a model: the inputs it declares, or why it does not load', async () => {
    expect(await pool.inspect({ modelHash: sha256Hex(modelA), modelBytes: modelA })).toEqual({
      inputs: [{ name: 'input', type: 'float32', shape: ['batch', 16] }],
    })
    const junk = new Uint8Array([1, 2, 3, 4, 5])
    await expect(pool.inspect({ modelHash: sha256Hex(junk), modelBytes: junk })).rejects.toMatchObject({ reason: 'MODEL_INVALID' })
    const exotic = buildMlp({ ...specA, activation: 'NoSuchOperator' })
    await expect(pool.inspect({ modelHash: sha256Hex(exotic), modelBytes: exotic })).rejects.toMatchObject({
      name: 'ModelLoadError',
      reason: 'UNSUPPORTED_OPERATOR',
    })
  })

  it('tells a run that runs out of memory (OUT_OF_MEMORY) from other failures, and the worker goes on', async () => {
    const x = makeInput({ seed: 4, rows: 2, inputSize: 16 })
    const fits = buildBroadcast({ inputSize: 16, copies: 3n })
    expect((await pool.run({ modelHash: sha256Hex(fits), modelBytes: fits, input: x, dims: [2, 16] })).dims).toEqual([3, 2, 16])
    // 2^44 copies of 2 × 16 float32s: 2^51 bytes, more than a process can address.
    const greedy = buildBroadcast({ inputSize: 16, copies: 2n ** 44n })
    const run = pool.run({ modelHash: sha256Hex(greedy), modelBytes: greedy, input: x, dims: [2, 16] })
    await expect(run).rejects.toBeInstanceOf(InferenceOutOfMemoryError)
    await expect(run).rejects.toMatchObject({ reason: 'OUT_OF_MEMORY', retryable: false })
    const r = await pool.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [2, 16] })
    expect(r.dims).toEqual([2, 8])
  })

  it('pipelines requests: a worker loads a model once for a burst sent at once, and a load that fails fails the whole burst', async () => {
    const one = new InferencePool({ size: 1, pipelineDepth: 4 })
    try {
      const x = makeInput({ seed: 6, rows: 3, inputSize: 16 })
      const burst = await Promise.all(
        Array.from({ length: 12 }, () => one.run({ modelHash: sha256Hex(modelB), modelBytes: modelB, input: x, dims: [3, 16] })),
      )
      const expected = referenceMlp(mlpWeights(specB), x, 3)
      for (const r of burst) for (let j = 0; j < expected.length; j++) expect(r.output[j]).toBeCloseTo(expected[j], 5)
      // Four in flight behind a load that fails: every one is refused as the model's failure, none hangs or runs.
      const junk = new Uint8Array([9, 9, 9, 9])
      const refused = await Promise.allSettled(
        Array.from({ length: 4 }, () => one.run({ modelHash: sha256Hex(junk), modelBytes: junk, input: x, dims: [3, 16] })),
      )
      for (const r of refused) expect(r).toMatchObject({ status: 'rejected', reason: { name: 'ModelLoadError', reason: 'MODEL_INVALID' } })
      expect(one.pending).toBe(0)
      // The worker goes on with the model it holds.
      expect((await one.run({ modelHash: sha256Hex(modelB), input: x, dims: [3, 16] })).dims).toEqual([3, 4])
    } finally {
      await one.close()
    }
  })

  it('sends a burst in batches, and keeps batching as answers come back instead of refilling one request per message', async () => {
    const batched = new InferencePool({ size: 2, pipelineDepth: 32 })
    const posted: number[] = []
    const post = Worker.prototype.postMessage
    const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, message: unknown, transfer) {
      const m = message as { op: string; requests?: unknown[]; ids?: number[] }
      if (m.op === 'batch' || m.op === 'run' || m.op === 'packed') posted.push(m.requests?.length ?? m.ids?.length ?? 1)
      return post.call(this, message, transfer)
    })
    try {
      const x = makeInput({ seed: 8, rows: 2, inputSize: 16 })
      const results = await Promise.all(
        Array.from({ length: 400 }, () => batched.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [2, 16] })),
      )
      const expected = referenceMlp(mlpWeights(specA), x, 2)
      for (const r of results) for (let j = 0; j < expected.length; j++) expect(r.output[j]).toBeCloseTo(expected[j], 5)
      // 400 requests at up to 32 per message: 13 messages when every one is full; a few may go short where a worker's
      // answer finds less than a batch queued. One request per message (the old refill) would be 400.
      expect(posted.reduce((a, b) => a + b, 0)).toBe(400)
      expect(posted.length).toBeLessThanOrEqual(20)
    } finally {
      spy.mockRestore()
      await batched.close()
    }
  })

  it('packs runs of a model a worker holds: each output is exactly what a session of its own computes, in its own shape', async () => {
    const packing = new InferencePool({ size: 2, pipelineDepth: 32 })
    const posted: string[] = []
    const post = Worker.prototype.postMessage
    const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, message: unknown, transfer) {
      posted.push((message as { op: string }).op)
      return post.call(this, message, transfer)
    })
    const session = await ort.InferenceSession.create(modelA, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' })
    try {
      const inputs = Array.from({ length: 300 }, (_, i) => makeInput({ seed: 100 + i, rows: 1 + (i % 8), inputSize: 16 }))
      const results = await Promise.all(
        inputs.map((x) => packing.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [x.length / 16, 16] })),
      )
      expect(posted).toContain('packed')
      for (const [i, x] of inputs.entries()) {
        const own = await session.run({ input: new ort.Tensor('float32', x, [x.length / 16, 16]) })
        expect(results[i]?.dims).toEqual([x.length / 16, 8])
        expect(Array.from(results[i]?.output ?? [])).toEqual(Array.from(own.output?.data as Float32Array))
      }
    } finally {
      spy.mockRestore()
      await session.release()
      await packing.close()
    }
  })

  it('a run that fails in a packed batch fails alone; runs packed for a model the worker no longer holds are resent with it', async () => {
    const one = new InferencePool({ size: 1, maxSessionsPerWorker: 1, pipelineDepth: 32 })
    try {
      const x = makeInput({ seed: 4, rows: 2, inputSize: 16 })
      const run = (model: Uint8Array, dims = [2, 16]) => one.run({ modelHash: sha256Hex(model), modelBytes: model, input: x, dims })
      await run(modelA)
      // A wrong shape (the right number of values) among good runs: only it is refused.
      const mixed = await Promise.allSettled([run(modelA), run(modelA), run(modelA, [4, 8]), run(modelA)])
      expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
      expect(mixed[2]).toMatchObject({ reason: { name: 'InferenceError', message: 'inference failed' } })
      // B goes alone and evicts A; the pool still counts A as held and packs the A runs behind it, which the worker
      // answers MODEL_NOT_LOADED: each is resent with the bytes and runs.
      const posted: { op: string; withBytes: boolean }[] = []
      const post = Worker.prototype.postMessage
      const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, message: unknown, transfer) {
        const m = message as { op: string; modelBytes?: Uint8Array }
        posted.push({ op: m.op, withBytes: m.modelBytes !== undefined })
        return post.call(this, message, transfer)
      })
      const b = run(modelB)
      await Promise.resolve()
      const again = await Promise.all(Array.from({ length: 16 }, () => run(modelA))).finally(() => spy.mockRestore())
      expect(posted.slice(0, 2)).toEqual([
        { op: 'run', withBytes: true },
        { op: 'packed', withBytes: false },
      ])
      expect(posted.slice(2)).toEqual(Array.from({ length: 16 }, () => ({ op: 'run', withBytes: true })))
      expect((await b).dims).toEqual([2, 4])
      const expected = referenceMlp(mlpWeights(specA), x, 2)
      for (const r of again) for (let j = 0; j < expected.length; j++) expect(r.output[j]).toBeCloseTo(expected[j], 5)
      expect(one.pending).toBe(0)
    } finally {
      await one.close()
    }
  })

  it('a worker that dies with a pipelined burst in hand fails each of its requests as retryable, and a new worker takes over', async () => {
    const one = new InferencePool({ size: 1, pipelineDepth: 8 })
    try {
      const x = makeInput({ seed: 8, rows: 64, inputSize: 16 })
      const burst = Array.from({ length: 8 }, () =>
        one.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [64, 16] }).then(
          () => 'ran',
          (error: unknown) => error,
        ),
      )
      // The vanishing machine: its worker thread ends with the burst in flight.
      const slots = (one as unknown as { slots: { worker: { terminate: () => Promise<number> } }[] }).slots
      await slots[0]?.worker.terminate()
      const outcomes = await Promise.all(burst)
      const lost = outcomes.filter((o) => o !== 'ran')
      expect(lost.length).toBeGreaterThan(0)
      for (const error of lost) expect(error).toMatchObject({ name: 'InferenceError', retryable: true })
      expect(one.pending).toBe(0)
      expect((await one.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [64, 16] })).dims).toEqual([64, 8])
    } finally {
      await one.close()
    }
  })

  it('finishes queued work on close, then refuses more', async () => {
    const p2 = new InferencePool({ size: 1 })
    const x = makeInput({ seed: 1, rows: 8, inputSize: 16 })
    const runs = [1, 2, 3].map(() => p2.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [8, 16] }))
    await p2.close()
    expect((await Promise.all(runs)).map((r) => r.dims)).toEqual([
      [8, 8],
      [8, 8],
      [8, 8],
    ])
    await expect(p2.run({ modelHash: sha256Hex(modelA), modelBytes: modelA, input: x, dims: [8, 16] })).rejects.toThrow(/closed/)
  })

  it('a worker holding sessions releases them and exits by itself when closed, so onnxruntime is never torn down under it', async () => {
    const worker = spawnInferenceWorker({ maxSessions: 2, intraOpNumThreads: 1 })
    const answered = new Promise<WorkerResponse>((resolve) => worker.once('message', resolve))
    const input = makeInput({ seed: 3, rows: 4, inputSize: 16 })
    worker.postMessage({ op: 'run', id: 1, modelHash: sha256Hex(modelA), modelBytes: modelA, input, dims: [4, 16] })
    expect(await answered).toMatchObject({ id: 1, ok: true, loaded: true, dims: [4, 8] })
    const exitCode = new Promise<number>((resolve) => worker.once('exit', resolve))
    expect(await stopWorker(worker)).toBe('exited')
    expect(await exitCode).toBe(0) // terminate() would have exited with 1
  })

  it('loading the pool in another worker thread leaves that thread’s messages to it (no inference handler listens there)', async () => {
    const worker = startTypeScriptWorker(new URL('./testing/poolUserWorker.ts', import.meta.url), undefined)
    try {
      const replies: unknown[] = []
      const echoed = new Promise<void>((resolve) =>
        worker.on('message', (m: { echo?: number }) => {
          replies.push(m)
          if (m.echo !== undefined) resolve()
        }),
      )
      worker.postMessage({ id: 1 })
      await echoed
      // Had the worker's module been loaded there too, its handler would answer as well: `{ id: 1, ok: false, … }`.
      await new Promise((r) => setTimeout(r, 200))
      expect(replies).toEqual([{ echo: 1 }])
    } finally {
      await worker.terminate()
    }
  })

  it('turns TF32 off for CUDA unless the operator chose otherwise', () => {
    expect(disableTf32({})).toBe('0')
    const env: NodeJS.ProcessEnv = {}
    disableTf32(env)
    expect(env.NVIDIA_TF32_OVERRIDE).toBe('0')
    expect(disableTf32({ NVIDIA_TF32_OVERRIDE: '1' })).toBe('1')
  })

  it('sets it in the process environment before a worker starts', async () => {
    const before = process.env.NVIDIA_TF32_OVERRIDE
    delete process.env.NVIDIA_TF32_OVERRIDE
    try {
      const worker = spawnInferenceWorker({ maxSessions: 1, intraOpNumThreads: 1 })
      expect(process.env.NVIDIA_TF32_OVERRIDE).toBe('0')
      await stopWorker(worker)
    } finally {
      process.env.NVIDIA_TF32_OVERRIDE = before ?? '0'
    }
  })
})
