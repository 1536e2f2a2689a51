import { parse, View } from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import { formatEther } from 'viem'
import type { EmissionsInterval, EmissionsPoint, LimiterName } from '../analytics.ts'

/**
 * The charts analysts read (ECONOMICS.md, "What analysts read") over emissionsVsUsage points, simulated or live: each a
 * vega-lite spec, rendered to SVG by vega's headless View (`renderer: 'none'`: no browser, no canvas, no network; the
 * data is inline). The points are already rolled up: per epoch or rolling 7 / 30 epochs, as `interval` says.
 */

/** The charts, by file name (`<name>.svg`). */
export const chartNames = ['emissions', 'coverage', 'subsidy-share', 'net-issuance', 'phi-limiter', 'utilisation'] as const
export type ChartName = (typeof chartNames)[number]

/** Each chart's title. */
export const chartTitles = {
  emissions: 'Emissions against fees and the burned take',
  coverage: 'Coverage (burned take / emitted) against its τ/κ target',
  'subsidy-share': 'Subsidy share of provider income',
  'net-issuance': 'Net issuance (minted − burned), share of supply',
  'phi-limiter': 'φ and the bound that shaped the budget',
  utilisation: 'Utilisation against the U* ± db band',
} as const satisfies Record<ChartName, string>

/** A chart: its file name, its title and its vega-lite spec. */
export type ChartSpec = { name: ChartName; title: string; spec: TopLevelSpec }

/** A chart with its SVG. */
export type RenderedChart = ChartSpec & { svg: string }

/** What each interval's points span, for the charts' subtitles and axes. */
export const intervalLabels = {
  EPOCH: 'per epoch',
  D7: 'rolling 7 epochs',
  D30: 'rolling 30 epochs',
} as const satisfies Record<EmissionsInterval, string>

/** The limiters' colours: no bound grey, the step bounds orange (up) and blue (down), the cap red. */
const limiterColours = {
  NONE: '#c7c7c7',
  STEP_UP: '#ff7f0e',
  STEP_DOWN: '#1f77b4',
  CAP: '#d62728',
} as const satisfies Record<LimiterName, string>

const width = 720
const height = 240

/** One value of one series at one point: the long form every multi-series chart draws from. */
type SeriesRow = { epoch: number; series: string; value: number | null }

/** An amount of TSR wei as a number of TSR, for drawing only. */
const tsrOf = (wei: bigint): number => Number(formatEther(wei))

/** The rows of `series` (label → value at a point) over `points`. */
function seriesRows(points: readonly EmissionsPoint[], series: Record<string, (point: EmissionsPoint) => number | null>): SeriesRow[] {
  return points.flatMap((point) =>
    Object.entries(series).map(([label, value]) => ({ epoch: Number(point.epoch), series: label, value: value(point) })),
  )
}

/** The epoch axis, over exactly the points' epochs, so the charts of one report line up. */
function epochAxis(points: readonly EmissionsPoint[]) {
  const first = points[0]
  const last = points[points.length - 1]
  const domain = first && last ? [Number(first.epoch), Number(last.epoch) + 1] : [0, 1]
  return { field: 'epoch', type: 'quantitative', title: 'epoch (day)', axis: { format: 'd' }, scale: { domain, nice: false } } as const
}

/** A series' colour and dash: the same series looks the same in every chart. */
function seriesStyle(styles: Record<string, { colour: string; dashed?: boolean }>) {
  const domain = Object.keys(styles)
  return {
    color: {
      field: 'series',
      type: 'nominal',
      title: null,
      scale: { domain, range: domain.map((s) => styles[s]?.colour ?? '#000000') },
      legend: { orient: 'top', labelLimit: 0 },
    },
    // The same field, title and legend as the colour: vega-lite draws one legend with both.
    strokeDash: {
      field: 'series',
      type: 'nominal',
      title: null,
      scale: { domain, range: domain.map((s) => (styles[s]?.dashed ? [6, 4] : [1, 0])) },
      legend: { orient: 'top', labelLimit: 0 },
    },
  } as const
}

/** Consecutive points with the same binding limiter as one segment [from, to). */
function limiterSegments(points: readonly EmissionsPoint[]): { limiter: LimiterName; from: number; to: number }[] {
  const segments: { limiter: LimiterName; from: number; to: number }[] = []
  for (const point of points) {
    const epoch = Number(point.epoch)
    const last = segments[segments.length - 1]
    if (last && last.limiter === point.limiter && last.to === epoch) last.to = epoch + 1
    else segments.push({ limiter: point.limiter, from: epoch, to: epoch + 1 })
  }
  return segments
}

/**
 * The charts' vega-lite specs over `points` (ascending by epoch, each spanning `interval`): emissions against fees and
 * the burned take; coverage against its τ/κ target; subsidy share; net issuance as a share of supply; φ above a track
 * of the binding limiter; utilisation U_k and Ū against the U* ± db band. `subtitle` names the source (a scenario and
 * seed, a server).
 */
export function emissionChartSpecs(parameters: {
  points: readonly EmissionsPoint[]
  interval: EmissionsInterval
  subtitle: string
}): ChartSpec[] {
  const { points, interval } = parameters
  const span = intervalLabels[interval]
  const subtitle = `${parameters.subtitle} · ${span}`
  const x = epochAxis(points)
  const base = { width, height, config: { background: 'white' } } as const
  const title = (name: ChartName) => ({ text: chartTitles[name], subtitle })

  const emissions: TopLevelSpec = {
    ...base,
    title: title('emissions'),
    data: {
      values: seriesRows(points, {
        'verified fees': (p) => tsrOf(p.verifiedFees),
        'burned take': (p) => tsrOf(p.protocolRevenue),
        emitted: (p) => tsrOf(p.emitted),
        'usage emission': (p) => tsrOf(p.usageEmission),
        'availability emission': (p) => tsrOf(p.availabilityEmission),
      }),
    },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative', title: `TSR ${span}` },
      ...seriesStyle({
        'verified fees': { colour: '#1f77b4' },
        'burned take': { colour: '#d62728' },
        emitted: { colour: '#2ca02c' },
        'usage emission': { colour: '#2ca02c', dashed: true },
        'availability emission': { colour: '#ff7f0e', dashed: true },
      }),
    },
  }

  const coverage: TopLevelSpec = {
    ...base,
    title: title('coverage'),
    data: {
      values: seriesRows(points, { coverage: (p) => p.coverageRatio, 'target τ/κ': (p) => p.coverageTargetRatio }),
    },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative', title: 'burned / emitted' },
      ...seriesStyle({ coverage: { colour: '#1f77b4' }, 'target τ/κ': { colour: '#7f7f7f', dashed: true } }),
    },
  }

  const subsidyShare: TopLevelSpec = {
    ...base,
    title: title('subsidy-share'),
    data: { values: points.map((p) => ({ epoch: Number(p.epoch), value: p.subsidyShareRatio })) },
    mark: { type: 'line', strokeWidth: 1.5, color: '#9467bd' },
    encoding: {
      x,
      y: {
        field: 'value',
        type: 'quantitative',
        title: 'emitted / (emitted + supply-side fees)',
        axis: { format: '%' },
        scale: { domain: [0, 1] },
      },
    },
  }

  const netIssuance: TopLevelSpec = {
    ...base,
    title: title('net-issuance'),
    layer: [
      {
        data: { values: points.map((p) => ({ epoch: Number(p.epoch), value: p.netIssuanceRatio })) },
        mark: { type: 'line', strokeWidth: 1.5, color: '#8c564b' },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'net issuance / supply at the window’s start', axis: { format: '.3%' } },
        },
      },
      {
        data: { values: [{ zero: 0 }] },
        mark: { type: 'rule', color: '#7f7f7f', strokeDash: [4, 4] },
        encoding: { y: { field: 'zero', type: 'quantitative' } },
      },
    ],
  }

  const phiLimiter: TopLevelSpec = {
    config: base.config,
    title: title('phi-limiter'),
    vconcat: [
      {
        width,
        height,
        data: { values: points.map((p) => ({ epoch: Number(p.epoch), value: p.phiRatio })) },
        mark: { type: 'line', strokeWidth: 1.5, color: '#17becf' },
        encoding: { x: { ...x, title: null }, y: { field: 'value', type: 'quantitative', title: 'φ', scale: { domain: [0, 1] } } },
      },
      {
        width,
        height: 60,
        data: { values: limiterSegments(points) },
        mark: { type: 'rect' },
        encoding: {
          x: { ...x, field: 'from' },
          x2: { field: 'to' },
          y: { field: 'limiter', type: 'nominal', title: 'limiter', scale: { domain: Object.keys(limiterColours) } },
          color: {
            field: 'limiter',
            type: 'nominal',
            title: 'binding limiter',
            scale: { domain: Object.keys(limiterColours), range: Object.values(limiterColours) },
            legend: { orient: 'bottom' },
          },
        },
      },
    ],
  }

  const utilisation: TopLevelSpec = {
    ...base,
    title: title('utilisation'),
    layer: [
      {
        data: {
          values: points.map((p) => ({
            epoch: Number(p.epoch),
            low: p.targetUtilisationRatio - p.deadbandRatio,
            high: p.targetUtilisationRatio + p.deadbandRatio,
            target: p.targetUtilisationRatio,
          })),
        },
        layer: [
          {
            mark: { type: 'area', color: '#7f7f7f', opacity: 0.18 },
            encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } },
          },
          { mark: { type: 'line', color: '#7f7f7f', strokeDash: [4, 4] }, encoding: { x, y: { field: 'target', type: 'quantitative' } } },
        ],
      },
      {
        data: { values: seriesRows(points, { U_k: (p) => p.utilisationRatio, 'Ū (EMA)': (p) => p.utilisationEmaRatio }) },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'utilisation', axis: { format: '%' }, scale: { domain: [0, 1] } },
          ...seriesStyle({ U_k: { colour: '#aec7e8' }, 'Ū (EMA)': { colour: '#1f77b4' } }),
        },
      },
    ],
  }

  const specs = {
    emissions,
    coverage,
    'subsidy-share': subsidyShare,
    'net-issuance': netIssuance,
    'phi-limiter': phiLimiter,
    utilisation,
  } satisfies Record<ChartName, TopLevelSpec>
  return chartNames.map((name) => ({ name, title: chartTitles[name], spec: specs[name] }))
}

/** A vega-lite spec as an SVG document, rendered headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** {@link emissionChartSpecs}, each rendered to SVG. */
export async function emissionCharts(parameters: Parameters<typeof emissionChartSpecs>[0]): Promise<RenderedChart[]> {
  return Promise.all(emissionChartSpecs(parameters).map(async (chart) => ({ ...chart, svg: await renderSvg(chart.spec) })))
}
