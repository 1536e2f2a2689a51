import os from 'node:os'
import type { Worker } from 'node:worker_threads'
// Keep the native binding loaded in the main thread too: native addons loaded only by worker threads
// are finalized when those workers exit, a known source of crashes at worker teardown.
import 'onnxruntime-node'
import { TesseraError } from '../protocol/errors.ts'
import { classifyModelLoadError, type JobFailureReason, type ModelSignature } from '../protocol/jobInputs.ts'
import { startTypeScriptWorker } from '../protocol/typescriptWorker.ts'
// Types only: the worker's module answers its thread's port once loaded, which in any other worker thread (a
// server's query thread imports this pool) would hijack that thread's messages.
import type {
  WorkerBatchRequest,
  WorkerBatchResponse,
  WorkerPackedRequest,
  WorkerPackedResponse,
  WorkerRequest,
  WorkerResponse,
  WorkerResult,
} from './inferenceWorker.ts'
import { pushShape, shapesOf } from './packedShapes.ts'

/**
 * An inference that failed inside a worker (bad model, wrong input shape) or because the pool shut down.
 * Retryable when the pool closed or a worker died: the same request may succeed elsewhere.
 */
export class InferenceError extends TesseraError {
  override name = 'InferenceError'
}

export type InferencePoolOptions = {
  /** Worker threads; default min(2, available cores). */
  size?: number
  /** Sessions cached per worker (least recently used evicted). Default 8. */
  maxSessionsPerWorker?: number
  /** onnxruntime intra-op threads per session. Default 1, so workers do not fight over cores. */
  intraOpNumThreads?: number
  /**
   * Requests a worker may hold unanswered (it handles them in order). Default {@link defaultPipelineDepth}: a worker
   * never waits for the main thread's round trip, which is what small models spend most of their time on.
   */
  pipelineDepth?: number
}

export type RunInferenceParameters = {
  /** sha256 of the model bytes: the session cache key. */
  modelHash: string
  /** The ONNX bytes; needed only the first time a worker sees the model (or give `modelPath`). */
  modelBytes?: Uint8Array
  /** A file holding the ONNX bytes, read by the worker itself when it has no session for `modelHash`. */
  modelPath?: string
  input: Float32Array
  dims: number[]
  inputName?: string
  outputName?: string
}

export type RunInferenceReturnType = { output: Float32Array; dims: number[] }

/** A model to load and describe: its hash and bytes (or a file), as for a run. */
export type InspectModelParameters = Pick<RunInferenceParameters, 'modelHash' | 'modelBytes' | 'modelPath'>

/** The model failed to load in onnxruntime; `reason` classifies why (MODEL_INVALID, UNSUPPORTED_OPERATOR, OUT_OF_MEMORY). */
export class ModelLoadError extends InferenceError {
  override name = 'ModelLoadError'
  readonly reason: JobFailureReason
  constructor(reason: JobFailureReason, message: string) {
    super(`the model does not load in onnxruntime: ${message}`, { details: message })
    this.reason = reason
  }
}

/**
 * An inference that ran out of memory on this machine (onnxruntime could not allocate a tensor). A property of the
 * machine, not of the job: another may fit it, so a provider reports it as OUT_OF_MEMORY. Not retryable here.
 */
export class InferenceOutOfMemoryError extends InferenceError {
  override name = 'InferenceOutOfMemoryError'
  readonly reason = 'OUT_OF_MEMORY' satisfies JobFailureReason
}

type Work = ({ op: 'run' } & RunInferenceParameters) | ({ op: 'inspect' } & InspectModelParameters)

/** Requests per message at most. */
export const maxBatch = 32

/** Requests a worker may hold unanswered, unless the pool is told otherwise: two full batches. */
export const defaultPipelineDepth = 2 * maxBatch

type Task = {
  parameters: Work
  resolve: (r: WorkerResult) => void
  reject: (e: unknown) => void
}

/**
 * The tasks waiting for a worker, first in first out. Taken from the front in batches by moving an index, not by
 * `splice`, which shifts every task behind: with tens of thousands queued, that shifting was a cost per batch.
 */
class TaskQueue {
  private tasks: Task[] = []
  private head = 0

  get length(): number {
    return this.tasks.length - this.head
  }

  first(): Task | undefined {
    return this.tasks[this.head]
  }

  push(task: Task): void {
    this.tasks.push(task)
  }

  /** Removes and returns the first `n` tasks (fewer when fewer wait). */
  take(n: number): Task[] {
    const taken = this.tasks.slice(this.head, this.head + n)
    this.head += taken.length
    // Drops the taken ones once they are most of the array.
    if (this.head > 1024 && this.head * 2 > this.tasks.length) {
      this.tasks = this.tasks.slice(this.head)
      this.head = 0
    }
    return taken
  }
}

/** A request a worker has and hasn't answered yet; `sentBytes` when it carried the model. */
type InFlight = { task: Task; sentBytes: boolean }

/** A worker, the models it holds (or will hold once it reaches a request that carried them), what it has in hand. */
type Slot = { worker: Worker; models: Set<string>; inFlight: Map<number, InFlight> }

const workerUrl = new URL('./inferenceWorker.ts', import.meta.url)

/**
 * A pool of worker threads running onnxruntime-node sessions, cached per model hash inside each worker.
 * Tasks queue FIFO and go out pipelined: up to `pipelineDepth` per worker, which handles them in order; the least
 * loaded worker that already holds the model is preferred.
 */
export class InferencePool {
  readonly size: number
  private readonly slots: Slot[] = []
  private readonly queue = new TaskQueue()
  private nextId = 1
  private closed = false
  private readonly options: Required<InferencePoolOptions>
  private idleWaiters: (() => void)[] = []
  private pumpScheduled = false

  constructor(options: InferencePoolOptions = {}) {
    this.size = options.size ?? Math.max(1, Math.min(2, os.availableParallelism()))
    this.options = {
      size: this.size,
      maxSessionsPerWorker: options.maxSessionsPerWorker ?? 8,
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      pipelineDepth: Math.max(1, options.pipelineDepth ?? defaultPipelineDepth),
    }
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn())
  }

  private spawn(): Slot {
    const worker = spawnInferenceWorker({
      maxSessions: this.options.maxSessionsPerWorker,
      intraOpNumThreads: this.options.intraOpNumThreads,
    })
    const slot: Slot = { worker, models: new Set(), inFlight: new Map() }
    worker.on('message', (message: WorkerResponse | WorkerBatchResponse | WorkerPackedResponse) => {
      if ('packed' in message) this.settlePacked(slot, message)
      else if ('responses' in message) for (const response of message.responses) this.settle(slot, response)
      else this.settle(slot, message)
      this.pump()
      this.notifyIdle()
    })
    worker.on('error', (error) => this.onDeath(slot, error))
    worker.on('exit', (code) => {
      if (!this.closed) this.onDeath(slot, new Error(`inference worker exited with code ${code}`))
    })
    return slot
  }

  private onDeath(slot: Slot, error: unknown): void {
    const index = this.slots.indexOf(slot)
    if (index < 0) return
    const lost = [...slot.inFlight.values()]
    slot.inFlight.clear()
    for (const { task } of lost)
      task.reject(new InferenceError('inference worker died', { retryable: true, cause: error, details: String(error) }))
    void slot.worker.terminate()
    if (this.closed) this.slots.splice(index, 1)
    else {
      this.slots[index] = this.spawn()
      this.pump()
    }
    this.notifyIdle()
  }

  /** Settles the task a response answers (or resends it with the model); the caller pumps. */
  private settle(slot: Slot, response: WorkerResponse): void {
    const busy = slot.inFlight.get(response.id)
    if (!busy) return
    for (const hash of response.evicted) slot.models.delete(hash)
    slot.inFlight.delete(response.id)
    const { task } = busy
    // A request that carried the model and failed may have failed to load it: don't count on the worker holding it.
    if (!response.ok && busy.sentBytes) slot.models.delete(task.parameters.modelHash)
    if (response.ok) {
      slot.models.add(task.parameters.modelHash)
      task.resolve(response)
    } else if (response.code === 'MODEL_NOT_LOADED' && !busy.sentBytes && (task.parameters.modelBytes || task.parameters.modelPath)) {
      // The worker evicted a model we thought it held (or a load ahead of it failed): resend with the bytes.
      slot.models.delete(task.parameters.modelHash)
      this.send(slot, [task])
      return
    } else if (response.code === 'MODEL_LOAD_FAILED') {
      task.reject(new ModelLoadError(classifyModelLoadError(response.message), response.message))
    } else if (response.code === 'INFERENCE_FAILED' && classifyModelLoadError(response.message) === 'OUT_OF_MEMORY') {
      // The same allocation failures that stop a model from loading, met while running it.
      task.reject(new InferenceOutOfMemoryError('inference ran out of memory', { details: response.message }))
    } else {
      task.reject(
        new InferenceError(
          response.code === 'MODEL_NOT_LOADED' ? 'model not available: pass modelBytes or modelPath' : 'inference failed',
          { details: response.message },
        ),
      )
    }
  }

  /**
   * Settles the runs of a packed answer: each output a view of the one array the worker sent (transferred, not
   * copied), then the runs that failed.
   */
  private settlePacked(slot: Slot, response: WorkerPackedResponse): void {
    const { output } = response
    const shapes = shapesOf(response.shapes)
    let offset = 0
    for (const [i, id] of response.packed.entries()) {
      const { dims, size } = shapes[i] as { dims: number[]; size: number }
      const result = new Float32Array(output.buffer, output.byteOffset + offset * 4, size)
      offset += size
      this.settle(slot, { id, ok: true, op: 'run', output: result, dims, evicted: [], loaded: false })
    }
    for (const failure of response.failures) this.settle(slot, failure)
  }

  /**
   * Sends `tasks` to `slot`'s worker in one message: one request; runs of a model it holds, packed; or a batch of
   * anything, answered in one message.
   */
  private send(slot: Slot, tasks: Task[]): void {
    if (tasks.length > 1 && this.sendPacked(slot, tasks)) return
    const requests = tasks.map((task) => {
      const { parameters } = task
      const known = slot.models.has(parameters.modelHash)
      const id = this.nextId++
      slot.inFlight.set(id, { task, sentBytes: !known })
      // The worker handles its requests in order: the ones after this find the model it loads.
      if (!known && (parameters.modelBytes || parameters.modelPath)) slot.models.add(parameters.modelHash)
      return { ...parameters, id, modelBytes: known ? undefined : parameters.modelBytes } as WorkerRequest
    })
    if (requests.length === 1) slot.worker.postMessage(requests[0])
    else slot.worker.postMessage({ op: 'batch', requests } satisfies WorkerBatchRequest)
  }

  /** Sends `tasks` packed when they are all runs of one model `slot` holds, under the same names; says whether it did. */
  private sendPacked(slot: Slot, tasks: Task[]): boolean {
    const first = tasks[0]?.parameters
    if (first?.op !== 'run' || !slot.models.has(first.modelHash)) return false
    let size = 0
    for (const { parameters: p } of tasks) {
      if (p.op !== 'run' || p.modelHash !== first.modelHash || p.inputName !== first.inputName || p.outputName !== first.outputName)
        return false
      size += p.input.length
    }
    const input = new Float32Array(size)
    const shapes: number[] = []
    const ids: number[] = []
    let offset = 0
    for (const task of tasks) {
      const run = task.parameters as RunInferenceParameters
      input.set(run.input, offset)
      offset += run.input.length
      pushShape(shapes, run.dims)
      const id = this.nextId++
      ids.push(id)
      slot.inFlight.set(id, { task, sentBytes: false })
    }
    const request: WorkerPackedRequest = { op: 'packed', ids, modelHash: first.modelHash, input, shapes }
    if (first.inputName !== undefined) request.inputName = first.inputName
    if (first.outputName !== undefined) request.outputName = first.outputName
    slot.worker.postMessage(request, [input.buffer])
    return true
  }

  /**
   * Hands queued tasks to workers in batches: the queue's even share per worker, up to `maxBatch` per message, to the
   * least loaded worker with room for a whole batch (the model's holders first, unless another worker sits idle); an
   * idle worker takes what there is. On small models the hand-off, not the inference, is the cost, and a batch pays it
   * once. Topping a busy worker up as each answer frees one place would send one request per message forever.
   */
  private pump(): void {
    const depth = this.options.pipelineDepth
    for (;;) {
      const first = this.queue.first()
      if (!first) return
      const batch = Math.max(1, Math.min(maxBatch, depth, Math.ceil(this.queue.length / this.slots.length)))
      const open = this.slots.filter((s) => s.inFlight.size === 0 || depth - s.inFlight.size >= batch)
      if (open.length === 0) return
      const least = (slots: Slot[]) => slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a))
      const holding = open.filter((s) => s.models.has(first.parameters.modelHash))
      const idle = open.filter((s) => s.inFlight.size === 0)
      const slot = holding.length && (!idle.length || holding.some((s) => s.inFlight.size === 0)) ? least(holding) : least(open)
      this.send(slot, this.queue.take(Math.min(batch, depth - slot.inFlight.size)))
    }
  }

  /** Pumps once the current task has queued everything it will: requests made together leave together. */
  private schedulePump(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    queueMicrotask(() => {
      this.pumpScheduled = false
      this.pump()
    })
  }

  private notifyIdle(): void {
    if (this.slots.some((s) => s.inFlight.size > 0) || this.queue.length > 0) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }

  /** Runs one inference in a worker. The input array is copied to the worker, not transferred. */
  run(parameters: RunInferenceParameters): Promise<RunInferenceReturnType> {
    if (this.closed) return Promise.reject(new InferenceError('inference pool is closed', { retryable: true }))
    const count = parameters.dims.reduce((a, b) => a * b, 1)
    if (count !== parameters.input.length)
      return Promise.reject(
        new InferenceError('input length does not match dims', {
          details: `dims ${JSON.stringify(parameters.dims)} vs ${parameters.input.length} values`,
        }),
      )
    return this.submit({ op: 'run', ...parameters }).then((result) => {
      if (result.op !== 'run') throw new InferenceError('the worker answered a run with something else')
      return { output: result.output, dims: result.dims }
    })
  }

  /**
   * Loads a model in a worker (keeping its session for later runs) and returns the inputs it declares. Rejects with
   * {@link ModelLoadError} when onnxruntime can't load it.
   */
  inspect(parameters: InspectModelParameters): Promise<ModelSignature> {
    if (this.closed) return Promise.reject(new InferenceError('inference pool is closed', { retryable: true }))
    return this.submit({ op: 'inspect', ...parameters }).then((result) => {
      if (result.op !== 'inspect') throw new InferenceError('the worker answered an inspection with something else')
      return result.signature
    })
  }

  private submit(parameters: Work): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ parameters, resolve, reject })
      this.schedulePump()
    })
  }

  /** Tasks waiting or running. */
  get pending(): number {
    return this.queue.length + this.slots.reduce((n, s) => n + s.inFlight.size, 0)
  }

  /** Stops taking work, lets running and queued inferences finish, then terminates the workers. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    await Promise.all(this.slots.map((s) => stopWorker(s.worker)))
    this.slots.length = 0
  }
}

/** How long a worker may take to release its sessions and exit before it is terminated. */
const workerExitGraceMs = 5_000

/**
 * Turns TF32 off for every CUDA context this process creates (`NVIDIA_TF32_OVERRIDE=0`) unless the operator set the
 * variable. TF32 rounds float32 matrix products to a 10-bit mantissa on NVIDIA GPUs, far past the tolerance honest
 * results are compared under (docs/PROTOCOL.md, "Agreement under tolerance"); onnxruntime-node offers no session option
 * for it, and CUDA reads the variable from the process environment when it initialises, so it is set on the main thread
 * before any worker loads a model. The bundled CPU build ignores it. Returns the value in force.
 */
export function disableTf32(env: NodeJS.ProcessEnv = process.env): string {
  env.NVIDIA_TF32_OVERRIDE ??= '0'
  return env.NVIDIA_TF32_OVERRIDE
}

/** Starts one inference worker thread (see inferenceWorker.ts). */
export function spawnInferenceWorker(options: { maxSessions: number; intraOpNumThreads: number }): Worker {
  disableTf32()
  return startTypeScriptWorker(workerUrl, options)
}

/**
 * Asks an idle worker to release its sessions and exit; terminates it only if it hasn't within the grace period.
 * Says which happened.
 */
export async function stopWorker(worker: Worker): Promise<'exited' | 'terminated'> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  worker.postMessage({ op: 'close' })
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), workerExitGraceMs)
  })
  const outcome = await Promise.race([exited, late])
  clearTimeout(timer)
  if (outcome !== 'late') return 'exited'
  await worker.terminate()
  return 'terminated'
}
