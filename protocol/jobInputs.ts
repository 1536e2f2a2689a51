import { type Hex, pad, toHex } from 'viem'
import type { Tensor } from './tensorBlob.ts'

/**
 * Why a provider can't run a job: the fixed taxonomy a failure is reported with (DESIGN.md §3, "Failure is a
 * result"). The first three are properties of the job itself, the same on every honest machine.
 */
export const jobFailureReasons = ['MODEL_INVALID', 'INPUT_MISMATCH', 'UNSUPPORTED_OPERATOR', 'OUT_OF_MEMORY', 'TIMEOUT'] as const
export type JobFailureReason = (typeof jobFailureReasons)[number]

/** How many of {@link jobFailureReasons}, from the first, are deterministic (JobMarket `DETERMINISTIC_FAILURES`). */
const deterministicFailures = 3

/**
 * The fingerprint a provider commits and reveals to report that it couldn't run a job: the reason's code (its
 * position in {@link jobFailureReasons}, from 1) as a bytes32, as JobMarket's `failureReasonOf` reads it.
 */
export function failureFingerprintOf(reason: JobFailureReason): Hex {
  return pad(toHex(jobFailureReasons.indexOf(reason) + 1), { size: 32 })
}

/** The failure a revealed fingerprint reports, or undefined for a result (JobMarket `failureReasonOf`). */
export function failureReasonOf(fingerprint: Hex): JobFailureReason | undefined {
  const code = BigInt(fingerprint)
  return code >= 1n && code <= BigInt(jobFailureReasons.length) ? jobFailureReasons[Number(code) - 1] : undefined
}

/** Whether a reason is a property of the job itself, the same on every honest machine (a majority of it ends FAILED_INVALID). */
export function isDeterministicFailure(reason: JobFailureReason): boolean {
  return jobFailureReasons.indexOf(reason) < deterministicFailures
}

/** One input a model declares: its name, element type and shape (a number per fixed dimension, a name per symbolic one). */
export type ModelInput = { name: string; type: string; shape: readonly (number | string)[] }

/** What a model takes, as onnxruntime reports it once the model has loaded. */
export type ModelSignature = { inputs: readonly ModelInput[] }

/** A reason a job can't run as specified, with a message naming what is wrong. */
export type JobInputProblem = { reason: JobFailureReason; message: string }

/** The element type of a tensor blob (PROTOCOL.md: tensor blobs are float32). */
const blobElementType = 'float32'

/**
 * Checks a job's input tensor and declared `units` against the model's signature: one tensor input, same element
 * type, same rank, every fixed dimension equal, and `units` = the input's first dimension (rows = inferences).
 * Returns every problem found, empty when the job can run. Pure: the model is inspected elsewhere.
 */
export function checkJobInputs(parameters: { model: ModelSignature; input: Tensor; units: bigint }): JobInputProblem[] {
  const { model, input, units } = parameters
  const problems: JobInputProblem[] = []
  const mismatch = (message: string) => problems.push({ reason: 'INPUT_MISMATCH', message })
  const rows = input.dims[0] ?? 0
  if (units !== BigInt(rows)) mismatch(`units is ${units} but the input holds ${rows} rows (its first dimension)`)
  if (model.inputs.length !== 1) {
    const names = model.inputs.map((i) => `"${i.name}"`).join(', ')
    mismatch(`the model takes ${model.inputs.length} inputs (${names}); a job supplies exactly one tensor`)
    return problems
  }
  const [declared] = model.inputs
  if (!declared) return problems
  if (declared.type !== blobElementType)
    mismatch(`the model's input "${declared.name}" is ${declared.type}, the job's input is ${blobElementType}`)
  if (declared.shape.length === 0) return problems // shape not declared: onnxruntime checks it at run time
  if (declared.shape.length !== input.dims.length) {
    mismatch(
      `the model's input "${declared.name}" has rank ${declared.shape.length} ${formatShape(declared.shape)}, ` +
        `the job's input has rank ${input.dims.length} ${formatShape(input.dims)}`,
    )
    return problems
  }
  declared.shape.forEach((size, axis) => {
    if (typeof size === 'number' && size >= 0 && size !== input.dims[axis])
      mismatch(`dimension ${axis} of the model's input "${declared.name}" is ${size}, the job's input has ${input.dims[axis]}`)
  })
  return problems
}

function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`
}

/**
 * Classifies an onnxruntime error raised while loading a model: an operator the runtime lacks is
 * UNSUPPORTED_OPERATOR, an allocation failure OUT_OF_MEMORY, anything else MODEL_INVALID.
 */
export function classifyModelLoadError(message: string): JobFailureReason {
  if (/not a registered function\/op|Could not find an implementation|No Op registered|Unsupported (op|operator)/i.test(message))
    return 'UNSUPPORTED_OPERATOR'
  if (/bad_alloc|out of memory|Failed to allocate/i.test(message)) return 'OUT_OF_MEMORY'
  return 'MODEL_INVALID'
}
