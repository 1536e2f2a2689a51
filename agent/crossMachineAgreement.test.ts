import { beforeAll, describe, expect, it } from 'vitest'
import { firstDisagreementOf, TOLERANCE_SLACK_BITS, withinTolerance } from '../protocol/agreement.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import { buildOutputTree, type OutputTree, scaleWordOf } from '../protocol/outputTree.ts'
import { alterOutput } from './lieDecision.ts'
import { type CatalogueModel, catalogueInputs, forwardPasses, modelCatalogue } from './models/modelCatalogue.ts'
import { floatOrdinal, perturbByUlps, wordOfOrdinal } from './models/perturbByUlps.ts'
import { createPrng } from './models/prng.ts'
import { runCatalogueModel, sessionConfigurations } from './models/runCatalogueModel.ts'
import { toleranceMargin, unroundedOutput } from './models/toleranceMargin.ts'

// JobMarket slashes a provider only on an element out of `withinTolerance` against the winning output. Honest
// providers differ by their kernels (threads, fused graphs, another machine's instructions, float32 or float64 sums):
// every honest engine here must agree with every other on every output, or an honest provider gets slashed; and
// every output altered beyond the bound must be caught.

const INPUTS_PER_MODEL = 1_000
const toleranceBits = defaultOutputTolerance
const MAX_ULPS = 4

/** One way of computing a model's outputs: its outputs, one per input, and their trees. */
type Engine = { name: string; outputs: Float32Array[]; trees: OutputTree[] }
/** A model and its honest engines, the reference (onnxruntime's first configuration) first. */
type Measured = { model: CatalogueModel; engines: Engine[] }

const tree = (values: Float32Array) => buildOutputTree(values, toleranceBits)
const valuesOf = (words: Uint32Array) => new Float32Array(words.buffer, words.byteOffset, words.length)

/** Every honest engine's outputs for `model`: the onnxruntime configurations, the plain-JS passes, the reference ± ulps. */
async function measure(model: CatalogueModel, seed: number): Promise<Measured> {
  const inputs = catalogueInputs({ model, count: INPUTS_PER_MODEL })
  const engines: Engine[] = []
  // Configurations mostly give bit-identical outputs: build each distinct output's tree once.
  const cache = new Map<string, OutputTree>()
  const treeOf = (values: Float32Array) => {
    const key = Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64')
    const found = cache.get(key) ?? tree(values)
    cache.set(key, found)
    return found
  }
  const engine = (name: string, outputs: Float32Array[]) => engines.push({ name, outputs, trees: outputs.map(treeOf) })
  for (const configuration of sessionConfigurations)
    engine(`onnxruntime, ${configuration.name}`, await runCatalogueModel({ model, configuration, inputs }))
  for (const pass of forwardPasses)
    engine(
      pass,
      inputs.map((input) => model.forward[pass](input, input.length / model.inputSize)),
    )
  const next = createPrng(seed)
  engine(
    `reference ±${MAX_ULPS} ulps`,
    engines[0].outputs.map((values) => perturbByUlps({ values, maxUlps: MAX_ULPS, next })),
  )
  return { model, engines }
}

/**
 * `reference` with element `index` moved along the canonical grid (a step is one unit in the last of the
 * `toleranceBits` kept bits) in `direction`, to the first step `withinTolerance` rejects, found by doubling then
 * bisecting: each step adds a step to the distance and at most 2^-(t − slack − 1) of one to the bound (which shrinks
 * toward zero), so the rule flips once. Returns the steps and the outputs either side of the bound.
 */
function justPastTolerance(reference: OutputTree, index: number, direction: 1 | -1) {
  const grid = 2 ** (23 - toleranceBits)
  const wordAt = (steps: number) => wordOfOrdinal(floatOrdinal(reference.words[index]) + direction * steps * grid)
  const others = reference.words.slice()
  others[index] = 0
  // The moved output's committed scale, as `scaleWordOf` would find it, without rescanning per probe.
  const rest = scaleWordOf(others)
  const within = (steps: number) => {
    const a = wordAt(steps)
    const scaleA = Math.max(rest, a & 0x7fffffff)
    return withinTolerance({ a, b: reference.words[index], scaleA, scaleB: reference.scale, toleranceBits })
  }
  let past = 1
  while (within(past)) past *= 2
  let inside = past / 2
  while (past - inside > 1) {
    const mid = Math.floor((inside + past) / 2)
    if (within(mid)) inside = mid
    else past = mid
  }
  const moved = (steps: number) => {
    const words = reference.words.slice()
    words[index] = wordAt(steps)
    return tree(valuesOf(words))
  }
  return { steps: past, past: moved(past), inside: moved(past - 1) }
}

describe(`agreement across machines at the default tolerance (${toleranceBits} bits, slack ${TOLERANCE_SLACK_BITS})`, () => {
  const measured: Measured[] = []

  beforeAll(async () => {
    for (const [m, model] of modelCatalogue().entries()) measured.push(await measure(model, 0x5eed + m))
  })

  it('every honest engine agrees with the reference and with every other engine, on every output', () => {
    type Row = { model: string; engine: string; compared: number; disagreements: number; margin: number; unrounded: number }
    const rows: Row[] = []
    let pairs = 0
    let pairDisagreements = 0
    let pairMargin = 0
    for (const { model, engines } of measured) {
      const [reference] = engines
      for (const engine of engines.slice(1)) {
        const row: Row = { model: model.name, engine: engine.name, compared: 0, disagreements: 0, margin: 0, unrounded: 0 }
        engine.trees.forEach((a, i) => {
          const b = reference.trees[i]
          row.compared++
          if (firstDisagreementOf({ a, b, toleranceBits }) !== null) row.disagreements++
          row.margin = Math.max(row.margin, toleranceMargin({ a, b, toleranceBits }))
          const [rawA, rawB] = [unroundedOutput(engine.outputs[i]), unroundedOutput(reference.outputs[i])]
          row.unrounded = Math.max(row.unrounded, toleranceMargin({ a: rawA, b: rawB, toleranceBits }))
        })
        rows.push(row)
      }
      for (let p = 1; p < engines.length; p++)
        for (let q = p + 1; q < engines.length; q++)
          engines[p].trees.forEach((a, i) => {
            const b = engines[q].trees[i]
            pairs++
            if (firstDisagreementOf({ a, b, toleranceBits }) !== null) pairDisagreements++
            pairMargin = Math.max(pairMargin, toleranceMargin({ a, b, toleranceBits }))
          })
    }
    console.log(
      [
        `honest engines against the reference (onnxruntime, ${sessionConfigurations[0].name}) at ${toleranceBits} bits; ` +
          'margin: the largest |a − b| as a fraction of the bound, committed (rounded) and unrounded',
        ...rows.map(
          (r) =>
            `  ${r.model.padEnd(9)} ${r.engine.padEnd(34)} ${r.compared} outputs, ${r.disagreements} disagree, ` +
            `margin ${r.margin.toFixed(4)} (unrounded ${r.unrounded.toFixed(4)})`,
        ),
        `every other pair of engines: ${pairs} comparisons, ${pairDisagreements} disagree, margin ${pairMargin.toFixed(4)}`,
      ].join('\n'),
    )
    expect(rows).toHaveLength(measured.length * (sessionConfigurations.length - 1 + forwardPasses.length + 1))
    expect(rows.filter((r) => r.compared !== INPUTS_PER_MODEL)).toEqual([])
    expect(rows.filter((r) => r.disagreements > 0)).toEqual([])
    const others = measured[0].engines.length - 1
    expect(pairs).toBe((measured.length * INPUTS_PER_MODEL * others * (others - 1)) / 2)
    expect(pairDisagreements).toBe(0)
    // Not just inside the bound: an honest engine uses under a quarter of it, the headroom the slack bits buy.
    expect(Math.max(pairMargin, ...rows.flatMap((r) => [r.margin, r.unrounded]))).toBeLessThan(1 / 4)
    // The check was exercised: the perturbed reference, and the float32 sums wherever there are sums, differ from it.
    const exercised = rows.filter(
      (r) => r.engine === `reference ±${MAX_ULPS} ulps` || (r.engine === 'plain JS, float32 sums' && r.model !== 'broadcast'),
    )
    expect(exercised).toHaveLength(2 * measured.length - 1)
    expect(exercised.filter((r) => r.margin === 0 || r.unrounded === 0)).toEqual([])
  })

  it("catches the agent's lie against every honest engine's output", () => {
    let lies = 0
    let caught = 0
    for (const { engines } of measured)
      engines[0].outputs.forEach((reference, i) => {
        const lie = tree(alterOutput(reference))
        for (const engine of engines) {
          lies++
          if (firstDisagreementOf({ a: lie, b: engine.trees[i], toleranceBits }) !== null) caught++
        }
      })
    console.log(`alterOutput (v × 1.5 + 1): ${caught} of ${lies} caught`)
    expect(lies).toBe(measured.length * INPUTS_PER_MODEL * measured[0].engines.length)
    expect(caught).toBe(lies)
  })

  it('catches one element moved one grid step past the bound, and not one step less', () => {
    let cases = 0
    let caught = 0
    let passedInside = 0
    let fewestSteps = Number.POSITIVE_INFINITY
    for (const [m, { engines }] of measured.entries()) {
      const next = createPrng(0xb0d + m)
      engines[0].trees.forEach((reference, i) => {
        const values = valuesOf(reference.words)
        const largest = values.reduce((best, v, j) => (Math.abs(v) > Math.abs(values[best]) ? j : best), 0)
        // In turn the largest element (it sets the scale) and a random one, moved up or down at random.
        const index = i % 2 === 0 ? largest : Math.floor(next() * reference.length)
        const { steps, past, inside } = justPastTolerance(reference, index, next() < 0.5 ? 1 : -1)
        cases++
        fewestSteps = Math.min(fewestSteps, steps)
        // Either way round: the rule is symmetric, and the keeper may hold either output.
        if (
          firstDisagreementOf({ a: past, b: reference, toleranceBits }) === index &&
          firstDisagreementOf({ a: reference, b: past, toleranceBits }) === index &&
          toleranceMargin({ a: past, b: reference, toleranceBits }) > 1
        )
          caught++
        if (
          firstDisagreementOf({ a: inside, b: reference, toleranceBits }) === null &&
          toleranceMargin({ a: inside, b: reference, toleranceBits }) <= 1
        )
          passedInside++
      })
    }
    console.log(
      `one element just past the bound: ${caught} of ${cases} caught; one step less: ${passedInside} of ${cases} passed; ` +
        `the bound was ${fewestSteps} grid steps away or more`,
    )
    expect(cases).toBe(measured.length * INPUTS_PER_MODEL)
    expect(caught).toBe(cases)
    expect(passedInside).toBe(cases)
    // The element's own share of the bound alone is 2^slack grid steps: two honest outputs rounded a step apart
    // never come near it.
    expect(fewestSteps).toBeGreaterThan(2 ** TOLERANCE_SLACK_BITS)
  })

  it('catches an output one element short or one element long', () => {
    let cases = 0
    let caught = 0
    for (const { engines } of measured)
      engines[0].outputs.forEach((values, i) => {
        const reference = engines[0].trees[i]
        const extended = new Float32Array(values.length + 1)
        extended.set(values)
        // The extra element copies the last, so only the length tells them apart.
        extended[values.length] = values[values.length - 1]
        for (const altered of [tree(values.subarray(0, values.length - 1)), tree(extended)]) {
          cases += 2
          if (firstDisagreementOf({ a: altered, b: reference, toleranceBits }) === 'length') caught++
          if (firstDisagreementOf({ a: reference, b: altered, toleranceBits }) === 'length') caught++
        }
      })
    console.log(`one element short or long: ${caught} of ${cases} caught`)
    expect(cases).toBe(4 * measured.length * INPUTS_PER_MODEL)
    expect(caught).toBe(cases)
  })
})
