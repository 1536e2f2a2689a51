import { useMemo } from 'react'
import { Link } from 'wouter'
import { gpuModelName } from '../../../protocol/hardware.ts'
import { Chart } from '../components/Chart.tsx'
import { ClaimableRewardFields, ClaimableRewardsTable } from '../components/ClaimableRewardsTable.tsx'
import { useLiveQuery } from '../components/live.tsx'
import { formatDuration, formatTime, formatTsr, tsrNumber } from '../format.ts'
import { graphql, type ResultOf } from '../graphql/tada.ts'
import { ProviderState } from './Providers.tsx'
import './Providers.css'

const ProviderQuery = graphql(
  `
  query Provider($address: Address!) {
    provider(address: $address) {
      address
      registered
      registeredAt
      paused
      live
      lastHeartbeatAt
      gpuModel
      gpuCount
      vramMiB
      cpuCores
      memoryMiB
      benchmarkScore
      capacity
      region
      pricePerUnit
      stake
      locked
      pendingUnstake
      freeStake
      unstakeAvailableAt
      reputation
      reputationDetail {
        score
        good
        bad
        halfLifeSeconds
      }
      attestedCapacity
      challengesPassed
      challengesFailed
      lastChallengedAt
      jobsCompleted
      jobsFailed
      noShowCount
      slashCount
      earnings {
        fees
        slashShares
        bondShares
        earnedTotal
        slashedTotal
        withdrawn
      }
      owed
      claimable
      claimableRewards {
        ...ClaimableRewardFields
      }
      assignments(first: 200) {
        jobId
        round
        slot
        outcome
        price
        paid
        assignedAt
        settledAt
        job {
          status
          units
        }
      }
      challenges(first: 50) {
        jobId
        round
        passed
        unitsPerHour
        timestamp
      }
    }
  }
`,
  [ClaimableRewardFields],
)

type Assignment = NonNullable<ResultOf<typeof ProviderQuery>['provider']>['assignments'][number]
type Outcome = Assignment['outcome']

/** Each outcome for a person: what happened to the provider's slot and its collateral. */
const outcomeText: Record<Outcome, string> = {
  PENDING: 'pending',
  AGREED: 'agreed (paid)',
  DISSENTED: 'dissented (slashed)',
  NO_REVEAL: 'no reveal (slashed)',
  NO_SHOW: 'no show',
  RELEASED: 'released',
}
const faults: readonly Outcome[] = ['DISSENTED', 'NO_REVEAL', 'NO_SHOW']

/** A bytes32 region as its label (`eu`), its hex when it isn't text, `any` when zero. */
export function regionLabel(region: `0x${string}`): string {
  const hex = region.slice(2).replace(/(00)+$/, '')
  if (hex === '') return 'any'
  const bytes = new Uint8Array(hex.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? [])
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return /^[\p{L}\p{N}\p{P}\p{Zs}]+$/u.test(text) ? text : region
  } catch {
    return region
  }
}

/** Bucket widths the history chart picks from (seconds): the smallest that fits the span in {@link MAX_BUCKETS}. */
const BUCKET_WIDTHS = [10, 30, 60, 300, 900, 3600, 6 * 3600, 86_400, 7 * 86_400]
const MAX_BUCKETS = 24

export type HistoryBucket = { start: number; settled: number; agreed: number; faults: number; paid: bigint }

/**
 * The settled assignments per time bucket (by `settledAt`), from the first to the last: how many settled, agreed and
 * faulted, and the fees they paid. Empty buckets stay, so the chart's gaps are real quiet spells.
 */
export function historyBuckets(assignments: readonly Pick<Assignment, 'outcome' | 'paid' | 'settledAt'>[]): {
  width: number
  buckets: HistoryBucket[]
} {
  const settled = assignments.filter((a) => a.settledAt !== null && a.outcome !== 'PENDING')
  if (settled.length === 0) return { width: BUCKET_WIDTHS[0], buckets: [] }
  const times = settled.map((a) => Number(a.settledAt))
  const first = Math.min(...times)
  const last = Math.max(...times)
  const width =
    BUCKET_WIDTHS.find((w) => Math.floor(last / w) - Math.floor(first / w) < MAX_BUCKETS) ?? BUCKET_WIDTHS[BUCKET_WIDTHS.length - 1]
  const start = Math.floor(first / width) * width
  const buckets: HistoryBucket[] = Array.from({ length: Math.floor((last - start) / width) + 1 }, (_, i) => ({
    start: start + i * width,
    settled: 0,
    agreed: 0,
    faults: 0,
    paid: 0n,
  }))
  for (const a of settled) {
    const bucket = buckets[Math.floor((Number(a.settledAt) - start) / width)]
    bucket.settled += 1
    if (a.outcome === 'AGREED') bucket.agreed += 1
    if (faults.includes(a.outcome)) bucket.faults += 1
    bucket.paid += BigInt(a.paid)
  }
  return { width, buckets }
}

const isAddress = (text: string) => /^0x[0-9a-fA-F]{40}$/.test(text)

export default function ProviderPage({ address }: { address: string }) {
  const valid = isAddress(address)
  const [result] = useLiveQuery({ query: ProviderQuery, variables: { address: address as `0x${string}` }, pause: !valid })
  const provider = result.data?.provider
  const history = useMemo(() => historyBuckets(provider?.assignments ?? []), [provider?.assignments])

  if (!valid)
    return (
      <section>
        <h1>Provider</h1>
        <p role="alert" className="error">
          “{address}” is not an address: an address is 0x followed by 40 hexadecimal digits.{' '}
          <Link href="/providers">See all providers</Link>.
        </p>
      </section>
    )
  if (result.error && !result.data)
    return (
      <section>
        <h1>Provider</h1>
        <p role="alert" className="error">
          Could not load provider {address}: {result.error.message}
        </p>
      </section>
    )
  if (!result.data) return <p aria-busy="true">Loading provider {address}…</p>
  if (!provider)
    return (
      <section>
        <h1>Provider</h1>
        <p role="alert" className="warn" data-testid="provider-missing">
          No provider is registered at <code>{address}</code>. <Link href="/providers">See all providers</Link>.
        </p>
      </section>
    )

  const p = provider
  const detail = p.reputationDetail
  return (
    <section>
      <h1>
        Provider <code>{p.address}</code>
      </h1>
      <p>
        <ProviderState live={p.live} paused={p.paused} />
        {p.registered ? '' : ' · no longer registered'} · registered {formatTime(p.registeredAt)} · last heartbeat{' '}
        {formatTime(p.lastHeartbeatAt)}
      </p>

      <dl className="cards">
        <div className="card">
          <dt>Owed by JobMarket</dt>
          <dd data-testid="provider-owed">{formatTsr(p.owed, 6)}</dd>
          <dd className="note">withdrawable now</dd>
        </div>
        <div className="card">
          <dt>Claimable rewards</dt>
          <dd data-testid="provider-claimable">{formatTsr(p.claimable, 6)}</dd>
          <dd className="note">
            over {p.claimableRewards.length} closed {p.claimableRewards.length === 1 ? 'epoch' : 'epochs'}
          </dd>
        </div>
        <div className="card">
          <dt>Earned</dt>
          <dd data-testid="provider-earned">{formatTsr(p.earnings.earnedTotal, 6)}</dd>
          <dd className="note">{formatTsr(p.earnings.withdrawn, 6)} withdrawn</dd>
        </div>
        <div className="card">
          <dt>Reputation</dt>
          <dd data-testid="provider-reputation">{p.reputation.toFixed(3)}</dd>
          <dd className="note">
            good {detail.good.toFixed(2)} · bad {detail.bad.toFixed(2)}
          </dd>
        </div>
        <div className="card">
          <dt>Jobs completed</dt>
          <dd data-testid="provider-jobs-completed">{p.jobsCompleted.toLocaleString('en-US')}</dd>
          <dd className="note">
            {p.jobsFailed} failed · {p.noShowCount} no-shows · {p.slashCount} slashed
          </dd>
        </div>
      </dl>

      <div className="grid-2">
        <div>
          <h2>Machine and ask</h2>
          <dl className="details" data-testid="provider-hardware">
            <dt>GPU</dt>
            <dd>
              {p.gpuCount} × {gpuModelName(BigInt(p.gpuModel))},{' '}
              {(Number(p.vramMiB) / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} GiB VRAM each
            </dd>
            <dt>CPU and memory</dt>
            <dd>
              {p.cpuCores} cores, {(Number(p.memoryMiB) / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} GiB
            </dd>
            <dt>Declared capacity</dt>
            <dd>
              {Number(p.capacity).toLocaleString('en-US')} units/epoch ({Number(p.benchmarkScore).toLocaleString('en-US')} per device)
            </dd>
            <dt>Attested capacity</dt>
            <dd>{Number(p.attestedCapacity).toLocaleString('en-US')} units/h</dd>
            <dt>Region</dt>
            <dd>{regionLabel(p.region)}</dd>
            <dt>Price per unit</dt>
            <dd data-testid="provider-price">{formatTsr(p.pricePerUnit, 6)}</dd>
          </dl>
        </div>
        <div>
          <h2>Stake and earnings</h2>
          <dl className="details" data-testid="provider-stake">
            <dt>Stake</dt>
            <dd>{formatTsr(p.stake, 4)}</dd>
            <dt>Locked as collateral</dt>
            <dd>{formatTsr(p.locked, 6)}</dd>
            <dt>Pending unstake</dt>
            <dd>
              {formatTsr(p.pendingUnstake, 4)}
              {p.unstakeAvailableAt && p.pendingUnstake !== '0' ? `, available ${formatTime(p.unstakeAvailableAt)}` : ''}
            </dd>
            <dt>Free stake</dt>
            <dd>{formatTsr(p.freeStake, 4)}</dd>
            <dt>Fees earned</dt>
            <dd>{formatTsr(p.earnings.fees, 6)}</dd>
            <dt>Slash and bond shares</dt>
            <dd>
              {formatTsr(p.earnings.slashShares, 6)} + {formatTsr(p.earnings.bondShares, 6)}
            </dd>
            <dt>Slashed</dt>
            <dd>{formatTsr(p.earnings.slashedTotal, 6)}</dd>
            <dt>Reputation</dt>
            <dd>
              (good + 2) / (good + bad + 4) = ({detail.good.toFixed(2)} + 2) / ({detail.good.toFixed(2)} + {detail.bad.toFixed(2)} + 4) ={' '}
              {detail.score.toFixed(3)}; weights halve every {formatDuration(detail.halfLifeSeconds)}
            </dd>
          </dl>
        </div>
      </div>

      <h2>Claimable rewards per epoch</h2>
      {p.claimableRewards.length === 0 ? (
        <p>No closed epoch has a reward left for this provider.</p>
      ) : (
        <ClaimableRewardsTable rewards={p.claimableRewards} testId="provider-rewards" />
      )}

      <h2>History</h2>
      {history.buckets.length === 0 ? (
        <p>No assignment of this provider has settled yet.</p>
      ) : (
        <div className="grid-2">
          <Chart
            title={`Fees earned and outcomes per ${formatDuration(history.width)}, over its last ${p.assignments.length} assignments`}
            testId="provider-history-chart"
            time
            x={history.buckets.map((b) => b.start)}
            series={[
              { label: 'fees (TSR)', color: '#2e7d4f', values: history.buckets.map((b) => tsrNumber(b.paid)), bars: true },
              { label: 'agreed', color: '#1f5fa8', values: history.buckets.map((b) => b.agreed), axis: 'right' },
              { label: 'faults', color: '#a32020', values: history.buckets.map((b) => b.faults), axis: 'right', dash: [6, 4] },
            ]}
            yLabel="TSR"
            yRightLabel="assignments"
          />
          <table data-testid="provider-history-table">
            <caption className="visually-hidden">Settled assignments per {formatDuration(history.width)}</caption>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col" className="num">
                  Settled
                </th>
                <th scope="col" className="num">
                  Agreed
                </th>
                <th scope="col" className="num">
                  Faults
                </th>
                <th scope="col" className="num">
                  Fees
                </th>
              </tr>
            </thead>
            <tbody>
              {history.buckets.map((b) => (
                <tr key={b.start}>
                  <td>{formatTime(BigInt(b.start))}</td>
                  <td className="num">{b.settled}</td>
                  <td className="num">{b.agreed}</td>
                  <td className="num">{b.faults}</td>
                  <td className="num">{formatTsr(b.paid, 6)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h3>Recent assignments</h3>
      {p.assignments.length === 0 ? (
        <p>No job has been assigned to this provider yet.</p>
      ) : (
        <div className="table-scroll">
          <table data-testid="provider-assignments">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col" className="num">
                  Round
                </th>
                <th scope="col" className="num">
                  Slot
                </th>
                <th scope="col">Job status</th>
                <th scope="col">Outcome</th>
                <th scope="col" className="num">
                  Units
                </th>
                <th scope="col" className="num">
                  Ask
                </th>
                <th scope="col" className="num">
                  Paid
                </th>
                <th scope="col">Assigned</th>
                <th scope="col">Settled</th>
              </tr>
            </thead>
            <tbody>
              {p.assignments.map((a) => (
                <tr key={`${a.jobId}-${a.round}-${a.slot}`}>
                  <th scope="row">
                    <Link href={`/jobs/${a.jobId}`}>Job {a.jobId}</Link>
                  </th>
                  <td className="num">{a.round}</td>
                  <td className="num">{a.slot}</td>
                  <td>
                    <span className={`status status-${a.job.status}`}>{a.job.status}</span>
                  </td>
                  <td className={faults.includes(a.outcome) ? 'error' : a.outcome === 'AGREED' ? 'ok' : undefined}>
                    {outcomeText[a.outcome]}
                  </td>
                  <td className="num">{Number(a.job.units).toLocaleString('en-US')}</td>
                  <td className="num">{formatTsr(a.price, 6)}</td>
                  <td className="num">{formatTsr(a.paid, 6)}</td>
                  <td>{formatTime(a.assignedAt)}</td>
                  <td>{formatTime(a.settledAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h3>Challenges</h3>
      {p.challenges.length === 0 ? (
        <p>
          No known-answer challenge has been recorded for this provider{p.lastChallengedAt ? '' : ' yet'} ({p.challengesPassed} passed,{' '}
          {p.challengesFailed} failed).
        </p>
      ) : (
        <>
          <p>
            {p.challengesPassed} passed, {p.challengesFailed} failed; the latest {formatTime(p.lastChallengedAt)}.
          </p>
          <table data-testid="provider-challenges">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col" className="num">
                  Round
                </th>
                <th scope="col">Result</th>
                <th scope="col" className="num">
                  Throughput
                </th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {p.challenges.map((c) => (
                <tr key={c.jobId}>
                  <th scope="row">
                    <Link href={`/jobs/${c.jobId}`}>Job {c.jobId}</Link>
                  </th>
                  <td className="num">{c.round}</td>
                  <td className={c.passed ? 'ok' : 'error'}>{c.passed ? 'passed' : 'failed'}</td>
                  <td className="num">{Number(c.unitsPerHour).toLocaleString('en-US')} units/h</td>
                  <td>{formatTime(c.timestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}
