import { useMemo, useRef } from 'react'
import { gpuModelName } from '../../../protocol/hardware.ts'
import { Chart } from '../components/Chart.tsx'
import { useHead, useLiveQuery } from '../components/live.tsx'
import { formatTsr } from '../format.ts'
import { graphql } from '../graphql/tada.ts'

const MarketQuery = graphql(`
  query Market {
    marketStats {
      jobs
      jobsByStatus {
        status
        count
      }
      providers
      activeProviders
      liveProviders
      totalFees
      totalBurned
      submissions(bucketSeconds: 10, buckets: 30) {
        start
        seconds
        jobs
      }
    }
    _meta {
      block
      blockTimestamp
      chainHead
      lagBlocks
    }
    providers(first: 1000, where: { paused: false }) {
      edges {
        node {
          address
          gpuModel
          pricePerUnit
          live
        }
      }
    }
  }
`)

/** The lowest, median (the lower middle of an even count) and highest of some bigints. */
function spread(values: bigint[]): { min: bigint; median: bigint; max: bigint } {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return { min: sorted[0], median: sorted[Math.floor((sorted.length - 1) / 2)], max: sorted[sorted.length - 1] }
}

export function MarketPage() {
  const [result] = useLiveQuery({ query: MarketQuery })
  const head = useHead()
  const data = result.data
  // The job count as first read, to show how many came in while the page is open.
  const firstCount = useRef<number | undefined>(undefined)
  if (data && firstCount.current === undefined) firstCount.current = data.marketStats.jobs

  // Counted by the server over every job, in 10 s buckets of chain time up to the indexed head's.
  const buckets = data?.marketStats.submissions ?? []
  const rate = { x: buckets.map((b) => Number(b.start)), perSecond: buckets.map((b) => b.jobs / b.seconds) }
  // The last full minute, not the bucket still filling.
  const lastMinute = rate.perSecond.slice(-7, -1).reduce((a, b) => a + b, 0) / 6

  const prices = useMemo(() => {
    const byClass = new Map<string, bigint[]>()
    for (const { node } of data?.providers.edges ?? []) {
      const name = gpuModelName(BigInt(node.gpuModel))
      byClass.set(name, [...(byClass.get(name) ?? []), BigInt(node.pricePerUnit)])
    }
    return [...byClass.entries()]
      .map(([gpu, values]) => ({ gpu, count: values.length, ...spread(values) }))
      .sort((a, b) => a.gpu.localeCompare(b.gpu))
  }, [data?.providers])

  if (result.error && !data)
    return (
      <section>
        <h1>Market</h1>
        <p role="alert" className="error">
          Could not load the market: {result.error.message}
        </p>
      </section>
    )
  if (!data) return <p aria-busy="true">Loading the market…</p>
  const stats = data.marketStats
  const byStatus = [...stats.jobsByStatus].sort((a, b) => b.count - a.count)
  // Ten statuses' labels don't fit under one chart; the table below lists them all.
  const drawn = byStatus.filter((s) => s.count > 0)
  return (
    <section>
      <h1>Market</h1>
      <dl className="cards">
        <div className="card">
          <dt>Jobs submitted</dt>
          <dd data-testid="job-count">{stats.jobs.toLocaleString('en-US')}</dd>
          <dd className="note">+{(stats.jobs - (firstCount.current ?? stats.jobs)).toLocaleString('en-US')} while this page is open</dd>
        </div>
        <div className="card">
          <dt>Jobs per second</dt>
          <dd data-testid="jobs-per-second">{lastMinute.toFixed(2)}</dd>
          <dd className="note">over the last minute</dd>
        </div>
        <div className="card">
          <dt>Providers online</dt>
          <dd data-testid="providers-online">
            {stats.liveProviders} <span className="of">of {stats.providers}</span>
          </dd>
          <dd className="note">{stats.activeProviders} active (registered, not paused)</dd>
        </div>
        <div className="card">
          <dt>Indexed block</dt>
          <dd data-testid="indexer-head">{head?.block.toString() ?? data._meta.block ?? '—'}</dd>
          <dd className="note">
            {data._meta.lagBlocks === null ? 'lag unknown' : `${data._meta.lagBlocks} behind the chain (${data._meta.chainHead})`}
          </dd>
        </div>
        <div className="card">
          <dt>Fees settled</dt>
          <dd>{formatTsr(stats.totalFees, 2)}</dd>
          <dd className="note">{formatTsr(stats.totalBurned, 4)} burned</dd>
        </div>
      </dl>

      <div className="grid-2">
        <Chart
          title="Jobs submitted per second (10 s buckets, last 5 minutes)"
          testId="jobs-rate-chart"
          time
          x={rate.x}
          series={[{ label: 'jobs/s', color: '#1f5fa8', values: rate.perSecond, bars: true }]}
          yLabel="jobs/s"
        />
        <Chart
          title="Jobs by status (statuses with jobs)"
          testId="jobs-status-chart"
          x={drawn.map((_, i) => i)}
          categories={drawn.map((s) => s.status)}
          series={[{ label: 'jobs', color: '#2e7d4f', values: drawn.map((s) => s.count), bars: true }]}
          yLabel="jobs"
        />
      </div>

      <h2>Jobs by status</h2>
      <table data-testid="jobs-by-status">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Jobs
            </th>
          </tr>
        </thead>
        <tbody>
          {byStatus.map((s) => (
            <tr key={s.status}>
              <td>{s.status}</td>
              <td className="num">{s.count.toLocaleString('en-US')}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Price per unit by GPU class</h2>
      {prices.length === 0 ? (
        <p>No provider is registered yet.</p>
      ) : (
        <>
          <Chart
            title="Median price per unit by GPU class (TSR)"
            testId="price-chart"
            x={prices.map((_, i) => i)}
            categories={prices.map((p) => p.gpu)}
            series={[{ label: 'median TSR/unit', color: '#8a4fbf', values: prices.map((p) => Number(p.median) / 1e18), bars: true }]}
            yLabel="TSR per unit"
            height={220}
          />
          <table data-testid="price-table">
            <thead>
              <tr>
                <th scope="col">GPU class</th>
                <th scope="col" className="num">
                  Providers
                </th>
                <th scope="col" className="num">
                  Lowest
                </th>
                <th scope="col" className="num">
                  Median
                </th>
                <th scope="col" className="num">
                  Highest
                </th>
              </tr>
            </thead>
            <tbody>
              {prices.map((p) => (
                <tr key={p.gpu}>
                  <td>{p.gpu}</td>
                  <td className="num">{p.count}</td>
                  <td className="num">{formatTsr(p.min, 6)}</td>
                  <td className="num">{formatTsr(p.median, 6)}</td>
                  <td className="num">{formatTsr(p.max, 6)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}
