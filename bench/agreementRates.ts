/**
 * How often honest runs of the same model get different fingerprints, and how much of JobMarket's element-wise
 * tolerance (`withinTolerance`, applied by `firstDisagreementOf` to the committed output trees) their differences
 * use. Measures, on this machine, each catalogue model under onnxruntime's session options and two plain-JS forward
 * passes against a reference configuration, then perturbs the reference outputs by a few ulps and alters them
 * dishonestly. `TESSERA_BENCH_AGREEMENT_INPUTS` lowers the number of inputs for a quick run; run this file alone
 * (`npx tsx bench/agreementRates.ts`) for the numbers as JSON without the gas benches.
 */
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ort from 'onnxruntime-node'
import { alterOutput } from '../agent/lieDecision.ts'
import { type CatalogueModel, catalogueInputs, forwardPasses, modelCatalogue } from '../agent/models/modelCatalogue.ts'
import { floatOrdinal, perturbByUlps } from '../agent/models/perturbByUlps.ts'
import { createPrng } from '../agent/models/prng.ts'
import { runCatalogueModel, sessionConfigurations } from '../agent/models/runCatalogueModel.ts'
import { toleranceMargin, unroundedOutput } from '../agent/models/toleranceMargin.ts'
import { firstDisagreementOf } from '../protocol/agreement.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import { buildOutputTree, type OutputTree } from '../protocol/outputTree.ts'

/** The tolerances measured: the job spec's default `outputTolerance`, a coarser one and a finer one. */
export const toleranceBits = [10, defaultOutputTolerance, 20] as const
/** The honest perturbation: every element of a reference output moved by −4..+4 ulps. */
export const perturbationUlps = 4

type PerTolerance<T> = Record<number, T>

/** One model under one configuration, against the reference configuration, over every input. */
export type ConfigurationRow = {
  model: string
  configuration: string
  /** Who computed the outputs: onnxruntime under session options, or a plain-JS forward pass. */
  engine: 'onnxruntime' | 'plain JS'
  outputs: number
  /** Outputs bit-identical to the reference's. */
  identical: number
  /** Outputs whose fingerprint (the tree's root commitment) equals the reference's, per tolerance in bits. */
  fingerprintEqual: PerTolerance<number>
  /** Outputs `firstDisagreementOf` finds in agreement with the reference's, per tolerance. */
  agree: PerTolerance<number>
  /** The largest difference of committed (rounded) elements as a fraction of the bound (`toleranceMargin`), per tolerance. */
  marginUsed: PerTolerance<number>
  /** The same for the outputs before rounding: the kernels' own difference against the bound. */
  unroundedMargin: PerTolerance<number>
  /** The largest element-wise distance in representable float32 steps. */
  maxUlps: number
  /** The largest |a − b| / |b| over non-zero reference elements. */
  maxRelativeError: number
  /** The largest |a − b| / max|b| (the error against the output's scale). */
  maxScaledError: number
}

/** A model's reference outputs perturbed honestly (−4..+4 ulps an element) and dishonestly. */
export type PerturbationRow = {
  model: string
  outputs: number
  elements: number
  /** Outputs whose fingerprint changed, per tolerance. */
  fingerprintOutputs: PerTolerance<number>
  /** Elements whose canonical word changed, per tolerance. */
  fingerprintElements: PerTolerance<number>
  /** Outputs `firstDisagreementOf` found out of tolerance, per tolerance. */
  rejected: PerTolerance<number>
  /** The largest committed difference as a fraction of the bound, per tolerance. */
  marginUsed: PerTolerance<number>
  /** Outputs the agent's lie (v × 1.5 + 1) makes that the rule (default bits) catches. */
  lieCaught: number
  /** Outputs with their largest-magnitude element × 1.01, caught by the rule. */
  largestPlusOnePercentCaught: number
  /** Outputs with a random element × 1.01: caught by the rule, and by the default fingerprint. */
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

const counter = (): PerTolerance<number> => Object.fromEntries(toleranceBits.map((bits) => [bits, 0]))
const wordsOf = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length)

/** `buildOutputTree` at every measured tolerance, built once per distinct output (configurations often agree bit for bit). */
function treeMaker() {
  const cache = new Map<string, PerTolerance<OutputTree>>()
  return (values: Float32Array): PerTolerance<OutputTree> => {
    const key = Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64')
    let trees = cache.get(key)
    if (!trees) {
      trees = Object.fromEntries(toleranceBits.map((bits) => [bits, buildOutputTree(values, bits)]))
      cache.set(key, trees)
    }
    return trees
  }
}

type Output = { values: Float32Array; trees: PerTolerance<OutputTree> }

function compare(
  key: Pick<ConfigurationRow, 'model' | 'configuration' | 'engine'>,
  references: Output[],
  outputs: Output[],
): ConfigurationRow {
  const row: ConfigurationRow = {
    ...key,
    outputs: outputs.length,
    identical: 0,
    fingerprintEqual: counter(),
    agree: counter(),
    marginUsed: counter(),
    unroundedMargin: counter(),
    maxUlps: 0,
    maxRelativeError: 0,
    maxScaledError: 0,
  }
  outputs.forEach((output, i) => {
    const [a, b] = [output.values, references[i].values]
    const [aWords, bWords] = [wordsOf(a), wordsOf(b)]
    if (a.length === b.length && aWords.every((w, j) => w === bWords[j])) row.identical++
    for (const bits of toleranceBits) {
      const [ta, tb] = [output.trees[bits], references[i].trees[bits]]
      if (ta.fingerprint === tb.fingerprint) row.fingerprintEqual[bits]++
      if (firstDisagreementOf({ a: ta, b: tb, toleranceBits: bits }) === null) row.agree[bits]++
      row.marginUsed[bits] = Math.max(row.marginUsed[bits], toleranceMargin({ a: ta, b: tb, toleranceBits: bits }))
      const raw = toleranceMargin({ a: unroundedOutput(a), b: unroundedOutput(b), toleranceBits: bits })
      row.unroundedMargin[bits] = Math.max(row.unroundedMargin[bits], raw)
    }
    let scale = 0
    for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v))
    for (let j = 0; j < a.length; j++) {
      const diff = Math.abs(a[j] - b[j])
      row.maxUlps = Math.max(row.maxUlps, Math.abs(floatOrdinal(aWords[j]) - floatOrdinal(bWords[j])))
      if (b[j] !== 0) row.maxRelativeError = Math.max(row.maxRelativeError, diff / Math.abs(b[j]))
      if (scale > 0) row.maxScaledError = Math.max(row.maxScaledError, diff / scale)
    }
  })
  return row
}

function perturb(model: string, references: Output[], seed: number): PerturbationRow {
  const next = createPrng(seed)
  const row: PerturbationRow = {
    model,
    outputs: references.length,
    elements: 0,
    fingerprintOutputs: counter(),
    fingerprintElements: counter(),
    rejected: counter(),
    marginUsed: counter(),
    lieCaught: 0,
    largestPlusOnePercentCaught: 0,
    randomPlusOnePercentCaught: 0,
    randomPlusOnePercentFingerprintCaught: 0,
  }
  const bits = defaultOutputTolerance
  const caught = (a: Float32Array, b: OutputTree) => firstDisagreementOf({ a: buildOutputTree(a, bits), b, toleranceBits: bits }) !== null
  for (const { values: b, trees } of references) {
    row.elements += b.length
    const a = perturbByUlps({ values: b, maxUlps: perturbationUlps, next })
    for (const t of toleranceBits) {
      const [ta, tb] = [buildOutputTree(a, t), trees[t]]
      const changed = ta.words.reduce((count, w, j) => count + (w === tb.words[j] ? 0 : 1), 0)
      row.fingerprintElements[t] += changed
      if (ta.fingerprint !== tb.fingerprint) row.fingerprintOutputs[t]++
      if (firstDisagreementOf({ a: ta, b: tb, toleranceBits: t }) !== null) row.rejected[t]++
      row.marginUsed[t] = Math.max(row.marginUsed[t], toleranceMargin({ a: ta, b: tb, toleranceBits: t }))
    }
    // agent/jobWorkflow.ts's lie.
    if (caught(alterOutput(b), trees[bits])) row.lieCaught++
    const plusOnePercent = (index: number) => {
      const altered = b.slice()
      altered[index] *= 1.01
      return altered
    }
    const largest = b.reduce((best, v, j) => (Math.abs(v) > Math.abs(b[best]) ? j : best), 0)
    if (caught(plusOnePercent(largest), trees[bits])) row.largestPlusOnePercentCaught++
    const random = plusOnePercent(Math.floor(next() * b.length))
    if (caught(random, trees[bits])) row.randomPlusOnePercentCaught++
    if (buildOutputTree(random, bits).fingerprint !== trees[bits].fingerprint) row.randomPlusOnePercentFingerprintCaught++
  }
  return row
}

async function measureModel(model: CatalogueModel, inputs: number, seed: number) {
  const batch = catalogueInputs({ model, count: inputs })
  const trees = treeMaker()
  const outputsOf = (values: Float32Array[]): Output[] => values.map((v) => ({ values: v, trees: trees(v) }))
  const [reference, ...others] = sessionConfigurations
  const references = outputsOf(await runCatalogueModel({ model, configuration: reference, inputs: batch }))
  const rows: ConfigurationRow[] = []
  for (const configuration of others) {
    const outputs = outputsOf(await runCatalogueModel({ model, configuration, inputs: batch }))
    rows.push(compare({ model: model.name, configuration: configuration.name, engine: 'onnxruntime' }, references, outputs))
  }
  for (const pass of forwardPasses) {
    const outputs = outputsOf(batch.map((input) => model.forward[pass](input, input.length / model.inputSize)))
    rows.push(compare({ model: model.name, configuration: pass, engine: 'plain JS' }, references, outputs))
  }
  return { rows, perturbation: perturb(model.name, references, seed) }
}

/** Runs every catalogue model under every configuration on the same seeded inputs and tallies the agreement. */
export async function agreementRates(parameters: AgreementRatesParameters = {}): Promise<AgreementRatesReturnType> {
  const started = performance.now()
  const inputs = parameters.inputs ?? Number(process.env.TESSERA_BENCH_AGREEMENT_INPUTS ?? 1000)
  if (!Number.isInteger(inputs) || inputs < 1) throw new Error(`agreementRates: inputs must be a positive integer, got ${inputs}`)
  const models = modelCatalogue()
  const configurations: ConfigurationRow[] = []
  const perturbation: PerturbationRow[] = []
  for (const [m, model] of models.entries()) {
    const measured = await measureModel(model, inputs, 0x5eed + m)
    configurations.push(...measured.rows)
    perturbation.push(measured.perturbation)
  }
  return {
    inputs,
    cpu: `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.availableParallelism()} cores)`,
    onnxruntime: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`,
    models: models.map(({ name, shape }) => ({ name, shape })),
    reference: sessionConfigurations[0].name,
    configurations,
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
