/**
 * The economics simulator's speed and memory: 4 years of daily epochs with 1,000 providers (a fixed population, so
 * every run does the same work), against a peer run in the same process, interleaved: the same simulation with the law
 * replaced by a no-op, which shows what the law costs. A third variant gives every provider its own identity (the law
 * then folds 2,000 events an epoch instead of a few dozen cohorts). `tsx bench/simulator.ts` runs it alone and
 * rewrites its section of BENCHMARKS.md; `npm run bench` runs it with the rest.
 */
import { cpus } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'
import { type EpochOutputs, Limiter } from '../economics/emissionLaw.ts'
import { emissionParams } from '../economics/params.ts'
import { defaultMarketModel } from '../economics/simulation/market.ts'
import { type LawStep, simulate } from '../economics/simulation/simulate.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

/** Epochs and providers of the benchmarked run. */
export const benchShape = { epochs: 4 * 365, providers: 1_000, feesPerEpoch: 50_000 } as const

/** The law replaced by a no-op: the epoch closes with nothing emitted and the state only moves to the next epoch. */
const noLaw: LawStep = ({ state, inputs, attested }) => {
  const outputs: EpochOutputs = {
    epoch: state.nextEpoch,
    fees: 0n,
    units: 0n,
    compute: 0n,
    attested: 0n,
    utilisation: 0n,
    feeEma: state.feeEma,
    utilisationEma: state.utilisationEma,
    phi: state.phi,
    baseAvailability: state.baseAvailability,
    usageEmission: 0n,
    availabilityEmission: 0n,
    forfeited: 0n,
    cap: inputs.supply,
    limiter: Limiter.None,
  }
  return {
    state: { ...state, nextEpoch: state.nextEpoch + 1n },
    outputs,
    record: { usageRate: 0n, availabilityPool: 0n, totalWeight: 0n, providers: new Map() },
    payouts: [],
    attested: attested ?? new Map(),
  }
}

const variants = {
  simulator: { law: undefined, identities: 'cohort' },
  'law replaced by a no-op': { law: noLaw, identities: 'cohort' },
  'one identity per provider': { law: undefined, identities: 'provider' },
} as const satisfies Record<string, { law: LawStep | undefined; identities: 'cohort' | 'provider' }>
type Variant = keyof typeof variants

/** One variant's timings (ms) and memory. */
export type SimulatorTiming = { variant: Variant; runsMs: number[]; medianMs: number; heapDeltaMb: number }

export type SimulatorBenchReturnType = {
  machine: string
  date: string
  node: string
  repetitions: number
  timings: SimulatorTiming[]
  /** Peak resident set of the bench process (MB), after every run. */
  peakRssMb: number
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}

/** A full garbage collection, so heap figures count what is reachable: the flag can be set at run time. */
const collect = (() => {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
})()

function runOnce(variant: Variant): { ms: number; heapDeltaMb: number } {
  const { law, identities } = variants[variant]
  const params = emissionParams({ epochLength: 86_400n })
  const model = { ...defaultMarketModel, initialProviders: benchShape.providers, fixedPopulation: true }
  collect()
  const heapBefore = process.memoryUsage().heapUsed
  const start = performance.now()
  const result = simulate({
    name: `bench ${variant}`,
    seed: 1,
    epochs: benchShape.epochs,
    params,
    model,
    identities,
    demand: () => benchShape.feesPerEpoch,
    ...(law ? { law } : {}),
  })
  const ms = performance.now() - start
  // The run's epochs are still referenced here: after a collection the delta is what a run holds, not its garbage.
  collect()
  const heapDeltaMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20
  if (result.epochs.length !== benchShape.epochs) throw new Error('bench: the run stopped early')
  return { ms, heapDeltaMb }
}

/** Runs each variant `repetitions` times, interleaved (A B C A B C …) after one warm-up round. */
export function simulatorBench(parameters: { repetitions?: number } = {}): SimulatorBenchReturnType {
  const repetitions = parameters.repetitions ?? 9
  const names = Object.keys(variants) as Variant[]
  for (const v of names) runOnce(v)
  const runs = new Map<Variant, { ms: number[]; heap: number[] }>(names.map((v) => [v, { ms: [], heap: [] }]))
  for (let i = 0; i < repetitions; i++) {
    for (const v of names) {
      const { ms, heapDeltaMb } = runOnce(v)
      runs.get(v)?.ms.push(ms)
      runs.get(v)?.heap.push(heapDeltaMb)
    }
  }
  const cpu = cpus()
  return {
    machine: `${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores)`,
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    repetitions,
    timings: names.map((variant) => {
      const r = runs.get(variant) as { ms: number[]; heap: number[] }
      return { variant, runsMs: r.ms, medianMs: median(r.ms), heapDeltaMb: median(r.heap) }
    }),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  }
}

/** Breaks a paragraph at spaces into lines of at most 120 characters, as bench/benchmarks.ts writes them. */
const wrap = (text: string): string[] => {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > 120) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  return [...lines, line]
}

/** The simulator section of BENCHMARKS.md. */
export function simulatorSection(bench: SimulatorBenchReturnType): string[] {
  const peer = bench.timings.find((t) => t.variant === 'law replaced by a no-op')
  const main = bench.timings.find((t) => t.variant === 'simulator')
  const ratio = (t: SimulatorTiming) => (peer ? (t.medianMs / peer.medianMs).toFixed(2) : '')
  const share = main && peer ? 1 - peer.medianMs / main.medianMs : Number.NaN
  // Below the spread of the runs themselves, a share is noise, not a cost.
  const spread = main ? (Math.max(...main.runsMs) - Math.min(...main.runsMs)) / main.medianMs : Number.NaN
  const lawCost =
    Math.abs(share) < spread
      ? `the law's cost is within the run-to-run spread (±${(50 * spread).toFixed(0)} % here): the simulator ran at ${main && peer ? (main.medianMs / peer.medianMs).toFixed(2) : '?'} × its peer`
      : `the law takes ${(100 * share).toFixed(0)} % of the simulator's time`
  return [
    '## Economics simulator',
    '',
    ...wrap(
      `Time, so ratios: ${benchShape.epochs.toLocaleString('en-US')} daily epochs (4 years) of \`economics/simulation/simulate.ts\` ` +
        `with ${benchShape.providers.toLocaleString('en-US')} providers (a fixed population: every run does the same work), ` +
        `measured on ${bench.machine}, Node ${bench.node}, ${bench.date}, by \`bench/simulator.ts\`. Each variant ran ` +
        `${bench.repetitions} times after a warm-up round, interleaved with the others; the table gives the median. The peer ` +
        'is the same simulation with the emission law replaced by a no-op. Heap held: the heap after a full collection ' +
        'with the finished run (its epochs) still referenced, less the heap after one before it, median. Other processes ' +
        'shared the machine, so absolute times vary between runs; the ratios, measured side by side, move less.',
    ),
    '',
    '| variant | median (ms) | ratio to the peer | heap held (MB) |',
    '| --- | ---: | ---: | ---: |',
    ...bench.timings.map((t) => `| ${t.variant} | ${t.medianMs.toFixed(0)} | ${ratio(t)} | ${t.heapDeltaMb.toFixed(1)} |`),
    '',
    ...wrap(
      `With cohorts (the simulator's default) ${lawCost}. Peak resident set of the bench process: ` +
        `${bench.peakRssMb.toFixed(0)} MB. With one identity per provider the law folds every provider's events and ` +
        'copies its map of attested capacities each epoch; cohorts give it the same totals to the wei ' +
        '(`economics/simulation/simulate.test.ts`).',
    ),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = benchmarksFile
  const bench = simulatorBench()
  writeSection(file, simulatorSection(bench))
  for (const t of bench.timings)
    process.stdout.write(`${t.variant}: ${t.medianMs.toFixed(0)} ms (${t.runsMs.map((x) => x.toFixed(0)).join(', ')})\n`)
  process.stdout.write(`peak RSS ${bench.peakRssMb.toFixed(0)} MB; wrote the simulator section of ${file}\n`)
}
