import { useId, useState } from 'react'
import { Link } from 'wouter'
import { gpuModelName } from '../../../protocol/hardware.ts'
import { useLiveQuery } from '../components/live.tsx'
import { formatTsr, shortAddress } from '../format.ts'
import { graphql, type VariablesOf } from '../graphql/tada.ts'
import './Providers.css'

const ProvidersQuery = graphql(`
  query Providers($where: ProviderWhere, $orderBy: ProviderOrderBy, $orderDirection: OrderDirection, $first: Int, $after: String) {
    providers(where: $where, orderBy: $orderBy, orderDirection: $orderDirection, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          address
          gpuModel
          gpuCount
          vramMiB
          benchmarkScore
          pricePerUnit
          reputation
          attestedCapacity
          challengesPassed
          challengesFailed
          stake
          earnings {
            earnedTotal
          }
          jobsCompleted
          live
          paused
        }
      }
    }
  }
`)

type OrderBy = NonNullable<VariablesOf<typeof ProvidersQuery>['orderBy']>
type Direction = 'asc' | 'desc'

/** Rows a page of the table shows. */
const PAGE_SIZE = 50

/** The table's columns; those with `orderBy` sort through the API, the rest only show. */
const columns: { label: string; orderBy?: OrderBy; num?: boolean }[] = [
  { label: 'Provider' },
  { label: 'GPU class' },
  { label: 'VRAM', orderBy: 'VRAM_MIB', num: true },
  { label: 'Benchmark', orderBy: 'BENCHMARK_SCORE', num: true },
  { label: 'Status' },
  { label: 'Reputation', num: true },
  { label: 'Price per unit', orderBy: 'PRICE_PER_UNIT', num: true },
  { label: 'Attested units/h', num: true },
  { label: 'Challenges passed / failed', num: true },
  { label: 'Stake', orderBy: 'STAKE', num: true },
  { label: 'Earned', orderBy: 'EARNED_TOTAL', num: true },
  { label: 'Jobs completed', orderBy: 'JOBS_COMPLETED', num: true },
]

/** A header that sorts by its column: the same column again flips the direction. */
function SortButton(props: { label: string; active: boolean; direction: Direction; onSort: () => void }) {
  const arrow = props.active ? (props.direction === 'asc' ? '▲' : '▼') : ''
  return (
    <button type="button" className="sort" onClick={props.onSort}>
      {props.label}
      <span aria-hidden="true"> {arrow}</span>
    </button>
  )
}

export default function ProvidersPage() {
  const [orderBy, setOrderBy] = useState<OrderBy>('REGISTERED_AT')
  const [direction, setDirection] = useState<Direction>('asc')
  const [showPaused, setShowPaused] = useState(true)
  // The cursors of the pages before this one, to go back (the API pages forward from a cursor).
  const [cursors, setCursors] = useState<(string | null)[]>([null])
  const after = cursors[cursors.length - 1]
  const pausedId = useId()

  const [result] = useLiveQuery({
    query: ProvidersQuery,
    variables: { where: showPaused ? null : { paused: false }, orderBy, orderDirection: direction, first: PAGE_SIZE, after },
  })
  // A new order or filter starts again from the first page.
  const order = (column: OrderBy, to: Direction) => {
    setOrderBy(column)
    setDirection(to)
    setCursors([null])
  }
  const sort = (column: OrderBy) =>
    order(column, column === orderBy ? (direction === 'asc' ? 'desc' : 'asc') : column === 'PRICE_PER_UNIT' ? 'asc' : 'desc')
  const filterPaused = (show: boolean) => {
    setShowPaused(show)
    setCursors([null])
  }

  const data = result.data?.providers
  return (
    <section>
      <h1>Providers</h1>
      <div className="row providers-controls">
        <input id={pausedId} type="checkbox" checked={showPaused} onChange={(e) => filterPaused(e.target.checked)} />
        <label htmlFor={pausedId}>Show paused providers</label>
        {orderBy !== 'REGISTERED_AT' ? (
          <button type="button" className="secondary" onClick={() => order('REGISTERED_AT', 'asc')}>
            Order by registration
          </button>
        ) : null}
      </div>
      {result.error ? (
        <p role="alert" className="error">
          Could not load the providers: {result.error.message}
        </p>
      ) : null}
      {!data ? (
        result.error ? null : (
          <p aria-busy="true">Loading the providers…</p>
        )
      ) : data.edges.length === 0 ? (
        <p>No provider is registered{showPaused ? '' : ' and unpaused'} yet.</p>
      ) : (
        <>
          <p className="muted" data-testid="provider-count">
            {data.totalCount} {data.totalCount === 1 ? 'provider' : 'providers'}
            {cursors.length > 1 || data.pageInfo.hasNextPage ? `, page ${cursors.length}` : ''}. Sorted by{' '}
            {columns.find((c) => c.orderBy === orderBy)?.label.toLowerCase() ?? 'registration'},{' '}
            {direction === 'asc' ? 'ascending' : 'descending'}.
          </p>
          <div className="table-scroll">
            <table data-testid="providers-table">
              <thead>
                <tr>
                  {columns.map((c) => (
                    <th
                      key={c.label}
                      scope="col"
                      className={c.num ? 'num' : undefined}
                      aria-sort={c.orderBy && c.orderBy === orderBy ? (direction === 'asc' ? 'ascending' : 'descending') : undefined}
                    >
                      {c.orderBy ? (
                        <SortButton
                          label={c.label}
                          active={c.orderBy === orderBy}
                          direction={direction}
                          onSort={() => sort(c.orderBy as OrderBy)}
                        />
                      ) : (
                        c.label
                      )}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.edges.map(({ node: p }) => (
                  <tr key={p.address} data-testid={`provider-${p.address}`}>
                    <th scope="row">
                      <Link href={`/providers/${p.address}`} title={p.address}>
                        {shortAddress(p.address)}
                      </Link>
                    </th>
                    <td>
                      {p.gpuCount > 1 ? `${p.gpuCount} × ` : ''}
                      {gpuModelName(BigInt(p.gpuModel))}
                    </td>
                    <td className="num">{(Number(p.vramMiB) / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} GiB</td>
                    <td className="num">{Number(p.benchmarkScore).toLocaleString('en-US')}</td>
                    <td>
                      <ProviderState live={p.live} paused={p.paused} />
                    </td>
                    <td className="num">{p.reputation.toFixed(3)}</td>
                    <td className="num">{formatTsr(p.pricePerUnit, 6)}</td>
                    <td className="num">{Number(p.attestedCapacity).toLocaleString('en-US')}</td>
                    <td className="num">
                      {p.challengesPassed} / <span className={p.challengesFailed > 0 ? 'error' : undefined}>{p.challengesFailed}</span>
                    </td>
                    <td className="num">{formatTsr(p.stake, 2)}</td>
                    <td className="num">{formatTsr(p.earnings.earnedTotal, 6)}</td>
                    <td className="num">{p.jobsCompleted.toLocaleString('en-US')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {cursors.length > 1 || data.pageInfo.hasNextPage ? (
            <nav className="row" aria-label="Pages of providers">
              <button type="button" className="secondary" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                Previous page
              </button>
              <button
                type="button"
                className="secondary"
                disabled={!data.pageInfo.hasNextPage}
                onClick={() => setCursors([...cursors, data.pageInfo.endCursor])}
              >
                Next page
              </button>
            </nav>
          ) : null}
        </>
      )}
    </section>
  )
}

/** Paused (takes no jobs), live (heartbeat within 30 s: the matcher assigns to it) or offline. */
export function ProviderState({ live, paused }: { live: boolean; paused: boolean }) {
  if (paused) return <span className="provider-state warn">paused</span>
  return live ? <span className="provider-state ok">live</span> : <span className="provider-state muted">offline</span>
}
