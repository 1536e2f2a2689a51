// Runs inside a worker thread: onnxruntime-node's session.run blocks its thread, so it never runs on the main one.
import { readFile } from 'node:fs/promises'
import { parentPort, workerData } from 'node:worker_threads'
import ort from 'onnxruntime-node'
import type { ModelSignature } from '../protocol/jobInputs.ts'
import type { InspectModelParameters, RunInferenceParameters } from './inferencePool.ts'
import { pushShape, shapesOf } from './packedShapes.ts'

/**
 * One piece of work as the pool posts it (`modelBytes` only when the worker may lack the model): an inference, or an
 * inspection that loads the model and reports its inputs.
 */
export type WorkerRequest =
  | ({ op: 'run' } & RunInferenceParameters & { id: number })
  | ({ op: 'inspect' } & InspectModelParameters & { id: number })

/** What a worker did: the output of a run, the signature of an inspected model, or why it couldn't. */
export type WorkerResult = { op: 'run'; output: Float32Array; dims: number[] } | { op: 'inspect'; signature: ModelSignature }

/** Several requests in one message, handled in order and answered in one message. */
export type WorkerBatchRequest = { op: 'batch'; requests: WorkerRequest[] }

export type WorkerResponse =
  | ({ id: number; ok: true; evicted: string[]; loaded: boolean } & WorkerResult)
  | { id: number; ok: false; code: 'MODEL_NOT_LOADED' | 'MODEL_LOAD_FAILED' | 'INFERENCE_FAILED'; message: string; evicted: string[] }

/** The answers to a {@link WorkerBatchRequest}, in its order. */
export type WorkerBatchResponse = { responses: WorkerResponse[] }

/**
 * Runs of one model the worker holds, packed: their inputs end to end in one array and their shapes in one list (each
 * run's rank, then its dimensions). On small models the cost of a hand-off is per object the message carries, not per
 * byte, so a batch of runs travels as two arrays instead of one object and one array per run.
 */
export type WorkerPackedRequest = {
  op: 'packed'
  ids: number[]
  modelHash: string
  inputName?: string
  outputName?: string
  input: Float32Array
  shapes: number[]
}

/**
 * The answers to a {@link WorkerPackedRequest}, packed alike: the outputs of the runs that succeeded end to end in
 * `output` and their shapes in `shapes`, in the request's order, and each run that didn't as its own response.
 */
export type WorkerPackedResponse = { packed: number[]; output: Float32Array; shapes: number[]; failures: WorkerResponse[] }

/** The output buffers of `responses`' runs, transferred rather than copied. */
const transfers = (responses: WorkerResponse[]) =>
  responses.flatMap((r) => (r.ok && r.op === 'run' ? [r.output.buffer as ArrayBuffer] : []))

const { maxSessions = 8, intraOpNumThreads = 1 } = (workerData ?? {}) as { maxSessions?: number; intraOpNumThreads?: number }
// Map iteration order is insertion order: re-inserting on use makes the first key the least recently used.
const sessions = new Map<string, ort.InferenceSession>()

/** The session held for `modelHash`, now the most recently used; undefined when none is held. */
function heldSession(modelHash: string): ort.InferenceSession | undefined {
  const session = sessions.get(modelHash)
  if (session) {
    sessions.delete(modelHash)
    sessions.set(modelHash, session)
  }
  return session
}

type IoNames = { inputName?: string; outputName?: string }

/** The feeds of one float32 input, under `inputName` (the model's first input by default). */
const feedsOf = (session: ort.InferenceSession, input: Float32Array, dims: readonly number[], names: IoNames) => ({
  [names.inputName ?? session.inputNames[0]]: new ort.Tensor('float32', input, dims),
})

/** A run's output `outputName` (the model's first by default), which must be float32; the caller disposes `results`. */
function outputOf(session: ort.InferenceSession, results: ort.InferenceSession.OnnxValueMapType, names: IoNames): ort.Tensor {
  const outputName = names.outputName ?? session.outputNames[0]
  const out = results[outputName]
  if (!out) throw new Error(`model has no output named "${outputName}"`)
  if (out.type !== 'float32') throw new Error(`model output "${outputName}" is ${out.type}, expected float32`)
  return out
}

const dispose = (results: ort.InferenceSession.OnnxValueMapType) => {
  for (const t of Object.values(results)) t.dispose?.()
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

async function sessionFor(
  request: WorkerRequest,
  evicted: string[],
): Promise<{ session: ort.InferenceSession; loaded: boolean } | undefined> {
  const cached = heldSession(request.modelHash)
  if (cached) return { session: cached, loaded: false }
  const bytes = request.modelBytes ?? (request.modelPath ? new Uint8Array(await readFile(request.modelPath)) : undefined)
  if (!bytes) return undefined
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads, interOpNumThreads: 1, executionMode: 'sequential' })
  sessions.set(request.modelHash, session)
  while (sessions.size > maxSessions) {
    const [oldest, old] = sessions.entries().next().value as [string, ort.InferenceSession]
    sessions.delete(oldest)
    evicted.push(oldest)
    await old.release().catch(() => {})
  }
  return { session, loaded: true }
}

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  const evicted: string[] = []
  let found: Awaited<ReturnType<typeof sessionFor>>
  try {
    found = await sessionFor(request, evicted)
  } catch (error) {
    return {
      id: request.id,
      ok: false,
      code: 'MODEL_LOAD_FAILED',
      message: messageOf(error),
      evicted,
    }
  }
  try {
    if (!found)
      return {
        id: request.id,
        ok: false,
        code: 'MODEL_NOT_LOADED',
        message: `model ${request.modelHash} is not loaded in this worker`,
        evicted,
      }
    const { session, loaded } = found
    if (request.op === 'inspect') return { id: request.id, ok: true, op: 'inspect', signature: signatureOf(session), evicted, loaded }
    const results = await session.run(feedsOf(session, request.input, request.dims, request))
    const out = outputOf(session, results, request)
    // Copy out of onnxruntime's buffer so it can be transferred and the tensor disposed.
    const output = new Float32Array(out.data as Float32Array)
    const dims = Array.from(out.dims)
    dispose(results)
    return { id: request.id, ok: true, op: 'run', output, dims, evicted, loaded }
  } catch (error) {
    return { id: request.id, ok: false, code: 'INFERENCE_FAILED', message: messageOf(error), evicted }
  }
}

/**
 * Runs a packed batch in order. A run that fails is answered on its own, as {@link handle} would; if the model isn't
 * held, each run fails with MODEL_NOT_LOADED and the pool resends it with the bytes.
 */
async function handlePacked(request: WorkerPackedRequest): Promise<WorkerPackedResponse> {
  const packed: number[] = []
  const outputs: Float32Array[] = []
  const shapes: number[] = []
  const failures: WorkerResponse[] = []
  const held: ort.InferenceSession.OnnxValueMapType[] = []
  const session = heldSession(request.modelHash)
  const inputs = shapesOf(request.shapes)
  let offset = 0
  for (const [i, id] of request.ids.entries()) {
    const { dims, size } = inputs[i] as { dims: number[]; size: number }
    const input = request.input.subarray(offset, offset + size)
    offset += size
    if (!session) {
      const message = `model ${request.modelHash} is not loaded in this worker`
      failures.push({ id, ok: false, code: 'MODEL_NOT_LOADED', message, evicted: [] })
      continue
    }
    try {
      const results = await session.run(feedsOf(session, input, dims, request))
      const out = outputOf(session, results, request)
      // Copied into the one output below, then disposed.
      outputs.push(out.data as Float32Array)
      held.push(results)
      pushShape(shapes, out.dims)
      packed.push(id)
    } catch (error) {
      failures.push({ id, ok: false, code: 'INFERENCE_FAILED', message: messageOf(error), evicted: [] })
    }
  }
  const output = new Float32Array(outputs.reduce((n, o) => n + o.length, 0))
  offset = 0
  for (const o of outputs) {
    output.set(o, offset)
    offset += o.length
  }
  for (const results of held) dispose(results)
  return { packed, output, shapes, failures }
}

/** The model's inputs as onnxruntime declares them; a non-tensor input is reported with type `non-tensor`. */
function signatureOf(session: ort.InferenceSession): ModelSignature {
  return {
    inputs: session.inputMetadata.map((input) =>
      input.isTensor
        ? { name: input.name, type: input.type, shape: [...input.shape] }
        : { name: input.name, type: 'non-tensor', shape: [] },
    ),
  }
}

/**
 * Releases every session, then closes the port so the thread ends on its own. Terminating a thread that still
 * holds sessions tears onnxruntime down under them, which can abort the whole process.
 */
async function shutDown(): Promise<void> {
  const open = [...sessions.values()]
  sessions.clear()
  for (const session of open) await session.release().catch(() => {})
  parentPort?.close()
}

// Requests are handled one at a time, in the order they came: the pool pipelines several, and a later one counts on
// the model an earlier one loads. Close waits its turn too, after everything sent before it.
let turn: Promise<void> = Promise.resolve()
parentPort?.on('message', (request: WorkerRequest | WorkerBatchRequest | WorkerPackedRequest | { op: 'close' }) => {
  turn = turn.then(async () => {
    if (request.op === 'close') return shutDown()
    if (request.op === 'packed') {
      const response = await handlePacked(request)
      parentPort?.postMessage(response, [response.output.buffer as ArrayBuffer])
      return
    }
    if (request.op === 'batch') {
      const responses: WorkerResponse[] = []
      for (const one of request.requests) responses.push(await handle(one))
      parentPort?.postMessage({ responses } satisfies WorkerBatchResponse, transfers(responses))
      return
    }
    const response = await handle(request)
    parentPort?.postMessage(response, transfers([response]))
  })
})
