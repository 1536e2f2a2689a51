import { TSR, WAD } from '../../protocol/units.ts'
import { type ScenarioId, type ScenarioOverrides, scenarioIds, scenarios } from './scenarios.ts'
import type { BarVerdict } from './types.ts'

/**
 * A grid of parameters to run scenarios over. Fractions as numbers (κ 0.05), the take in bps, T_B in epochs (the
 * half-life of B_k: other values run halfLife.ts's exploration-only variant of the law), B0, the stake per unit and the
 * minimum take in TSR. An absent axis stays at its default.
 */
export type SweepGrid = {
  kappa?: readonly number[]
  takeBps?: readonly number[]
  halfLife?: readonly number[]
  maxStepUp?: readonly number[]
  maxStepDown?: readonly number[]
  baseAvailability0?: readonly number[]
  phiMin?: readonly number[]
  stakePerUnit?: readonly number[]
  minTake?: readonly number[]
}

/** One point of the grid: the value of every axis that was swept. */
export type SweepPoint = { [K in keyof SweepGrid]?: number }

/** What the scenarios made of one point. */
export type SweepResult = {
  point: SweepPoint
  /** Per scenario: whether every bar of every run passed, and the bars that failed. */
  scenarios: Partial<Record<ScenarioId, { passed: boolean; failed: (BarVerdict & { run: string })[] }>>
  /** Every scenario passed. */
  passed: boolean
  /** Why the point wasn't run (κ ≥ τ, which the contracts refuse), if it wasn't. */
  skipped?: string
}

const wad = (x: number): bigint => (BigInt(Math.round(x * 1e12)) * WAD) / 10n ** 12n
const tsrWei = (x: number): bigint => (BigInt(Math.round(x * 1e6)) * TSR) / 10n ** 6n

/** The overrides a point stands for. */
export function overridesOf(point: SweepPoint): ScenarioOverrides {
  const params: NonNullable<ScenarioOverrides['params']> = {}
  if (point.kappa !== undefined) params.kappa = wad(point.kappa)
  if (point.maxStepUp !== undefined) params.maxStepUp = wad(point.maxStepUp)
  if (point.maxStepDown !== undefined) params.maxStepDown = wad(point.maxStepDown)
  if (point.baseAvailability0 !== undefined) params.baseAvailability0 = tsrWei(point.baseAvailability0)
  if (point.phiMin !== undefined) params.phiMin = wad(point.phiMin)
  if (point.stakePerUnit !== undefined) params.stakePerUnit = tsrWei(point.stakePerUnit)
  const rules: NonNullable<ScenarioOverrides['rules']> = {}
  if (point.takeBps !== undefined) rules.takeBps = BigInt(point.takeBps)
  if (point.minTake !== undefined) rules.minTake = tsrWei(point.minTake)
  return { params, rules, ...(point.halfLife === undefined ? {} : { halfLife: point.halfLife }) }
}

/** Every point of the grid: the cartesian product of its axes. */
export function pointsOf(grid: SweepGrid): SweepPoint[] {
  let points: SweepPoint[] = [{}]
  for (const [axis, values] of Object.entries(grid) as [keyof SweepGrid, readonly number[] | undefined][]) {
    if (!values?.length) continue
    points = points.flatMap((p) => values.map((v) => ({ ...p, [axis]: v })))
  }
  return points
}

/**
 * Runs `scenarios` (all by default) at every point of `grid` with `seed` and reports which pass every bar. A point
 * with κ ≥ τ is skipped: the contracts refuse it. Costly: each point runs each scenario in full (S6 is 72 runs).
 */
export function sweep(
  grid: SweepGrid & {
    scenarios?: readonly ScenarioId[]
    seed?: number
    years?: number
    overrides?: Omit<ScenarioOverrides, 'params' | 'rules' | 'halfLife'>
  },
): SweepResult[] {
  const { scenarios: ids = scenarioIds, seed = 1, years, overrides: extra, ...axes } = grid
  return pointsOf(axes).map((point) => {
    const kappa = point.kappa ?? 0.05
    const tau = (point.takeBps ?? 1000) / 10_000
    if (kappa >= tau) return { point, scenarios: {}, passed: false, skipped: 'κ ≥ τ' }
    const overrides = { ...extra, ...overridesOf(point) }
    const results: SweepResult['scenarios'] = {}
    for (const id of ids) {
      const runs = scenarios[id](seed, years, overrides)
      const failed = runs.flatMap((run) => run.verdicts.filter((v) => !v.passed).map((v) => ({ ...v, run: run.name })))
      results[id] = { passed: failed.length === 0, failed }
    }
    return { point, scenarios: results, passed: Object.values(results).every((r) => r?.passed) }
  })
}
