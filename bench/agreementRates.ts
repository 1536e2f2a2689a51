/**
 * How often honest runs of the same model disagree under today's fingerprint, and what an element-wise tolerance check
 * (`outputsAgree`) would say instead. Measures, on this machine, each catalogue model under onnxruntime's session
 * options against a reference configuration, then perturbs the reference outputs by a few ulps and alters them
 * dishonestly. `TESSERA_BENCH_AGREEMENT_INPUTS` lowers the number of inputs for a quick run.
 */
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ort from 'onnxruntime-node'
import { alterOutput } from '../agent/lieDecision.ts'
import { buildBroadcast } from '../agent/models/buildBroadcast.ts'
import { type BuildMlpParameters, buildMlp, type MlpLayer, makeInput, mlpWeights, referenceMlp } from '../agent/models/buildMlp.ts'
import { createPrng } from '../agent/models/prng.ts'
import { outputsAgree } from '../protocol/agreement.ts'
import { canonicalise, defaultOutputTolerance, fingerprintOutput } from '../protocol/fingerprint.ts'

/** The job spec's default `outputTolerance`. */
export const defaultToleranceBits = defaultOutputTolerance
/** The tolerances measured: the default and a coarser and a finer one. */
export const toleranceBits = [10, defaultToleranceBits, 20] as const

/**
 * The candidate element-wise tolerance at `bits` significant bits: `rtol = 2^-(bits−2)` (two to four units in the last
 * kept bit, never tighter than the fingerprint's rounding step) and `atol = rtol × max|b|`, the output's own scale, for
 * elements that cancel down to near zero (their absolute error follows the sum's terms, not the result).
 */
export function candidateTolerance(b: Float32Array, bits: number): { atol: number; rtol: number } {
  let scale = 0
  for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v))
  const rtol = 2 ** -(bits - 2)
  return { atol: rtol * scale, rtol }
}

type Configuration = { name: string; intraOpNumThreads: number; graphOptimizationLevel: 'disabled' | 'all' }

/** The reference first; the agent itself runs 1 thread with onnxruntime's default optimisation, `all`. */
const configurations: readonly Configuration[] = [
  { name: '1 thread, disabled', intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' },
  { name: '1 thread, all', intraOpNumThreads: 1, graphOptimizationLevel: 'all' },
  { name: '2 threads, disabled', intraOpNumThreads: 2, graphOptimizationLevel: 'disabled' },
  { name: '2 threads, all', intraOpNumThreads: 2, graphOptimizationLevel: 'all' },
]
/**
 * Second implementations, standing in for another machine's kernels: the tests' reference forward pass (float64
 * sums), and the same in float32 without fused multiply-add (each product and sum rounded, in index order).
 */
const jsReferences = ['plain JS, float64 sums', 'plain JS, float32 sums'] as const

type CatalogueModel = {
  name: string
  /** How it was built, for the report. */
  shape: string
  bytes: Uint8Array
  inputSize: number
  /** The same computation outside onnxruntime, with float64 and with float32 sums. */
  reference: Record<(typeof jsReferences)[number], (input: Float32Array, rows: number) => Float32Array>
}

/** `referenceMlp` with every product and sum rounded to float32 (no FMA), summed in index order. */
function float32Mlp(layers: MlpLayer[], input: Float32Array, rows: number): Float32Array {
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

const mlp = (name: string, parameters: BuildMlpParameters): CatalogueModel => {
  const layers = mlpWeights(parameters)
  const sizes = [parameters.inputSize, ...layers.map((l) => l.outSize)].join('→')
  return {
    name,
    shape: `MLP ${sizes}, seed ${parameters.seed}`,
    bytes: buildMlp(parameters),
    inputSize: parameters.inputSize,
    reference: {
      'plain JS, float64 sums': (input, rows) => referenceMlp(layers, input, rows),
      'plain JS, float32 sums': (input, rows) => float32Mlp(layers, input, rows),
    },
  }
}

/** The models the repository builds: the e2e tests', the demo workload's (and cached benchmark's), two larger ones, `Expand`. */
function catalogue(): CatalogueModel[] {
  const copies = 3
  const repeat = (input: Float32Array) => {
    const out = new Float32Array(input.length * copies)
    for (let c = 0; c < copies; c++) out.set(input, c * input.length)
    return out
  }
  return [
    mlp('small', { seed: 11, inputSize: 16, hiddenSize: 16, outputSize: 4 }),
    mlp('demo', { seed: 1, inputSize: 16, hiddenSize: 32, outputSize: 8 }),
    mlp('medium', { seed: 21, inputSize: 64, hiddenSize: 128, outputSize: 32, layers: 3 }),
    mlp('wide', { seed: 31, inputSize: 256, hiddenSize: 1024, outputSize: 64 }),
    {
      name: 'broadcast',
      shape: `Expand ×${copies} of 16`,
      bytes: buildBroadcast({ inputSize: 16, copies: BigInt(copies) }),
      inputSize: 16,
      reference: { 'plain JS, float64 sums': repeat, 'plain JS, float32 sums': repeat },
    },
  ]
}

/** One model under one configuration, against the reference configuration, over every input. */
export type ConfigurationRow = {
  model: string
  configuration: string
  /** Who computed the outputs: onnxruntime under session options, or a plain-JS forward pass. */
  engine: 'onnxruntime' | 'plain JS'
  outputs: number
  /** Outputs bit-identical to the reference's. */
  identical: number
  /** Outputs whose fingerprint equals the reference's, per tolerance in bits. */
  fingerprintEqual: Record<number, number>
  /** Outputs that `outputsAgree` accepts at the candidate tolerance, per tolerance. */
  elementwiseAgree: Record<number, number>
  /** The largest element-wise distance in representable float32 steps. */
  maxUlps: number
  /** The largest |a − b| / |b| over non-zero reference elements. */
  maxRelativeError: number
  /** The largest |a − b| / max|b| (the error against the output's scale). */
  maxScaledError: number
}

/** A model's reference outputs perturbed honestly (±1..4 ulps an element) and dishonestly. */
export type PerturbationRow = {
  model: string
  outputs: number
  elements: number
  /** Outputs whose fingerprint changed, per tolerance. */
  fingerprintOutputs: Record<number, number>
  /** Elements whose canonical word changed, per tolerance. */
  fingerprintElements: Record<number, number>
  /** Outputs `outputsAgree` rejected at the candidate tolerance, per tolerance. */
  elementwiseOutputs: Record<number, number>
  /** Outputs the agent's lie (v × 1.5 + 1) makes, and those the element-wise check (default bits) caught. */
  lieCaught: number
  /** Outputs with their largest-magnitude element × 1.01, caught by the element-wise check. */
  largestPlusOnePercentCaught: number
  /** Outputs with a random element × 1.01: caught by the element-wise check, and by the default fingerprint. */
  randomPlusOnePercentCaught: number
  randomPlusOnePercentFingerprintCaught: number
}

export type AgreementRatesParameters = {
  /** Random inputs per model; each has 1..8 rows. Default `TESSERA_BENCH_AGREEMENT_INPUTS` or 1,000. */
  inputs?: number
}

export type AgreementRatesReturnType = {
  inputs: number
  cpu: string
  onnxruntime: string
  models: { name: string; shape: string }[]
  reference: string
  configurations: ConfigurationRow[]
  perturbation: PerturbationRow[]
  seconds: number
}

/** A float32's position on the number line in steps: adjacent floats differ by 1, and ±0 are both 0. */
const ordinal = (bits: number) => (bits & 0x80000000 ? -(bits & 0x7fffffff) : bits)
const fromOrdinal = (o: number) => (o < 0 ? (0x80000000 | -o) >>> 0 : o)

const counter = () => Object.fromEntries(toleranceBits.map((bits) => [bits, 0])) as Record<number, number>

function compare(
  key: Pick<ConfigurationRow, 'model' | 'configuration' | 'engine'>,
  references: Float32Array[],
  outputs: Float32Array[],
): ConfigurationRow {
  const row: ConfigurationRow = {
    ...key,
    outputs: outputs.length,
    identical: 0,
    fingerprintEqual: counter(),
    elementwiseAgree: counter(),
    maxUlps: 0,
    maxRelativeError: 0,
    maxScaledError: 0,
  }
  outputs.forEach((a, i) => {
    const b = references[i]
    const aWords = new Uint32Array(a.buffer, a.byteOffset, a.length)
    const bWords = new Uint32Array(b.buffer, b.byteOffset, b.length)
    if (a.length === b.length && aWords.every((w, j) => w === bWords[j])) row.identical++
    for (const bits of toleranceBits) {
      if (fingerprintOutput(a, bits) === fingerprintOutput(b, bits)) row.fingerprintEqual[bits]++
      if (outputsAgree({ a, b, ...candidateTolerance(b, bits) }).agree) row.elementwiseAgree[bits]++
    }
    const { atol, rtol } = candidateTolerance(b, defaultToleranceBits)
    const scale = atol / rtol
    for (let j = 0; j < a.length; j++) {
      const diff = Math.abs(a[j] - b[j])
      row.maxUlps = Math.max(row.maxUlps, Math.abs(ordinal(aWords[j]) - ordinal(bWords[j])))
      if (b[j] !== 0) row.maxRelativeError = Math.max(row.maxRelativeError, diff / Math.abs(b[j]))
      if (scale > 0) row.maxScaledError = Math.max(row.maxScaledError, diff / scale)
    }
  })
  return row
}

function perturb(model: string, references: Float32Array[], seed: number): PerturbationRow {
  const next = createPrng(seed)
  const row: PerturbationRow = {
    model,
    outputs: references.length,
    elements: 0,
    fingerprintOutputs: counter(),
    fingerprintElements: counter(),
    elementwiseOutputs: counter(),
    lieCaught: 0,
    largestPlusOnePercentCaught: 0,
    randomPlusOnePercentCaught: 0,
    randomPlusOnePercentFingerprintCaught: 0,
  }
  const caught = (a: Float32Array, b: Float32Array) => !outputsAgree({ a, b, ...candidateTolerance(b, defaultToleranceBits) }).agree
  for (const b of references) {
    row.elements += b.length
    const words = new Uint32Array(b.length)
    const bWords = new Uint32Array(b.buffer, b.byteOffset, b.length)
    for (let j = 0; j < b.length; j++) {
      const steps = 1 + Math.floor(next() * 4)
      words[j] = fromOrdinal(ordinal(bWords[j]) + (next() < 0.5 ? -steps : steps))
    }
    const a = new Float32Array(words.buffer)
    for (const bits of toleranceBits) {
      const [ca, cb] = [canonicalise(a, bits), canonicalise(b, bits)]
      const changed = ca.reduce((count, w, j) => count + (w === cb[j] ? 0 : 1), 0)
      row.fingerprintElements[bits] += changed
      if (changed > 0) row.fingerprintOutputs[bits]++
      if (!outputsAgree({ a, b, ...candidateTolerance(b, bits) }).agree) row.elementwiseOutputs[bits]++
    }
    // agent/jobWorkflow.ts's lie.
    const lie = alterOutput(b)
    if (caught(lie, b)) row.lieCaught++
    const plusOnePercent = (index: number) => {
      const altered = b.slice()
      altered[index] *= 1.01
      return altered
    }
    const largest = b.reduce((best, v, j) => (Math.abs(v) > Math.abs(b[best]) ? j : best), 0)
    if (caught(plusOnePercent(largest), b)) row.largestPlusOnePercentCaught++
    const random = plusOnePercent(Math.floor(next() * b.length))
    if (caught(random, b)) row.randomPlusOnePercentCaught++
    if (fingerprintOutput(random, defaultToleranceBits) !== fingerprintOutput(b, defaultToleranceBits))
      row.randomPlusOnePercentFingerprintCaught++
  }
  return row
}

async function runAll(model: CatalogueModel, configuration: Configuration, inputs: Float32Array[]): Promise<Float32Array[]> {
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

/** Runs every catalogue model under every configuration on the same seeded inputs and tallies the agreement. */
export async function agreementRates(parameters: AgreementRatesParameters = {}): Promise<AgreementRatesReturnType> {
  const started = performance.now()
  const inputs = parameters.inputs ?? Number(process.env.TESSERA_BENCH_AGREEMENT_INPUTS ?? 1000)
  if (!Number.isInteger(inputs) || inputs < 1) throw new Error(`agreementRates: inputs must be a positive integer, got ${inputs}`)
  const models = catalogue()
  const rows: ConfigurationRow[] = []
  const perturbation: PerturbationRow[] = []
  for (const [m, model] of models.entries()) {
    const batch = Array.from({ length: inputs }, (_, i) => makeInput({ seed: 7_000 + i, rows: 1 + (i % 8), inputSize: model.inputSize }))
    const [reference, ...others] = configurations
    const references = await runAll(model, reference, batch)
    for (const configuration of others)
      rows.push(
        compare(
          { model: model.name, configuration: configuration.name, engine: 'onnxruntime' },
          references,
          await runAll(model, configuration, batch),
        ),
      )
    for (const name of jsReferences) {
      const outputs = batch.map((input) => model.reference[name](input, input.length / model.inputSize))
      rows.push(compare({ model: model.name, configuration: name, engine: 'plain JS' }, references, outputs))
    }
    perturbation.push(perturb(model.name, references, 0x5eed + m))
  }
  return {
    inputs,
    cpu: `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.availableParallelism()} cores)`,
    onnxruntime: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`,
    models: models.map(({ name, shape }) => ({ name, shape })),
    reference: configurations[0].name,
    configurations: rows,
    perturbation,
    seconds: (performance.now() - started) / 1000,
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  agreementRates()
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      console.error(error)
      process.exit(1)
    })
}
