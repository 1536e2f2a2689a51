import { useEffect } from 'react'
import { useQuery, useSubscription } from 'urql'
import { useSearchParams } from 'wouter'
import { EmissionsCharts } from '../components/emissions/EmissionsCharts.tsx'
import { EmissionsTable } from '../components/emissions/EmissionsTable.tsx'
import { multiple, ratioText } from '../components/emissions/numbers.ts'
import {
  type EmissionsAnnualised,
  type EmissionsPoint,
  EmissionsQuery,
  type EmissionsReport,
  EpochAdvancedSubscription,
  LatestEpochQuery,
} from '../components/emissions/query.ts'
import { ViewControls } from '../components/emissions/ViewControls.tsx'
import { csvHref, type EmissionsView, epochsToAsk, intervals, searchOf, viewOf } from '../components/emissions/view.ts'
import { formatTsr } from '../format.ts'
import './Emissions.css'

/**
 * The newest closed epoch, live: the epochs query once, then each `epochAdvanced`. Undefined while none has closed (or
 * before the first answer); `loaded` tells the two apart.
 */
function useLatestEpoch(): { latest: bigint | undefined; loaded: boolean; error?: string } {
  const [first] = useQuery({ query: LatestEpochQuery })
  // Epochs only move forward, so the last event is the newest; before the first, the query's answer is.
  const [advanced] = useSubscription({ query: EpochAdvancedSubscription }, (_previous: bigint | undefined, event) =>
    BigInt(event.epochAdvanced.id),
  )
  const queried = first.data?.epochs.edges[0]?.node.id
  const latest = advanced.data ?? (queried === undefined ? undefined : BigInt(queried))
  return { latest, loaded: first.data !== undefined || advanced.data !== undefined, error: first.error?.message }
}

/** Totals over the range beside the same flows scaled to a year: the API's `totals` and `annualised`. */
const flows: { field: keyof EmissionsAnnualised & keyof EmissionsPoint; label: string }[] = [
  { field: 'grossFees', label: 'Gross fees' },
  { field: 'verifiedFees', label: 'Verified fees (F_k)' },
  { field: 'supplySideFees', label: 'Supply-side fees (to providers)' },
  { field: 'protocolRevenue', label: 'Protocol revenue (the take, burned)' },
  { field: 'burnedTotal', label: 'Burned in all' },
  { field: 'usageEmission', label: 'Usage emission' },
  { field: 'availabilityEmission', label: 'Availability emission' },
  { field: 'forfeited', label: 'Forfeited availability' },
  { field: 'emitted', label: 'Emitted (usage + availability)' },
  { field: 'earnings', label: 'Earnings (revenue − emitted)' },
  { field: 'minted', label: 'Minted (rewards claimed)' },
  { field: 'netIssuance', label: 'Net issuance (minted − burned)' },
]

function Summary({ report }: { report: EmissionsReport }) {
  const totals = report.totals
  if (!totals) return null
  const annualised = report.annualised
  const bounds = [
    [totals.capBoundEpochs, 'cap'],
    [totals.stepUpBoundEpochs, 'step-up'],
    [totals.stepDownBoundEpochs, 'step-down'],
  ] as const
  return (
    <>
      <dl className="cards" data-testid="emissions-summary">
        <div className="card">
          <dt>Verified fees</dt>
          <dd>{formatTsr(totals.verifiedFees, 4)}</dd>
          <dd className="note">
            {formatTsr(totals.grossFees, 4)} gross · {formatTsr(totals.supplySideFees, 4)} to providers
          </dd>
        </div>
        <div className="card">
          <dt>Emitted</dt>
          <dd>{formatTsr(totals.emitted, 4)}</dd>
          <dd className="note">
            {formatTsr(totals.usageEmission, 4)} usage · {formatTsr(totals.availabilityEmission, 4)} availability ·{' '}
            {formatTsr(totals.forfeited, 4)} forfeited
          </dd>
        </div>
        <div className="card">
          <dt>Coverage</dt>
          <dd data-testid="coverage-total">{ratioText(totals.coverageRatio, multiple)}</dd>
          <dd className="note">target τ/κ {ratioText(report.coverageTargetRatio, multiple)}</dd>
        </div>
        <div className="card">
          <dt>Subsidy share</dt>
          <dd>{ratioText(totals.subsidyShareRatio)}</dd>
          <dd className="note">of provider income</dd>
        </div>
        <div className="card">
          <dt>Net issuance</dt>
          <dd>{formatTsr(totals.netIssuance, 4)}</dd>
          <dd className="note">
            {ratioText(totals.netIssuanceRatio)} of supply ·{' '}
            {annualised ? `${ratioText(annualised.netIssuanceRatio)} a year` : 'not annualised'}
          </dd>
        </div>
        <div className="card">
          <dt>Controller now</dt>
          <dd>φ {ratioText(totals.phiRatio)}</dd>
          <dd className="note">
            Ū {ratioText(totals.utilisationEmaRatio)} ({totals.utilisationBand.toLowerCase()} the U* band) · limiter {totals.limiter}
          </dd>
        </div>
        <div className="card">
          <dt>Bounds that held</dt>
          <dd>
            {bounds.reduce((sum, [n]) => sum + n, 0)} <span className="of">of {totals.epochs} epochs</span>
          </dd>
          <dd className="note">{bounds.map(([n, name]) => `${name} ${n}`).join(' · ')}</dd>
        </div>
        <div className="card">
          <dt>Emission concentration</dt>
          <dd>{ratioText(totals.emissionTop10ShareRatio)}</dd>
          <dd className="note">top-10 share · Herfindahl {ratioText(totals.emissionHerfindahlRatio)}</dd>
        </div>
        <div className="card">
          <dt>Payers</dt>
          <dd>{totals.uniquePayers.toLocaleString('en-US')}</dd>
          <dd className="note">
            repeat {ratioText(totals.repeatPayerRatio)} · Herfindahl {ratioText(totals.payerHerfindahlRatio)}
          </dd>
        </div>
        <div className="card">
          <dt>Providers paid</dt>
          <dd>{totals.providersPaid.toLocaleString('en-US')}</dd>
          <dd className="note">
            {Number(totals.attestedCapacity).toLocaleString('en-US')} units/h attested · challenges passed{' '}
            {ratioText(totals.challengePassRatio)}
          </dd>
        </div>
      </dl>

      <details className="emissions-details">
        <summary>Totals over epochs {`${report.from}–${report.to}`} and annualised</summary>
        <table data-testid="emissions-totals">
          <thead>
            <tr>
              <th scope="col">Flow</th>
              <th scope="col" className="num">
                Total (TSR, {totals.epochs} epochs)
              </th>
              <th scope="col" className="num">
                Annualised (TSR a year)
              </th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => (
              <tr key={f.field}>
                <th scope="row">{f.label}</th>
                <td className="num">{formatTsr(totals[f.field] as string, 6, false)}</td>
                <td className="num">{annualised ? formatTsr(annualised[f.field] as string, 6, false) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  )
}

export default function EmissionsPage() {
  const [search, setSearch] = useSearchParams()
  const { view, problems } = viewOf(search)
  const { latest, loaded, error: latestError } = useLatestEpoch()
  const asked = epochsToAsk(view.range, latest)
  const [result, reexecute] = useQuery({
    query: EmissionsQuery,
    variables: { from: asked?.from.toString() ?? '0', to: asked?.to.toString() ?? '0', interval: view.interval },
    pause: asked === undefined,
  })
  // A fixed range's variables stay the same as epochs close; read it again so a newly closed epoch in it appears.
  const fixed = view.range.kind === 'epochs' && view.range.to !== undefined
  useEffect(() => {
    if (fixed && latest !== undefined) reexecute({ requestPolicy: 'network-only' })
  }, [fixed, latest, reexecute])

  const show = (next: EmissionsView) => setSearch(searchOf(next))
  const report = result.data?.emissionsVsUsage
  const intervalLabel = intervals.find((i) => i.value === (report?.interval ?? view.interval))?.label.toLowerCase()

  return (
    <section>
      <h1>Emissions vs usage</h1>
      <p className="muted">
        What the protocol paid out against what the market paid in, per closed epoch or rolled up: fees, emissions, coverage of emissions by
        the burned take, dilution, the emission controller's state, and concentration. It updates as each epoch closes.
      </p>
      <ViewControls key={search.toString()} view={view} onChange={show} />
      {problems.length > 0 ? (
        <p role="alert" className="warn">
          The address asked for something this page can't show ({problems.join('; ')}); showing the defaults instead.
        </p>
      ) : null}
      {latestError || result.error ? (
        <p role="alert" className="error">
          Could not load the emissions: {result.error?.message ?? latestError}
        </p>
      ) : null}

      {!loaded && !latestError ? (
        <p aria-busy="true">Loading the emissions…</p>
      ) : latest === undefined && loaded ? (
        <p className="emissions-empty" data-testid="emissions-empty" aria-live="polite">
          No epoch has closed yet: the first closes one epoch length after the controller's genesis. This page updates live when it does.
        </p>
      ) : report ? (
        <>
          <p className="row emissions-download">
            <a
              href={csvHref(report)}
              download={`emissions-${report.from}-${report.to}-${report.interval.toLowerCase()}.csv`}
              data-testid="emissions-csv"
            >
              Download these numbers as CSV
            </a>
            <span className="muted">
              epochs {report.from}–{report.to}, {intervalLabel}; latest closed epoch {latest?.toString()}
            </span>
          </p>
          {report.points.length === 0 ? (
            <p className="emissions-empty" data-testid="emissions-empty" aria-live="polite">
              No epoch in {report.from}–{report.to} has closed yet (the latest closed is {latest?.toString()}). This page updates live as
              epochs close.
            </p>
          ) : (
            <>
              <Summary report={report} />
              <EmissionsCharts report={report} />
              <details className="emissions-details" data-testid="emissions-table-details">
                <summary>The numbers drawn, as a table ({report.points.length} rows)</summary>
                <EmissionsTable
                  points={report.points}
                  caption={`Epochs ${report.from}–${report.to}, ${intervalLabel}${report.windowEpochs > 1 ? ` (each row sums the ${report.windowEpochs} epochs up to it; levels at its last epoch)` : ''}`}
                />
              </details>
            </>
          )}
        </>
      ) : result.fetching ? (
        <p aria-busy="true">Loading the emissions…</p>
      ) : null}
    </section>
  )
}
