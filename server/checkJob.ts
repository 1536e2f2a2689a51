import { readFile } from 'node:fs/promises'
import type { Hex } from 'viem'
import { InferencePool, ModelLoadError } from '../agent/inferencePool.ts'
import { TesseraError } from '../protocol/errors.ts'
import { checkJobInputs, type JobFailureReason, type ModelSignature } from '../protocol/jobInputs.ts'
import { decodeTensorBlob, TensorBlobError } from '../protocol/tensorBlob.ts'
import type { BlobStore } from './blobs/blobStore.ts'

/** Loads a model and reports its inputs (the agent's `InferencePool.inspect`, in worker threads). */
export type ModelInspector = { inspect: (parameters: { modelHash: string; modelPath: string }) => Promise<ModelSignature> }

/** Why a job can't run: a missing blob, or a failure reason providers would report. */
export type JobProblemCode = 'MODEL_NOT_FOUND' | 'INPUT_NOT_FOUND' | JobFailureReason
export type JobProblem = { code: JobProblemCode; message: string }

/** The verdict on a job spec before any escrow moves. */
export type JobCheck = { runnable: boolean; problems: JobProblem[] }

/**
 * Checks that a job can run, as an honest provider would find out: both blobs stored, the model loads in
 * onnxruntime, the input is a valid tensor blob matching the model's input (name count, element type, rank, fixed
 * dimensions), and `units` equals the input's rows. Every problem is named; none means runnable.
 */
export async function checkJob(parameters: {
  blobs: BlobStore
  inspector: ModelInspector
  spec: { modelHash: Hex; inputHash: Hex; units: bigint }
}): Promise<JobCheck> {
  const { blobs, inspector, spec } = parameters
  const problems: JobProblem[] = []
  const [model, input] = await Promise.all([blobs.get(spec.modelHash), blobs.get(spec.inputHash)])
  if (!model) problems.push({ code: 'MODEL_NOT_FOUND', message: `model blob ${spec.modelHash} not found: upload it first (PUT /blobs)` })
  if (!input) problems.push({ code: 'INPUT_NOT_FOUND', message: `input blob ${spec.inputHash} not found: upload it first (PUT /blobs)` })
  if (!model || !input) return { runnable: false, problems }

  let signature: ModelSignature | undefined
  try {
    signature = await inspector.inspect({ modelHash: spec.modelHash, modelPath: model.file })
  } catch (error) {
    if (!(error instanceof ModelLoadError)) throw error
    problems.push({ code: error.reason, message: error.message })
  }
  try {
    const tensor = decodeTensorBlob(input.data ?? (await readFile(input.file)))
    if (signature) problems.push(...checkJobInputs({ model: signature, input: tensor, units: spec.units }).map(toProblem))
  } catch (error) {
    if (!(error instanceof TensorBlobError)) throw error
    problems.push({ code: 'INPUT_MISMATCH', message: `the input is not a tensor blob: ${error.message}` })
  }
  return { runnable: problems.length === 0, problems }
}

function toProblem(problem: { reason: JobFailureReason; message: string }): JobProblem {
  return { code: problem.reason, message: problem.message }
}

/**
 * A {@link ModelInspector} over one inference worker, started on the first check (a server that never checks a job
 * never loads onnxruntime's sessions). `close` stops the worker.
 */
export function createModelInspector(): ModelInspector & { close: () => Promise<void> } {
  let pool: InferencePool | undefined
  return {
    inspect: (parameters) => {
      pool ??= new InferencePool({ size: 1 })
      return pool.inspect(parameters)
    },
    close: async () => {
      await pool?.close()
    },
  }
}

/** The server was started without model inspection, so it can't check jobs. Not retryable on this server. */
export class JobCheckUnavailableError extends TesseraError {
  override name = 'JobCheckUnavailableError'
}

/** An upload declared as a model or an input that isn't one; `problem` says why. Not retryable: the bytes are wrong. */
export class BlobRejectedError extends TesseraError {
  override name = 'BlobRejectedError'
  readonly problem: JobProblem
  constructor(problem: JobProblem) {
    super(problem.message, { details: problem.code })
    this.problem = problem
  }
}

/** What an upload says it is (`PUT /blobs?kind=model|input`), so it can be checked before it is stored. */
export const blobKinds = ['model', 'input'] as const
export type BlobKind = (typeof blobKinds)[number]

/**
 * A `validate` hook for the blob store: a `model` must load in onnxruntime, an `input` must be a tensor blob.
 * Throws {@link BlobRejectedError} naming the problem.
 */
export function blobValidator(kind: BlobKind, inspector?: ModelInspector): (file: string, sha256: string) => Promise<void> {
  return async (file, sha256) => {
    if (kind === 'model') {
      if (!inspector) throw new BlobRejectedError({ code: 'MODEL_INVALID', message: 'this server does not check models: omit kind' })
      try {
        await inspector.inspect({ modelHash: sha256, modelPath: file })
      } catch (error) {
        if (error instanceof ModelLoadError) throw new BlobRejectedError({ code: error.reason, message: error.message })
        throw error
      }
      return
    }
    try {
      decodeTensorBlob(await readFile(file))
    } catch (error) {
      if (error instanceof TensorBlobError)
        throw new BlobRejectedError({ code: 'INPUT_MISMATCH', message: `the input is not a tensor blob: ${error.message}` })
      throw error
    }
  }
}
