/**
 * `npm run bench`: measures the gas of every state-changing external function of the four contracts and of
 * `advanceEpoch` against paid providers and outages, on fresh anvil nodes, JobBatcher's batches against one
 * transaction per job (bench/batchGas.ts), then the executions and gas per job of
 * optimistic against redundant verification (bench/verificationOverhead.ts), how often honest inference outputs agree
 * under the fingerprint (bench/agreementRates.ts), the economics simulator's speed (bench/simulator.ts), subscription
 * fan-out to 1,000–10,000 subscribers (bench/subscriptions.ts) and reads against Ponder's built-in GraphQL
 * (bench/queries.ts), the agent's inference pool against a plain onnxruntime loop (bench/agentPool.ts), jobs per
 * second end to end on whole devnet stacks, the leader batching against one transaction per job (bench/throughput.ts)
 * the indexer's backfill rate and realtime lag against a no-op Ponder app (bench/indexer.ts) and the dashboard's
 * first-load size and time to interactive against GraphiQL (bench/web.ts), and writes `BENCHMARKS.md`.
 * Not part of `npm test`: it takes over twenty minutes (10,000 providers are registered and paid; 2,000 jobs run;
 * 10,000 sockets are opened four times per transport; four devnet stacks take some 900 jobs each). With `--gas`
 * (`npm run bench -- --gas`) it measures and writes the gas sections alone; the benches of batches, the simulator,
 * subscriptions, reads, the agent pool, throughput, the indexer and the dashboard each write their own section when
 * run alone (`npx tsx bench/<name>.ts`).
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { TOLERANCE_SLACK_BITS } from '../protocol/agreement.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import { type AgentPoolBenchReturnType, agentPoolBench, agentPoolSection } from './agentPool.ts'
import { type AgreementRatesReturnType, agreementRates, perturbationUlps, toleranceBits } from './agreementRates.ts'
import { baseline } from './baseline.ts'
import { type BatchGasReturnType, batchGas, batchGasSection } from './batchGas.ts'
import { type AdvanceGas, BLOCK_GAS_LIMIT, type EpochCloseGasReturnType, epochCloseGas } from './epochCloseGas.ts'
import { type IndexerBenchReturnType, indexerBench, indexerSection } from './indexer.ts'
import { type GasRow, type LifecycleGasReturnType, lifecycleGas } from './lifecycleGas.ts'
import { type QueriesBenchReturnType, queriesBench, queriesSection } from './queries.ts'
import { type SimulatorBenchReturnType, simulatorBench, simulatorSection } from './simulator.ts'
import { type SubscriptionsBenchReturnType, subscriptionsBench, subscriptionsSection } from './subscriptions.ts'
import { type ThroughputBenchReturnType, throughputBench, throughputSection } from './throughput.ts'
import { type VerificationOverheadReturnType, verificationOverhead } from './verificationOverhead.ts'
import { type WebBenchReturnType, webBench, webSection } from './web.ts'
import { writeSection } from './writeSection.ts'

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
/** A margin (a fraction of the tolerance bound) to two significant digits. */
const margin = (m: number) => (m === 0 ? '0' : m.toPrecision(2))
/** One margin per tolerance, in `toleranceBits` order. */
const marginPerTolerance = (margins: Record<number, number>) => toleranceBits.map((bits) => margin(margins[bits])).join(' / ')
/** The largest of `pick(row)` over `rows`, per tolerance. */
const largestPerTolerance = <T>(rows: T[], pick: (row: T) => Record<number, number>) =>
  Object.fromEntries(toleranceBits.map((bits) => [bits, Math.max(...rows.map((row) => pick(row)[bits]))]))

/** The agreement section's lines (bench/agreementRates.ts); exported so the section can be rendered on its own. */
export function agreementSection(agreement: AgreementRatesReturnType): string[] {
  const bitsList = toleranceBits.join('/')
  const bits = defaultOutputTolerance
  const width = 2 ** -(bits - TOLERANCE_SLACK_BITS)
  const onnxIdentical = agreement.configurations.filter((row) => row.engine === 'onnxruntime').every((row) => row.identical === row.outputs)
  // Only where a plain-JS pass computes differently at all (not `Expand`, which copies).
  const jsRows = agreement.configurations.filter((row) => row.engine === 'plain JS' && row.identical < row.outputs)
  const jsFingerprint = jsRows.map((row) => (100 * row.fingerprintEqual[bits]) / row.outputs)
  const disagreements = agreement.configurations.reduce(
    (sum, row) => sum + toleranceBits.reduce((s, t) => s + row.outputs - row.agree[t], 0),
    0,
  )
  const committed = largestPerTolerance(agreement.configurations, (row) => row.marginUsed)
  const unrounded = largestPerTolerance(agreement.configurations, (row) => row.unroundedMargin)
  const finest = toleranceBits[toleranceBits.length - 1]
  // −k..+k ulps uniformly: E|k| = k(k + 1) / (2k + 1).
  const meanUlps = (perturbationUlps * (perturbationUlps + 1)) / (2 * perturbationUlps + 1)
  const straddle = toleranceBits.map((t) => ((100 * meanUlps) / 2 ** (23 - t)).toFixed(2)).join(' / ')
  // A 1 % change of x escapes the rule while 0.01|x| ≤ w × (scale + 1.01|x|).
  const onePercentFloor = width / (0.01 - 1.01 * width)
  return [
    '## Agreement between honest runs',
    '',
    `Counts, not time: each catalogue model (${agreement.models.map((m) => `${m.name}: ${m.shape}`).join('; ')}) runs ` +
      `${n(agreement.inputs)} seeded random inputs of 1 to 8 rows under ${agreement.onnxruntime} in the bench process, ` +
      `on this machine (${agreement.cpu}), with intra-op threads 1 and 2 and graph optimisation \`disabled\` and \`all\` ` +
      '(the agent runs 1 thread, `all`), and in two plain-JS forward passes standing in for another machine’s kernels ' +
      '(float64 sums, as the tests’ reference; float32 sums without FMA, in index order). Every output is compared with ' +
      `the reference configuration's (${agreement.reference}) at ${bitsList} bits of \`outputTolerance\` (${bits} is the ` +
      "job spec's default), in percent of the outputs: bit-identical; fingerprints (the output tree's commitment, " +
      '`buildOutputTree`) equal; and in agreement under JobMarket’s element-wise rule (`withinTolerance` on the ' +
      'committed trees, `firstDisagreementOf`): canonical elements a and b agree when |a − b| ≤ 2^-(t − ' +
      `${TOLERANCE_SLACK_BITS}) × (min(scale_a, scale_b) + max(|a|, |b|)), a scale being an output's largest |element| ` +
      `(${width.toExponential(2)} × (…) at ${bits} bits). Margin used: the largest |a − b| over all outputs as a fraction ` +
      'of that bound, on the committed (rounded) elements and on the unrounded outputs; 0.06 would mean 16 times ' +
      'headroom. Errors, the largest over all outputs: ulps are steps between representable float32 values; the relative ' +
      'error is |a − b| / |b|, which blows up where sums cancel to near zero; the scaled error is |a − b| / max|b|. The ' +
      'counts depend on the CPU and the onnxruntime build; a rerun on the same machine repeats them.',
    '',
    ...table(
      [
        'model',
        'configuration',
        'identical',
        `fp equal (${bitsList})`,
        `agree (${bitsList})`,
        `margin used (${bitsList})`,
        `unrounded (${bitsList})`,
        'max ulps',
        'max rel.',
        'max scaled',
      ],
      ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      agreement.configurations.map((row) => [
        row.model,
        row.configuration,
        percent(row.identical, row.outputs),
        perTolerance(row.fingerprintEqual, row.outputs),
        perTolerance(row.agree, row.outputs),
        marginPerTolerance(row.marginUsed),
        marginPerTolerance(row.unroundedMargin),
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
      `sums grow longer); the element-wise rule found ${disagreements === 0 ? 'every output in agreement' : `${n(disagreements)} outputs out of tolerance`} ` +
      `at every measured tolerance. The largest margin used, committed, was ${marginPerTolerance(committed)} at ` +
      `${bitsList} bits: an element whose two values straddle a rounding boundary differs by one step of the kept ` +
      'bits once rounded, and a step is at most 1/32 of the bound (2^-t·|x| against 2^-(t − 4)·(scale + |x|) ≥ ' +
      `2^-(t − 4)·2|x|). Unrounded, the kernels' own differences used ${marginPerTolerance(unrounded)}: ` +
      `${Math.floor(1 / unrounded[bits])} times below the bound at ${bits} bits, ${Math.floor(1 / unrounded[finest])} ` +
      `times at ${finest}.`,
    '',
    `### Outputs perturbed by ±${perturbationUlps} ulps`,
    '',
    `Each reference output (${n(agreement.inputs)} per model), every element moved by a seeded random −${perturbationUlps} ` +
      `to +${perturbationUlps} ulps: in percent at ${bitsList} bits, the outputs whose fingerprint changed, the elements ` +
      'whose rounded word changed, and the outputs the element-wise rule rejected; and the largest margin used. An ' +
      `element k ulps off straddles a rounding boundary with probability k / 2^(23−bits): ${straddle} % on average.`,
    '',
    ...table(
      [
        'model',
        'elements',
        `fp changed: outputs (${bitsList})`,
        `fp changed: elements (${bitsList})`,
        `rejected (${bitsList})`,
        `margin used (${bitsList})`,
      ],
      ['---', '---:', '---:', '---:', '---:', '---:'],
      agreement.perturbation.map((row) => [
        row.model,
        n(row.elements),
        perTolerance(row.fingerprintOutputs, row.outputs),
        perTolerance(row.fingerprintElements, row.elements, 2),
        perTolerance(row.rejected, row.outputs),
        marginPerTolerance(row.marginUsed),
      ]),
    ),
    '',
    '### Outputs altered',
    '',
    `The same reference outputs altered, in percent caught by the element-wise rule at ${bits} bits: the agent's lie ` +
      `(v × 1.5 + 1), the largest-magnitude element × 1.01, a random element × 1.01; and the last caught by the ` +
      `fingerprint at ${bits} bits. A 1 % change of an element smaller than about ${onePercentFloor.toFixed(3)} × max|b| ` +
      'stays within the bound’s absolute part, so the rule lets it pass by design; the fingerprint, relative in every ' +
      'element, catches it, and agent/crossMachineAgreement.test.ts checks that one element moved a step past the bound ' +
      'is caught.',
    '',
    ...table(
      ['model', 'lie', 'largest × 1.01', 'random × 1.01', `random × 1.01, fingerprint (${bits})`],
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

/** The verification overhead section's lines (bench/verificationOverhead.ts); exported so it can be rendered on its own. */
export function overheadSection(overhead: VerificationOverheadReturnType): string[] {
  const { optimistic, redundant } = overhead
  const p = Number(overhead.spotCheckBps) / 100
  const pm = (row: { extraPercent: number; standardErrorPercent: number }) =>
    row.standardErrorPercent === 0
      ? `${row.extraPercent.toFixed(1)} %`
      : `${row.extraPercent.toFixed(1)} ± ${row.standardErrorPercent.toFixed(1)} %`
  const z = (optimistic.extraPercent - p) / optimistic.standardErrorPercent
  const gasShare = (gas: bigint) => percent(Number(gas), Number(redundant.gasPerJob))
  return [
    '## Verification overhead: optimistic against redundant',
    '',
    `Executions and gas per job, measured together: ${n(optimistic.jobs)} Optimistic jobs (k = 1, spot-checked with ` +
      `p = \`spotCheckBps\` = ${p} % by the hash of the block after the reveal) and ${n(redundant.jobs)} Redundant(k=2) jobs, ` +
      'submitted alternately to one fresh anvil with the devnet deployment (`bench/verificationOverhead.ts`), every job ' +
      'run by honest providers and settled by the contract’s rules: a redundant job by its second reveal (the two agree); ' +
      'an optimistic job by `finalize` two blocks after its reveal, which starts the audit of a spot-checked one (one ' +
      'fresh provider runs it again and agrees, its reveal settling the job, so no tie-break), while an unchecked one ' +
      'waits out the ' +
      `${overhead.challengeWindow} s challenge window, then settles and pays its premium into the audit fund. No job is ` +
      'challenged and none is above the audit threshold. Executions are counted from the chain (`JobAssigned`, one per ' +
      'slot, each matched by a `ResultRevealed`); extra executions are those beyond the first, in % of one execution, ' +
      '± their standard error over the jobs (binomial for the optimistic ones). Gas per job sums every transaction of ' +
      'the job (submit, assignments, commits, reveals, finalizes; `approve` excluded, as in the lifecycle). Which jobs ' +
      'are spot-checked follows block hashes, so a rerun draws others: the executions vary within their standard error, ' +
      'the optimistic mean gas with them.',
    '',
    ...table(
      ['verification', 'jobs', 'audited', 'executions', 'extra executions per job', 'gas per job'],
      ['---', '---:', '---:', '---:', '---:', '---:'],
      [
        [
          `Optimistic (k=1, p = ${p} %)`,
          n(optimistic.jobs),
          n(optimistic.audited),
          n(optimistic.executions),
          pm(optimistic),
          n(optimistic.gasPerJob),
        ],
        ['Redundant (k=2)', n(redundant.jobs), n(redundant.audited), n(redundant.executions), pm(redundant), n(redundant.gasPerJob)],
      ],
    ),
    '',
    `Optimistic verification ran ${optimistic.extraPercent.toFixed(1)} % of an execution extra per job where redundant ` +
      `k = 2 ran ${redundant.extraPercent.toFixed(0)} %: ${percent(optimistic.extraPercent, redundant.extraPercent)} % of ` +
      `its overhead; p = ${p} % expected, ${Math.abs(z).toFixed(1)} standard errors ${z >= 0 ? 'above' : 'below'}. Gas per ` +
      `optimistic job: ${n(optimistic.unauditedGasPerJob)} unchecked (${gasShare(optimistic.unauditedGasPerJob)} % of a ` +
      `redundant job's ${n(redundant.gasPerJob)}), ` +
      (optimistic.auditedGasPerJob === undefined
        ? 'none spot-checked'
        : `${n(optimistic.auditedGasPerJob)} spot-checked (${gasShare(optimistic.auditedGasPerJob)} %: the auditor's ` +
          'assignment, commit and the reveal that settles)') +
      `, ${n(optimistic.gasPerJob)} on average (${gasShare(optimistic.gasPerJob)} %).`,
    '',
  ]
}

/** BENCHMARKS.md from the measurements. */
/** The four gas sections' lines, each from its `## ` heading (`writeSection` can write each alone). */
function gasSections(lifecycle: LifecycleGasReturnType, epochs: EpochCloseGasReturnType): string[][] {
  const lines: string[] = []
  const push = (...l: string[]) => lines.push(...l.map((x) => (x.startsWith('|') ? x : wrap(x))))
  push(
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
    '## `recordJob` (called by JobMarket at settlement for each paid provider)',
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
  )
  const sections: string[][] = []
  for (const line of lines) {
    if (line.startsWith('## ')) sections.push([])
    sections.at(-1)?.push(line)
  }
  return sections
}

function renderBenchmarks(
  lifecycle: LifecycleGasReturnType,
  epochs: EpochCloseGasReturnType,
  batches: BatchGasReturnType,
  overhead: VerificationOverheadReturnType,
  agreement: AgreementRatesReturnType,
  simulator: SimulatorBenchReturnType,
  subscriptions: SubscriptionsBenchReturnType,
  queries: QueriesBenchReturnType,
  agentPool: AgentPoolBenchReturnType,
  throughput: ThroughputBenchReturnType,
  indexer: IndexerBenchReturnType,
  web: WebBenchReturnType,
): string {
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
    ...gasSections(lifecycle, epochs).flat(),
    ...batchGasSection(batches),
    ...overheadSection(overhead),
    ...agreementSection(agreement),
    ...simulatorSection(simulator),
    ...subscriptionsSection(subscriptions),
    ...queriesSection(queries),
    ...agentPoolSection(agentPool),
    ...throughputSection(throughput),
    ...indexerSection(indexer),
    ...webSection(web),
  )
  return lines.join('\n')
}

async function main(): Promise<void> {
  const lifecycle = await lifecycleGas()
  const epochs = await epochCloseGas()
  if (process.argv.includes('--gas')) {
    // `npm run bench -- --gas`: the gas sections alone (a few minutes), the rest of the file as it was.
    for (const section of gasSections(lifecycle, epochs)) writeSection(outFile, section)
    process.stdout.write(`bench: wrote the gas sections of ${outFile} (k=2 lifecycle ${n(lifecycle.lifecycleTotal)} gas)\n`)
    return
  }
  const batches = await batchGas()
  const overhead = await verificationOverhead()
  const agreement = await agreementRates()
  const simulator = simulatorBench()
  const subscriptions = await subscriptionsBench()
  const queries = await queriesBench()
  const agentPool = await agentPoolBench()
  const throughput = await throughputBench()
  const indexer = await indexerBench()
  const web = await webBench()
  writeFileSync(
    outFile,
    renderBenchmarks(
      lifecycle,
      epochs,
      batches,
      overhead,
      agreement,
      simulator,
      subscriptions,
      queries,
      agentPool,
      throughput,
      indexer,
      web,
    ),
  )
  // Committed files are Biome-formatted (tables padded); format it as `npm run format` would.
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', outFile], { stdio: 'ignore' })
  process.stdout.write(
    `bench: wrote ${outFile} (k=2 lifecycle ${n(lifecycle.lifecycleTotal)} gas; optimistic ` +
      `${overhead.optimistic.extraPercent.toFixed(1)} ± ${overhead.optimistic.standardErrorPercent.toFixed(1)} % ` +
      'extra executions per job against redundant ' +
      `${overhead.redundant.extraPercent.toFixed(0)} %, ${n(overhead.optimistic.jobs)} jobs each in ${overhead.seconds.toFixed(1)} s; ` +
      `agreement over ${n(agreement.inputs)} inputs in ${agreement.seconds.toFixed(1)} s)\n`,
  )
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
