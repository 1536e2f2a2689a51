import { useEffect } from 'react'
import { useSubscription } from 'urql'
import { Link } from 'wouter'
import { finishedJobStatuses } from '../../../protocol/enums.ts'
import { type JobDetail, JobDetailFragment } from '../components/job/jobDetail.ts'
import { OutputDownload } from '../components/job/OutputDownload.tsx'
import { StatusBadge } from '../components/job/StatusBadge.tsx'
import { jobTimeline } from '../components/job/timeline.ts'
import { useLiveQuery } from '../components/live.tsx'
import { formatTime, formatTsr, shortAddress } from '../format.ts'
import { graphql, readFragment } from '../graphql/tada.ts'
import './Jobs.css'

const JobQuery = graphql(
  `
    query Job($id: BigInt!) {
      job(id: $id) {
        ...JobDetail
      }
    }
  `,
  [JobDetailFragment],
)

const JobUpdated = graphql(`
  subscription JobUpdated($id: BigInt!) {
    jobUpdated(id: $id) {
      id
      status
      round
      fees
      finalizedAt
    }
  }
`)

/** Why a slashed provider was: its last assignment's outcome on the job. */
const outcomeOf = (job: JobDetail, provider: string) =>
  job.assignments.filter((a) => a.provider.toLowerCase() === provider.toLowerCase()).at(-1)?.outcome

const paymentLabels: Record<string, string> = {
  FEE: 'Fee',
  SLASH_SHARE: 'Slash share',
  REFUND: 'Refund',
  WITHDRAWAL: 'Withdrawal',
  BOND_SHARE: 'Bond share',
  BOND_RETURN: 'Bond returned',
}

/** A job id as the API takes it: a whole number below 2^256. */
const isJobId = (id: string) => /^\d{1,78}$/.test(id) && BigInt(id) < 2n ** 256n

export default function JobPage({ id }: { id: string }) {
  const valid = isJobId(id)
  const [result, reexecute] = useLiveQuery({ query: JobQuery, variables: { id }, pause: !valid })
  const [live] = useSubscription({ query: JobUpdated, variables: { id }, pause: !valid })
  // The event is the job's row alone; its assignments and payments settle in rows of their own (and can move while the
  // row stays), so each event reads the whole job again now, and the head's moves read it at most once a second.
  const event = live.data?.jobUpdated
  useEffect(() => {
    if (event) reexecute({ requestPolicy: 'network-only' })
  }, [event, reexecute])
  if (!valid)
    return (
      <section>
        <h1>Invalid job id</h1>
        <p role="alert" className="error" data-testid="job-missing">
          "{id}" is not a job id: a job id is a whole number, like <Link href="/jobs/1">/jobs/1</Link>.
        </p>
        <p>
          <Link href="/jobs">Browse the jobs</Link>
        </p>
      </section>
    )
  const job = readFragment(JobDetailFragment, result.data?.job)
  if (!job) {
    if (result.error)
      return (
        <section>
          <h1>Job {id}</h1>
          <p role="alert" className="error">
            Could not load job {id}: {result.error.message}
          </p>
        </section>
      )
    if (result.data)
      return (
        <section>
          <h1>No job {id}</h1>
          <p data-testid="job-missing">
            No job {id} is indexed (yet): it was never submitted, or the indexer has not reached it. This page shows it once it is.{' '}
            <Link href="/jobs">Browse the jobs</Link>.
          </p>
        </section>
      )
    return <p aria-busy="true">Loading job {id}…</p>
  }
  return <JobView job={job} liveError={live.error?.message} />
}

function JobView({ job, liveError }: { job: JobDetail; liveError?: string }) {
  const steps = jobTimeline(job)
  const parties = [job.requester, ...job.assignments.map((a) => a.provider)]
  const finished = (finishedJobStatuses as readonly string[]).includes(job.status)
  return (
    <section>
      <h1>
        Job #{job.id}{' '}
        <span data-testid="job-status">
          <StatusBadge status={job.status} />
        </span>
      </h1>
      {liveError ? (
        <p role="alert" className="warn">
          Live updates stopped ({liveError}); reload the page to see the latest.
        </p>
      ) : null}
      <dl className="job-meta">
        <dt>Verification</dt>
        <dd>
          {job.verification}, {job.redundancy} {job.redundancy === 1 ? 'provider' : 'providers'} a round
          {job.round > 1 ? ` (round ${job.round})` : ''}
        </dd>
        <dt>Units</dt>
        <dd>
          {BigInt(job.units).toLocaleString('en-US')} at up to {formatTsr(job.maxPricePerUnit, 6)} a unit
        </dd>
        <dt>Requester</dt>
        <dd>
          <code>{job.requester}</code>
        </dd>
        <dt>Model</dt>
        <dd>
          <code>{job.modelHash}</code>
        </dd>
        <dt>Input</dt>
        <dd>
          <code>{job.inputHash}</code>
        </dd>
        <dt>Output tolerance</dt>
        <dd>{job.outputTolerance}</dd>
        <dt>Submitted in</dt>
        <dd>
          <code>{job.txHash}</code>
        </dd>
      </dl>

      <h2>Timeline</h2>
      <ol className="timeline" data-testid="job-timeline">
        {steps.map((step) => (
          <li key={step.key} data-step={step.key} data-state={step.state}>
            <span className="step">{step.label}</span>
            <span className="visually-hidden"> ({stateWords[step.state]})</span>
            <span className="when">
              {step.state === 'pending' || step.state === 'skipped'
                ? stateWords[step.state]
                : step.at
                  ? formatTime(step.at)
                  : 'reached (no time recorded)'}
              {step.block ? ` · block ${step.block}` : ''}
            </span>
            {step.detail ? <span className="detail">{step.detail}</span> : null}
          </li>
        ))}
      </ol>

      <h2>Money</h2>
      <dl className="cards" data-testid="job-money">
        <div className="card">
          <dt>Escrow</dt>
          <dd>{formatTsr(job.escrow, 6)}</dd>
        </div>
        <div className="card">
          <dt>Fees to providers</dt>
          <dd>{formatTsr(job.fees, 6)}</dd>
          {job.fees === null ? <dd className="note">until settled</dd> : null}
        </div>
        <div className="card">
          <dt>Refunded to the requester</dt>
          <dd>{formatTsr(job.refunded, 6)}</dd>
        </div>
        <div className="card">
          <dt>Burned</dt>
          <dd>{formatTsr(job.burned, 6)}</dd>
        </div>
        {job.audit && job.audit.kind === 'NONE' && job.audit.premium !== null ? (
          <div className="card">
            <dt>Spot-check premium</dt>
            <dd>{formatTsr(job.audit.premium, 6)}</dd>
            <dd className="note">to the audit fund (not audited)</dd>
          </div>
        ) : null}
        {job.audit && job.audit.kind !== 'NONE' ? (
          <div className="card">
            <dt>Audit ({job.audit.kind})</dt>
            <dd>{formatTsr(job.audit.reimbursed, 6)}</dd>
            <dd className="note">reimbursed from the audit fund{job.audit.bond !== '0' ? `; bond ${formatTsr(job.audit.bond, 6)}` : ''}</dd>
          </div>
        ) : null}
      </dl>

      <h2>Providers</h2>
      {job.assignments.length === 0 ? (
        <p>No provider has been assigned yet.</p>
      ) : (
        <div className="table-scroll">
          <table data-testid="assignments">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col" className="num">
                  Round
                </th>
                <th scope="col" className="num">
                  Slot
                </th>
                <th scope="col">Outcome</th>
                <th scope="col" className="num">
                  Ask / unit
                </th>
                <th scope="col" className="num">
                  Collateral
                </th>
                <th scope="col" className="num">
                  Paid
                </th>
                <th scope="col">Assigned</th>
                <th scope="col">Committed</th>
                <th scope="col">Revealed</th>
                <th scope="col">Revealed output</th>
              </tr>
            </thead>
            <tbody>
              {job.assignments.map((a) => (
                <tr key={`${a.provider}-${a.round}`} data-testid="assignment-row" data-provider={a.provider}>
                  <td>
                    <Link href={`/providers/${a.provider}`} title={a.provider}>
                      <code>{shortAddress(a.provider)}</code>
                    </Link>
                  </td>
                  <td className="num">{a.round}</td>
                  <td className="num">{a.slot}</td>
                  <td>
                    <span className={`outcome-${a.outcome}`} data-testid="outcome">
                      {a.outcome}
                    </span>
                  </td>
                  <td className="num">{formatTsr(a.price, 6)}</td>
                  <td className="num">{formatTsr(a.collateral, 6)}</td>
                  <td className="num">{formatTsr(a.paid, 6)}</td>
                  <td>{formatTime(a.assignedAt)}</td>
                  <td>{a.committedAt ? formatTime(a.committedAt) : `due by ${formatTime(a.commitDeadline)}`}</td>
                  <td>{formatTime(a.revealedAt)}</td>
                  <td>
                    {a.fingerprint ? (
                      <code title={`fingerprint ${a.fingerprint}${a.outputHash ? `, blob ${a.outputHash}` : ''}`}>
                        {shortAddress(a.fingerprint)}
                      </code>
                    ) : (
                      '—'
                    )}
                    {a.fingerprint && job.fingerprint && a.fingerprint === job.fingerprint ? ' (the result)' : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Payments and slashes</h2>
      {job.slashes.length ? (
        <ul className="error" data-testid="slashes">
          {job.slashes.map((s) => (
            <li key={s.txHash + s.provider}>
              Slashed: <Link href={`/providers/${s.provider}`}>{shortAddress(s.provider)}</Link> lost {formatTsr(s.amount, 6)} of its stake
              at {formatTime(s.timestamp)} (block {s.blockNumber}): {formatTsr(s.toBeneficiary, 6)} to {shortAddress(s.beneficiary)},{' '}
              {formatTsr(s.burned, 6)} burned
              {outcomeOf(job, s.provider) ? ` (${outcomeOf(job, s.provider)?.replace('_', ' ').toLowerCase()})` : ''}.
            </li>
          ))}
        </ul>
      ) : (
        <p>No provider was slashed{finished ? '' : ' so far'}.</p>
      )}
      {job.payments.length === 0 ? (
        <p>No payment yet: providers are credited when the job settles.</p>
      ) : (
        <table data-testid="payments">
          <caption className="visually-hidden">Credits tied to this job, in chain order</caption>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Credited to</th>
              <th scope="col" className="num">
                Amount
              </th>
              <th scope="col">Time</th>
              <th scope="col" className="num">
                Block
              </th>
            </tr>
          </thead>
          <tbody>
            {job.payments.map((p) => (
              <tr key={p.id} data-testid="payment-row" data-kind={p.kind} data-account={p.account} data-amount={p.amount}>
                <td>{paymentLabels[p.kind] ?? p.kind}</td>
                <td>
                  <code title={p.account}>{shortAddress(p.account)}</code>
                  {p.account.toLowerCase() === job.requester.toLowerCase() ? ' (requester)' : ''}
                </td>
                <td className="num">{formatTsr(p.amount, 6)}</td>
                <td>{formatTime(p.timestamp)}</td>
                <td className="num">{p.blockNumber}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Output</h2>
      {job.output ? (
        <OutputDownload jobId={job.id} output={job.output} parties={parties} />
      ) : (
        <p data-testid="no-output">
          {job.status === 'COMPLETED'
            ? 'The job completed but its output is not indexed.'
            : finished
              ? `No output: the job ended ${job.status}.`
              : 'No output yet: it is here once the job completes.'}
        </p>
      )}
    </section>
  )
}

const stateWords: Record<string, string> = {
  done: 'done',
  failed: 'ended here',
  warn: 'happened',
  pending: 'pending',
  skipped: 'not reached',
}
