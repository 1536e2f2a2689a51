import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { formatEther } from 'viem'
import type { AnalyticsParams, EmissionsInterval, EmissionsPoint, EmissionsReport } from '../analytics.ts'
import { emissionsCsv } from '../emissionsCsv.ts'
import type { BarVerdict, SimulationRun } from '../simulation/types.ts'
import { emissionCharts, intervalLabels, type RenderedChart } from './charts.ts'
import { simulationReport } from './toAnalytics.ts'

/**
 * The reports `tessera economics` writes: for a simulated run, its per-epoch analytics as CSV, the charts as SVG and a
 * `report.md` with each pass bar's verdict and the headline numbers; an index `report.md` over many runs; and the same
 * charts over the live server's `emissionsVsUsage`. Every metric comes from `analytics.ts`, as the API computes it.
 */

/** A file a report wrote: where, and its size in bytes. */
export type WrittenFile = { path: string; bytes: number }

/** What {@link writeSimulationReport} wrote, and the run's verdicts. */
export type SimulationReportFiles = {
  name: string
  outDir: string
  files: WrittenFile[]
  verdicts: BarVerdict[]
  passed: boolean
}

/** A run's name as a file name: "S6 share=0.2 wash=1 regime=demand" → "S6-share-0.2-wash-1-regime-demand". */
export function fileNameOf(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .replace(/-{2,}/g, '-') || 'run'
  )
}

/**
 * Makes `outDir` (and its parents) and checks a file can be written in it, before any long work: a path under a file,
 * a read-only file system or a missing permission fails here, with the system's error as `cause`.
 */
export async function prepareOutDir(outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true })
  const probe = join(outDir, `.tessera-write-check-${process.pid}`)
  await writeFile(probe, '')
  await rm(probe)
}

/** Writes each `[name, text]` into `outDir` (made if missing) and returns the paths and sizes. */
export async function writeFiles(outDir: string, files: [name: string, text: string][]): Promise<WrittenFile[]> {
  await mkdir(outDir, { recursive: true })
  return Promise.all(
    files.map(async ([name, text]) => {
      const path = join(outDir, name)
      await writeFile(path, text)
      return { path, bytes: Buffer.byteLength(text) }
    }),
  )
}

/** A measured value or threshold: from 100 on to 2 decimals, below to 4 significant digits, with separators; NaN as "n/a". */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'n/a'
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞'
  if (Math.abs(value) >= 100) return value.toLocaleString('en-US', { maximumFractionDigits: 2 })
  return value.toLocaleString('en-US', { maximumSignificantDigits: 4 })
}

const formatTsr = (wei: bigint) => `${Number(formatEther(wei)).toLocaleString('en-US', { maximumFractionDigits: 2 })} TSR`
const formatRatio = (value: number | null) => (value === null ? 'n/a' : formatNumber(value))
const formatPercent = (value: number | null) => (value === null ? 'n/a' : `${formatNumber(value * 100)} %`)
const verdictWord = (passed: boolean) => (passed ? 'PASS' : 'FAIL')

/** A run's verdict over its bars: PASS or FAIL, or NO BARS for a run that only gives a reference (a baseline). */
function runVerdict(verdicts: readonly BarVerdict[]): string {
  if (!verdicts.length) return 'NO BARS'
  const passed = verdicts.filter((v) => v.passed).length
  return `${verdictWord(passed === verdicts.length)} (${passed} of ${verdicts.length} bars)`
}

/** A markdown table; `|` in a cell is escaped. */
function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/** The verdicts as a table: bar, measured, threshold, PASS/FAIL. */
function verdictTable(verdicts: readonly BarVerdict[]): string {
  return table(
    ['bar', 'measured', 'threshold', 'verdict'],
    verdicts.map((v) => [v.bar, formatNumber(v.measured), formatNumber(v.threshold), verdictWord(v.passed)]),
  )
}

/** What analysts read off a range as one window (the report's totals) and its annualised rate. */
function totalsTable(report: EmissionsReport): string {
  const t = report.totals
  if (!t) return '_No closed epoch in the range._'
  const perYear = report.annualised?.netIssuanceRatio ?? null
  return table(
    ['metric', 'value'],
    [
      ['epochs', `${t.fromEpoch} to ${t.epoch} (${t.epochs} closed)`],
      ['verified fees F', formatTsr(t.verifiedFees)],
      ['supply-side fees', formatTsr(t.supplySideFees)],
      ['burned take (protocol revenue)', formatTsr(t.protocolRevenue)],
      [
        'emitted (usage + availability)',
        `${formatTsr(t.emitted)} (usage ${formatTsr(t.usageEmission)}, availability ${formatTsr(t.availabilityEmission)})`,
      ],
      ['forfeited', formatTsr(t.forfeited)],
      ['earnings (revenue − emitted)', formatTsr(t.earnings)],
      ['coverage (burned / emitted)', `${formatRatio(t.coverageRatio)} (target τ/κ ${formatRatio(t.coverageTargetRatio)})`],
      ['subsidy share of provider income', formatPercent(t.subsidyShareRatio)],
      [
        'net issuance (minted − burned)',
        `${formatTsr(t.netIssuance)}: ${formatPercent(t.netIssuanceRatio)} of the start supply, ${formatPercent(perYear)} a year`,
      ],
      ['supply', `${formatTsr(t.startSupply)} → ${formatTsr(t.endSupply)}`],
      ['budget / cap', formatRatio(t.capUsedRatio)],
      ['epochs bound by cap / step-up / step-down', `${t.capBoundEpochs} / ${t.stepUpBoundEpochs} / ${t.stepDownBoundEpochs}`],
      ['φ at the end', formatRatio(t.phiRatio)],
      [
        'Ū at the end',
        `${formatPercent(t.utilisationEmaRatio)}, ${t.utilisationBand} U* ± db = ${formatPercent(t.targetUtilisationRatio)} ± ${formatPercent(t.deadbandRatio)}`,
      ],
    ],
  )
}

function chartSection(charts: readonly RenderedChart[]): string {
  return charts.map((c) => `### ${c.title}\n\n![${c.title}](${c.name}.svg)`).join('\n\n')
}

const simulatedPartiesNote =
  'The simulator reports its market in aggregate, not per address: the per-address columns of the CSV (providers paid, ' +
  'unique payers, concentrations, repeat rate) count parties (organic demand, the market, the attacker, honest providers), ' +
  'and jobs and challenges are not counted (0).'

/**
 * Writes one simulated run's report into `outDir`: `<name>.csv` (its emissionsVsUsage point per epoch, the API's CSV
 * columns), one SVG per chart with the points rolled up per `interval` (default D7: a daily simulation is noisy), and
 * `report.md` with each bar's verdict (measured against its threshold), the headline numbers and the run's totals.
 * `params`: the run's τ, κ, U*, db when it overrode the simulator's defaults.
 */
export async function writeSimulationReport(parameters: {
  run: SimulationRun
  outDir: string
  interval?: EmissionsInterval
  params?: AnalyticsParams
}): Promise<SimulationReportFiles> {
  const { run, outDir, params } = parameters
  const interval = parameters.interval ?? 'D7'
  const perEpoch = simulationReport({ run, interval: 'EPOCH', params })
  const charted = interval === 'EPOCH' ? perEpoch : simulationReport({ run, interval, params })
  const charts = await emissionCharts({ points: charted.points, interval, subtitle: `${run.name}, seed ${run.seed}` })
  const csvName = `${fileNameOf(run.name)}.csv`
  const passed = run.verdicts.every((v) => v.passed)
  const markdown = [
    `# ${run.name}`,
    `Seed ${run.seed}, ${run.epochs.length} epochs (days). Metrics by \`economics/analytics.ts\`, as the API computes them; charts ${intervalLabels[interval]}.`,
    `## Verdict: ${runVerdict(run.verdicts)}`,
    verdictTable(run.verdicts),
    '## Headline numbers',
    table(
      ['number', 'value'],
      Object.entries(run.headline).map(([name, value]) => [name, formatNumber(value)]),
    ),
    '## Over the whole run',
    totalsTable(perEpoch),
    '## Charts',
    chartSection(charts),
    '## Files',
    `- \`${csvName}\`: one row per epoch, its emissionsVsUsage point; each column is named with its unit (\`_tsr_wei\`, \`_ratio\`, \`_count\`, …).`,
    ...charts.map((c) => `- \`${c.name}.svg\`: ${c.title}.`),
    '',
    simulatedPartiesNote,
    '',
  ].join('\n\n')
  const files = await writeFiles(outDir, [
    [csvName, emissionsCsv(perEpoch.points)],
    ...charts.map((c): [string, string] => [`${c.name}.svg`, c.svg]),
    ['report.md', markdown],
  ])
  return { name: run.name, outDir, files, verdicts: run.verdicts, passed }
}

/** What a person reads on the terminal after a run's report is written: its verdicts, then where each file went. */
export function simulationSummary(report: SimulationReportFiles): string[] {
  return [
    `${report.name}: ${runVerdict(report.verdicts)}`,
    ...report.verdicts.map(
      (v) => `  ${verdictWord(v.passed)}  ${v.bar}: ${formatNumber(v.measured)} (threshold ${formatNumber(v.threshold)})`,
    ),
    ...report.files.map((f) => `  wrote ${f.path} (${f.bytes.toLocaleString('en-US')} bytes)`),
  ]
}

/** How many of the runs with bars pass them all: "48 of 54 runs pass every bar (1 run without bars)". */
export function runsPassed(reports: readonly SimulationReportFiles[]): string {
  const judged = reports.filter((r) => r.verdicts.length)
  const unjudged = reports.length - judged.length
  const passed = judged.filter((r) => r.passed).length
  return `${passed} of ${judged.length} runs pass every bar${unjudged ? ` (${unjudged} run${unjudged === 1 ? '' : 's'} without bars)` : ''}`
}

/**
 * Writes `report.md` in `outDir`: one line per run (verdict, bars passed, the bars that failed) linking to the run's
 * own report, which {@link writeSimulationReport} wrote in a folder under `outDir`.
 */
export async function writeSimulationIndex(parameters: {
  reports: readonly SimulationReportFiles[]
  outDir: string
  title: string
}): Promise<WrittenFile> {
  const { reports, outDir } = parameters
  const link = (r: SimulationReportFiles) => {
    const folder = relative(outDir, r.outDir).split(sep).join('/')
    return `[${folder || '.'}/report.md](${folder ? `${folder}/` : ''}report.md)`
  }
  const failing = (r: SimulationReportFiles) =>
    r.verdicts
      .filter((v) => !v.passed)
      .map((v) => `${v.bar}: ${formatNumber(v.measured)} vs ${formatNumber(v.threshold)}`)
      .join('; ')
  const markdown = [
    `# ${parameters.title}`,
    `${runsPassed(reports)}.`,
    table(
      ['run', 'verdict', 'bars passed', 'failing bars (measured vs threshold)', 'report'],
      reports.map((r) => [
        r.name,
        r.verdicts.length ? verdictWord(r.passed) : 'NO BARS',
        `${r.verdicts.filter((v) => v.passed).length} / ${r.verdicts.length}`,
        failing(r),
        link(r),
      ]),
    ),
    '',
  ].join('\n\n')
  const [file] = await writeFiles(outDir, [['report.md', markdown]])
  return file as WrittenFile
}

/**
 * Writes the live report into `outDir` from the server's `emissionsVsUsage` (see `fetchEmissionsVsUsage`):
 * `emissions.csv` (its points, the server's own CSV columns), the same SVG charts as a simulated run's, and `report.md`
 * with the range's totals. `source` names the server in titles.
 */
export async function writeLiveReport(parameters: { report: EmissionsReport; outDir: string; source: string }): Promise<WrittenFile[]> {
  const { report, outDir, source } = parameters
  const points: readonly EmissionsPoint[] = report.points
  const charts = await emissionCharts({ points, interval: report.interval, subtitle: source })
  const markdown = [
    `# Emissions against usage: ${source}`,
    `Epochs ${report.from} to ${report.to}, points ${intervalLabels[report.interval]}, from the server's \`emissionsVsUsage\`.`,
    '## Over the range',
    totalsTable(report),
    '## Charts',
    chartSection(charts),
    '## Files',
    `- \`emissions.csv\`: one row per point; each column is named with its unit.`,
    ...charts.map((c) => `- \`${c.name}.svg\`: ${c.title}.`),
    '',
  ].join('\n\n')
  return writeFiles(outDir, [
    ['emissions.csv', emissionsCsv(points)],
    ...charts.map((c): [string, string] => [`${c.name}.svg`, c.svg]),
    ['report.md', markdown],
  ])
}
