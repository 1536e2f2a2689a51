import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** One line (or bar) of a chart: its label, colour and values, one per x (null: a gap). */
export type ChartSeries = {
  label: string
  color: string
  values: (number | null)[]
  bars?: boolean
  dash?: number[]
  axis?: 'left' | 'right'
}

export type ChartProps = {
  /** What the chart shows, for the figure's caption and for screen readers. */
  title: string
  /** The x values: unix seconds when `time`, else plain numbers (epochs, categories' indexes). */
  x: number[]
  series: ChartSeries[]
  time?: boolean
  /** Labels for a category axis (with `x` = 0, 1, 2, …). */
  categories?: string[]
  height?: number
  xLabel?: string
  yLabel?: string
  yRightLabel?: string
  /** Formats a y value on the axis and in the legend. */
  formatY?: (value: number) => string
  testId?: string
}

/**
 * A uPlot chart that fills its container's width and follows it as it resizes. It redraws when its data change and is
 * rebuilt when its series do. The canvas is hidden from screen readers; the figure carries the title, and a page shows
 * the numbers as a table beside it.
 */
export function Chart(props: ChartProps) {
  const container = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const shape = `${props.series.map((s) => `${s.label}|${s.bars}|${s.axis}`).join(',')}|${props.time}|${props.categories?.join()}`
  const data = [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData

  // biome-ignore lint/correctness/useExhaustiveDependencies: rebuilt only when the chart's shape changes; data flow through setData below
  useEffect(() => {
    const element = container.current
    if (!element) return
    const format = props.formatY ?? ((v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 6 }))
    const categories = props.categories
    const opts: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: props.height ?? 260,
      scales: {
        x: categories ? { time: false, range: [-0.5, categories.length - 0.5] } : { time: props.time ?? false },
        // A bar's height is its value: bars stand on zero, never on the smallest value.
        ...(props.series.some((s) => s.bars)
          ? { y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } }
          : {}),
      },
      axes: [
        {
          label: props.xLabel,
          ...(categories
            ? { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => categories[t] ?? ''), splits: () => categories.map((_, i) => i) }
            : // A plain x counts things (epochs): ticks at whole numbers only, never "2.5".
              props.time
              ? {}
              : { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000] }),
        },
        { label: props.yLabel, values: (_u: uPlot, ticks: number[]) => ticks.map(format), size: 70 },
        ...(props.series.some((s) => s.axis === 'right')
          ? [
              {
                side: 1,
                scale: 'right',
                label: props.yRightLabel,
                values: (_u: uPlot, ticks: number[]) => ticks.map(format),
                grid: { show: false },
                size: 70,
              },
            ]
          : []),
      ],
      series: [
        categories ? { label: props.xLabel ?? 'x', value: (_u: uPlot, v: number) => categories[v] ?? '' } : { label: props.xLabel ?? 'x' },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: s.bars ? `${s.color}cc` : undefined,
          width: 2,
          dash: s.dash,
          scale: s.axis === 'right' ? 'right' : 'y',
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : format(v)),
          paths: s.bars ? uPlot.paths.bars?.({ size: [0.6, 80] }) : undefined,
          points: { show: props.x.length < 40 && !s.bars },
        })),
      ],
      legend: { live: true },
    }
    plot.current = new uPlot(opts, data, element)
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(element.clientWidth, 200), height: props.height ?? 260 }),
    )
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
  }, [shape])

  useEffect(() => {
    plot.current?.setData(data)
  })

  return (
    <figure className="chart" data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      <div ref={container} aria-hidden="true" className="chart-canvas" />
    </figure>
  )
}
