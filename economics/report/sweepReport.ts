import type { ScenarioId } from '../simulation/scenarios.ts'
import type { SweepGrid, SweepResult } from '../simulation/sweep.ts'
import { formatNumber, type WrittenFile, writeFiles } from './report.ts'

/** Each sweep axis as a table heading and as a CSV column named with its unit. */
const axes = {
  kappa: { heading: 'κ', column: 'kappa_ratio' },
  takeBps: { heading: 'τ (bps)', column: 'take_bps' },
  halfLife: { heading: 'T_B (epochs)', column: 'half_life_epochs' },
  maxStepUp: { heading: 'step up', column: 'max_step_up_ratio' },
  maxStepDown: { heading: 'step down', column: 'max_step_down_ratio' },
  baseAvailability0: { heading: 'B0 (TSR)', column: 'base_availability0_tsr' },
  phiMin: { heading: 'φ_min', column: 'phi_min_ratio' },
  stakePerUnit: { heading: 'stake per unit (TSR)', column: 'stake_per_unit_tsr' },
  minTake: { heading: 'min take (TSR)', column: 'min_take_tsr' },
} as const satisfies Record<keyof SweepGrid, { heading: string; column: string }>

/** The axes that some point sets, in {@link axes}' order. */
function sweptAxes(results: readonly SweepResult[]): (keyof SweepGrid)[] {
  return (Object.keys(axes) as (keyof SweepGrid)[]).filter((axis) => results.some((r) => r.point[axis] !== undefined))
}

/** A scenario's verdict at a point: PASS, FAIL, SKIPPED (a point the contracts refuse) or empty when not run. */
function cell(result: SweepResult, id: ScenarioId): string {
  if (result.skipped) return 'SKIPPED'
  const outcome = result.scenarios[id]
  if (!outcome) return ''
  return outcome.passed ? 'PASS' : 'FAIL'
}

/**
 * The sweep as a markdown table: a row per point, its axes' values, each scenario's verdict and whether all passed;
 * then every failed bar, measured against its threshold.
 */
export function sweepTable(parameters: { results: readonly SweepResult[]; scenarios: readonly ScenarioId[] }): string {
  const { results, scenarios } = parameters
  const swept = sweptAxes(results)
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  const header = [...swept.map((a) => axes[a].heading), ...scenarios, 'all pass']
  const rows = results.map((r) =>
    line([
      ...swept.map((a) => formatNumber(r.point[a] ?? Number.NaN)),
      ...scenarios.map((id) => cell(r, id)),
      r.skipped ? `SKIPPED (${r.skipped})` : r.passed ? 'PASS' : 'FAIL',
    ]),
  )
  const failures = results.flatMap((r) =>
    Object.values(r.scenarios).flatMap((outcome) =>
      (outcome?.failed ?? []).map(
        (f) =>
          `- ${swept.map((a) => `${axes[a].heading} ${formatNumber(r.point[a] ?? Number.NaN)}`).join(', ') || 'defaults'}: ${f.run}: ${f.bar}: ` +
          `${formatNumber(f.measured)} vs ${formatNumber(f.threshold)}`,
      ),
    ),
  )
  return [
    line(header),
    line(header.map(() => '---')),
    ...rows,
    ...(failures.length ? ['', 'Failed bars (measured vs threshold):', '', ...failures] : []),
  ].join('\n')
}

/** The sweep as CSV: a column per swept axis (named with its unit), a `<scenario>_verdict_name` per scenario, `all_pass_verdict_name`. */
export function sweepCsv(parameters: { results: readonly SweepResult[]; scenarios: readonly ScenarioId[] }): string {
  const { results, scenarios } = parameters
  const swept = sweptAxes(results)
  const lines = [
    [...swept.map((a) => axes[a].column), ...scenarios.map((id) => `${id.toLowerCase()}_verdict_name`), 'all_pass_verdict_name'],
  ]
  for (const r of results)
    lines.push([
      ...swept.map((a) => String(r.point[a] ?? '')),
      ...scenarios.map((id) => cell(r, id)),
      r.skipped ? 'SKIPPED' : r.passed ? 'PASS' : 'FAIL',
    ])
  return `${lines.map((l) => l.join(',')).join('\r\n')}\r\n`
}

/** Writes `sweep.md` ({@link sweepTable} under `title`) and `sweep.csv` ({@link sweepCsv}) into `outDir`. */
export async function writeSweepReport(parameters: {
  results: readonly SweepResult[]
  scenarios: readonly ScenarioId[]
  outDir: string
  title: string
}): Promise<WrittenFile[]> {
  const { outDir, title } = parameters
  return writeFiles(outDir, [
    ['sweep.md', `# ${title}\n\n${sweepTable(parameters)}\n`],
    ['sweep.csv', sweepCsv(parameters)],
  ])
}
