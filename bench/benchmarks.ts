/**
 * `npm run bench`: measures the gas of every state-changing external function of the four contracts and of
 * `advanceEpoch` against paid providers and outages, on fresh anvil nodes, then how often honest inference outputs
 * agree under the fingerprint (bench/agreementRates.ts), and writes `BENCHMARKS.md`.
 * Not part of `npm test`: it takes about a minute (10,000 providers are registered and paid).
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type AgreementRatesReturnType, agreementRates, candidateTolerance, defaultToleranceBits, toleranceBits } from './agreementRates.ts'
import { baseline } from './baseline.ts'
import { type AdvanceGas, BLOCK_GAS_LIMIT, type EpochCloseGasReturnType, epochCloseGas } from './epochCloseGas.ts'
import { type GasRow, type LifecycleGasReturnType, lifecycleGas } from './lifecycleGas.ts'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const outFile = path.join(repoRoot, 'BENCHMARKS.md')

const n = (x: bigint | number) => x.toLocaleString('en-US')
const gasCell = (gas: bigint | undefined) => (gas === undefined ? `out of gas at ${n(BLOCK_GAS_LIMIT)}` : n(gas))
const change = (now: bigint, before: bigint) => {
  const diff = now - before
  const sign = diff >= 0n ? '+' : '−'
  const abs = diff >= 0n ? diff : -diff
  return `${sign}${n(abs)}, ${sign}${(Number((abs * 1_000n) / before) / 10).toFixed(1)} %`
}
/** Breaks a paragraph at spaces into lines of at most 120 characters (the repository keeps lines ≤ 140). */
const wrap = (text: string): string => {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > 120) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  return [...lines, line].join('\n')
}
const keyOf = (row: GasRow) => `${row.contract}.${row.call} (${row.note})`
/** A "before" cell: empty where the baseline has no such case. */
const beforeCell = (before: bigint | undefined) => (before === undefined ? '' : n(before))
/** A Markdown table's lines: the headers, their alignments (`---`, `---:`, `:---:`), then a row of cells each. */
const table = (headers: string[], alignments: string[], rows: string[][]) =>
  [headers, alignments, ...rows].map((cells) => `| ${cells.join(' | ')} |`)

/** The catch-up fit: gas ≈ fixed + perEpoch · epochs, from the bounded calls over empty epochs and busy ones. */
function catchUpFit(catchUp: readonly AdvanceGas[]) {
  const empty = (epochs: number) => catchUp.find((c) => c.paidProviders === 0 && c.epochs === epochs)?.gas
  const [one, hundred, fiveHundred] = [empty(1), empty(100), empty(500)]
  const busy = catchUp.find((c) => c.paidProviders > 0)
  if (one === undefined || hundred === undefined || fiveHundred === undefined || busy?.gas === undefined) return undefined
  const perEmptyEpoch = (fiveHundred - hundred) / 400n
  const fixed = one - perEmptyEpoch
  const perBusyEpoch = (busy.gas - fixed) / BigInt(busy.epochs)
  return { fixed, perEmptyEpoch, perBusyEpoch, busyEpochsPerBlock: (BLOCK_GAS_LIMIT - fixed) / perBusyEpoch }
}

/** `count` of `total` in percent, with `digits` decimals. */
const percent = (count: number, total: number, digits = 1) => ((100 * count) / total).toFixed(digits)
/** One cell per tolerance, in `toleranceBits` order: `a / b / c` (percent). */
const perTolerance = (counts: Record<number, number>, total: number, digits = 1) =>
  toleranceBits.map((bits) => percent(counts[bits], total, digits)).join(' / ')

/** The agreement section's lines (bench/agreementRates.ts). */
function agreementSection(agreement: AgreementRatesReturnType): string[] {
  const bitsList = toleranceBits.join('/')
  const { rtol } = candidateTolerance(new Float32Array([1]), defaultToleranceBits)
  const onnxIdentical = agreement.configurations.filter((row) => row.engine === 'onnxruntime').every((row) => row.identical === row.outputs)
  // Only where a plain-JS pass computes differently at all (not `Expand`, which copies).
  const jsRows = agreement.configurations.filter((row) => row.engine === 'plain JS' && row.identical < row.outputs)
  const maxScaled = Math.max(...agreement.configurations.map((row) => row.maxScaledError))
  const finest = toleranceBits[toleranceBits.length - 1]
  const finestRtol = candidateTolerance(new Float32Array([1]), finest).rtol
  const jsFingerprint = jsRows.map((row) => (100 * row.fingerprintEqual[defaultToleranceBits]) / row.outputs)
  const jsElementwise = Math.min(...jsRows.map((row) => (100 * row.elementwiseAgree[defaultToleranceBits]) / row.outputs))
  // Uniform over 1..4 ulps: 2.5 on average.
  const straddle = toleranceBits.map((bits) => ((100 * 2.5) / 2 ** (23 - bits)).toFixed(2)).join(' / ')
  return [
    '## Agreement between honest runs',
    '',
    `Counts, not time: each catalogue model (${agreement.models.map((m) => `${m.name}: ${m.shape}`).join('; ')}) runs ` +
      `${n(agreement.inputs)} seeded random inputs of 1 to 8 rows under ${agreement.onnxruntime} in the bench process, ` +
      `on this machine (${agreement.cpu}), with intra-op threads 1 and 2 and graph optimisation \`disabled\` and \`all\` ` +
      '(the agent runs 1 thread, `all`), and in two plain-JS forward passes standing in for another machine’s kernels ' +
      '(float64 sums, as the tests’ reference; float32 sums without FMA, in index order). Every output is compared with ' +
      `the reference configuration's (${agreement.reference}), in percent of the outputs: bit-identical; fingerprints ` +
      `(\`fingerprintOutput\`) equal at ${bitsList} bits (${defaultToleranceBits} is the job spec's default ` +
      '`outputTolerance`); and `outputsAgree` (protocol/agreement.ts: |a − b| ≤ atol + rtol·|b| element-wise) at the ' +
      `candidate tolerance for the same bits, rtol = 2^-(bits−2) (${rtol.toExponential(2)} at ${defaultToleranceBits}) ` +
      'and atol = rtol × max|b| of the output. Errors, the largest over all outputs: ulps are steps between ' +
      'representable float32 values; the relative error is |a − b| / |b|, which blows up where sums cancel to near zero; ' +
      'the scaled error is |a − b| / max|b|. The counts depend on the CPU and the onnxruntime build; a rerun on the same ' +
      'machine repeats them.',
    '',
    ...table(
      ['model', 'configuration', 'identical', `fp equal (${bitsList})`, `agree (${bitsList})`, 'max ulps', 'max rel.', 'max scaled'],
      ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:'],
      agreement.configurations.map((row) => [
        row.model,
        row.configuration,
        percent(row.identical, row.outputs),
        perTolerance(row.fingerprintEqual, row.outputs),
        perTolerance(row.elementwiseAgree, row.outputs),
        n(row.maxUlps),
        row.maxRelativeError.toExponential(1),
        row.maxScaledError.toExponential(1),
      ]),
    ),
    '',
    (onnxIdentical
      ? 'On this machine every onnxruntime configuration gave outputs bit-identical to the reference: for these models ' +
        'neither the split across threads nor the graph optimisations changed any rounding. '
      : 'On this machine some onnxruntime configurations changed outputs (rows with identical < 100). ') +
      `Where the plain-JS passes compute differently (the MLPs), the default fingerprint matched the reference on ` +
      `${Math.min(...jsFingerprint).toFixed(1)} to ${Math.max(...jsFingerprint).toFixed(1)} % of the outputs (fewer as ` +
      `sums grow longer), the element-wise check at its default on at least ${jsElementwise.toFixed(1)} %.` +
      (maxScaled > 0
        ? ` The largest scaled error, ${maxScaled.toExponential(1)}, is ${Math.floor(rtol / maxScaled)} times below the ` +
          `candidate atol / max|b| at ${defaultToleranceBits} bits (${rtol.toExponential(1)}) and ` +
          `${Math.floor(finestRtol / maxScaled)} times below it at ${finest} bits.`
        : ''),
    '',
    '### Outputs perturbed by ±1 to 4 ulps',
    '',
    `Each reference output (${n(agreement.inputs)} per model), every element moved by a seeded random ±1 to 4 ulps: in ` +
      `percent at ${bitsList} bits, the outputs whose fingerprint changed, the elements whose rounded word changed, and ` +
      'the outputs `outputsAgree` rejected at the candidate tolerance. An element k ulps off straddles a rounding ' +
      `boundary with probability k / 2^(23−bits): ${straddle} % on average.`,
    '',
    ...table(
      ['model', 'elements', `fp changed: outputs (${bitsList})`, `fp changed: elements (${bitsList})`, `rejected (${bitsList})`],
      ['---', '---:', '---:', '---:', '---:'],
      agreement.perturbation.map((row) => [
        row.model,
        n(row.elements),
        perTolerance(row.fingerprintOutputs, row.outputs),
        perTolerance(row.fingerprintElements, row.elements, 2),
        perTolerance(row.elementwiseOutputs, row.outputs),
      ]),
    ),
    '',
    '### Outputs altered',
    '',
    `The same reference outputs altered, in percent caught by \`outputsAgree\` at ${defaultToleranceBits} bits: the ` +
      "agent's lie (v × 1.5 + 1), the largest-magnitude element × 1.01, a random element × 1.01; and the last caught " +
      `by the fingerprint at ${defaultToleranceBits} bits. A 1 % change of an element smaller than atol / 0.01 ≈ ` +
      `${(rtol / 0.01).toFixed(4)} × max|b| is within the absolute tolerance, so the element-wise check lets it pass by ` +
      'design; the fingerprint, relative in every element, catches it.',
    '',
    ...table(
      ['model', 'lie', 'largest × 1.01', 'random × 1.01', `random × 1.01, fingerprint (${defaultToleranceBits})`],
      ['---', '---:', '---:', '---:', '---:'],
      agreement.perturbation.map((row) => [
        row.model,
        percent(row.lieCaught, row.outputs),
        percent(row.largestPlusOnePercentCaught, row.outputs),
        percent(row.randomPlusOnePercentCaught, row.outputs),
        percent(row.randomPlusOnePercentFingerprintCaught, row.outputs),
      ]),
    ),
    '',
  ]
}

/** BENCHMARKS.md from the three measurements. */
function renderBenchmarks(lifecycle: LifecycleGasReturnType, epochs: EpochCloseGasReturnType, agreement: AgreementRatesReturnType): string {
  const lines: string[] = []
  const push = (...l: string[]) => lines.push(...l.map((x) => (x.startsWith('|') ? x : wrap(x))))
  push(
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`bench/benchmarks.ts`); do not edit by hand.',
    '',
    `Gas, not time: every number in the gas sections is the \`gasUsed\` of a transaction that a fixed script sends to a fresh ${epochs.node} node ` +
      '(its default hardfork, the devnet parameters of `contracts/deploy.ts`). Gas is deterministic, so one run is exact and ' +
      'needs no repetitions, timing or ratios; a rerun prints the same numbers until a contract or the script changes. ' +
      `"Before" is the same script run against the contracts of commit ${baseline.commit}, before per-provider epoch ` +
      'rewards became pull-based against per-epoch totals (`bench/baseline.ts`). Gas includes the 21,000 of every transaction.',
    '',
    '## Gas per external function',
    '',
    'One Redundant(k=2) job from registration to the reward claims (the lifecycle), then the calls it does not make. ' +
      'Funding transfers and `approve` are set-up and not in the lifecycle total.',
    '',
    ...table(
      ['contract', 'function', 'case', 'gas', 'before', 'in lifecycle'],
      ['---', '---', '---', '---:', '---:', ':---:'],
      lifecycle.rows.map((row) => [
        row.contract,
        `\`${row.call}\``,
        row.note,
        n(row.gas),
        beforeCell(baseline.rows[keyOf(row)]),
        row.lifecycle ? '✓' : '',
      ]),
    ),
    '',
    `**k=2 lifecycle total** (approve excluded): **${n(lifecycle.lifecycleTotal)} gas**; before: ${n(baseline.lifecycleTotal)} ` +
      `(${change(lifecycle.lifecycleTotal, baseline.lifecycleTotal)}). The issue's figure, ${n(baseline.issueLifecycleTotal)}, ` +
      'came from a script of its own that this bench does not reproduce (its steps are not recorded); compare the totals ' +
      'of the same script above. The lifecycle includes closing the job’s epoch and both providers’ claims.',
    '',
    '## `advanceEpoch` against paid providers',
    '',
    'One epoch closed, with 1, 100 and 10,000 providers paid in it (each a registered provider with its own hardware; ' +
      'the JobMarket is an account calling `recordJob` directly), 10,000 TSR of fees in all. Closing stores two numbers and ' +
      'emits one event whatever the number of providers; the gas between rows differs by a read of the capped set ' +
      '(a recipient alone holds the cap; 100 or 10,000 similar ones leave it empty).',
    '',
    ...table(
      ['paid providers', 'gas', 'before'],
      ['---:', '---:', '---:'],
      epochs.byPaidProviders.map((row) => [
        n(row.paidProviders),
        gasCell(row.gas),
        gasCell(baseline.advanceByPaidProviders[row.paidProviders]),
      ]),
    ),
    '',
    `\`claim\` by one provider out of 10,000 paid in the epoch: ${n(epochs.claimAmongMany)} gas (it reads the epoch's totals and ` +
      'its own fees and weight).',
    '',
    '## Catch-up after a keeper outage',
    '',
    '`advanceEpoch(maxEpochs)` closes at most `maxEpochs` ended epochs, `advanceEpoch()` at most 64. After a 1,000-epoch ' +
      'outage of a controller that closed its first epoch before:',
    '',
    ...table(
      ['case', 'epochs closed', 'gas', 'before'],
      ['---', '---:', '---:', '---:'],
      epochs.catchUp.map((row) => [row.case, n(row.epochs), gasCell(row.gas), beforeCell(baseline.catchUp[row.case])]),
    ),
  )
  const fit = catchUpFit(epochs.catchUp)
  if (fit) {
    push(
      '',
      `Fit: a call costs ≈ ${n(fit.fixed)} gas plus ${n(fit.perEmptyEpoch)} per empty epoch or ${n(fit.perBusyEpoch)} per epoch ` +
        `that had fees and recipients (two fresh storage slots, the event, one read per capped weight: ≤ 4 at the default ` +
        `cap, ≤ 16 at the smallest), whatever the number of providers. So a ` +
        `${n(BLOCK_GAS_LIMIT)}-gas block fits ≈ ${n(fit.busyEpochsPerBlock)} busy epochs in one call; the server's keeper ` +
        'passes 100. An outage of any length is closed in as many calls as it takes, never stuck. Before, one call closed ' +
        'up to 64 epochs at ≈ 5,170 gas per paid provider each, so ≈ 90 paid providers an epoch over a 64-epoch outage ' +
        '(or ≈ 5,750 in one epoch) no longer fitted a block.',
    )
  }
  push(
    '',
    '## `recordJob` (called by `JobMarket.finalize` for each paid provider)',
    '',
    'Providers of different hardware, in one epoch. A provider’s first job of the epoch keeps the epoch’s capped set (the ' +
      "weights holding the per-provider cap's share: at most 16, at most 4 at the default 25 %; here each newcomer is " +
      'larger than the last, enters the set and pushes smaller ones out) instead of appending to a list of recipients, ' +
      'and packs its weight with its flags.',
    '',
    ...table(
      ['case', 'gas', 'before'],
      ['---', '---:', '---:'],
      epochs.recordJob.map((row) => [row.case, n(row.gas), beforeCell(baseline.recordJob[row.case])]),
    ),
    '',
    ...agreementSection(agreement),
  )
  return lines.join('\n')
}

async function main(): Promise<void> {
  const lifecycle = await lifecycleGas()
  const epochs = await epochCloseGas()
  const agreement = await agreementRates()
  writeFileSync(outFile, renderBenchmarks(lifecycle, epochs, agreement))
  // Committed files are Biome-formatted (tables padded); format it as `npm run format` would.
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', outFile], { stdio: 'ignore' })
  process.stdout.write(
    `bench: wrote ${outFile} (k=2 lifecycle ${n(lifecycle.lifecycleTotal)} gas; agreement over ${n(agreement.inputs)} inputs ` +
      `in ${agreement.seconds.toFixed(1)} s)\n`,
  )
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
