import { type FormEvent, useId, useState } from 'react'
import { Link, useLocation, useSearch } from 'wouter'
import { type JobStatusName, jobStatusNames, verificationNames } from '../../../protocol/enums.ts'
import {
  checkJobFilters,
  type FilterErrors,
  type JobFilters,
  jobFiltersSearch,
  jobOrderByLabels,
  jobOrderBys,
  jobWhere,
  pageSizes,
  parseJobFilters,
} from '../components/job/jobFilters.ts'
import { StatusBadge } from '../components/job/StatusBadge.tsx'
import { useLiveQuery } from '../components/live.tsx'
import { formatTime, formatTsr, shortAddress } from '../format.ts'
import { graphql } from '../graphql/tada.ts'
import './Jobs.css'

const JobsQuery = graphql(`
  query Jobs($where: JobWhere, $orderBy: JobOrderBy, $orderDirection: OrderDirection, $first: Int, $after: String) {
    jobs(where: $where, orderBy: $orderBy, orderDirection: $orderDirection, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          status
          verification
          redundancy
          units
          escrow
          fees
          requester
          submittedAt
        }
      }
    }
  }
`)

export default function JobsPage() {
  const search = useSearch()
  const [, navigate] = useLocation()
  const filters = parseJobFilters(search)
  const errors = checkJobFilters(filters)
  const invalid = Object.values(errors)
  const show = (next: JobFilters) => {
    const q = jobFiltersSearch(next)
    navigate(q ? `/jobs?${q}` : '/jobs')
  }
  const [result] = useLiveQuery({
    query: JobsQuery,
    variables: {
      where: jobWhere(filters),
      orderBy: filters.orderBy,
      orderDirection: filters.direction,
      first: filters.first,
      after: filters.after.at(-1),
    },
    pause: invalid.length > 0,
  })
  const jobs = result.data?.jobs
  const page = filters.after.length + 1

  return (
    <section>
      <h1>Jobs</h1>
      {/* Keyed by the URL so the back button puts its filters back in the form. */}
      <FilterForm key={search} initial={filters} onApply={(next) => show({ ...next, after: [] })} />
      {invalid.length ? (
        <div role="alert" className="error" data-testid="filter-errors">
          <p>This link's filters can't be used:</p>
          <ul>
            {invalid.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </div>
      ) : result.error ? (
        <p role="alert" className="error">
          Could not load the jobs: {result.error.message}
        </p>
      ) : null}
      {jobs ? (
        <>
          <p aria-live="polite">
            <strong data-testid="jobs-total">{jobs.totalCount.toLocaleString('en-US')}</strong>{' '}
            {jobs.totalCount === 1 ? 'job matches' : 'jobs match'}
            {jobs.totalCount > 0 ? (
              <span className="muted">
                {' '}
                · page {page}, jobs {((page - 1) * filters.first + 1).toLocaleString('en-US')}–
                {((page - 1) * filters.first + jobs.edges.length).toLocaleString('en-US')}
              </span>
            ) : null}
          </p>
          {jobs.edges.length === 0 ? (
            <p>No job matches these filters{page > 1 ? ' on this page' : ''}.</p>
          ) : (
            <div className="table-scroll">
              <table data-testid="jobs-table">
                <caption className="visually-hidden">Jobs, page {page}</caption>
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Status</th>
                    <th scope="col">Verification</th>
                    <th scope="col" className="num">
                      Redundancy
                    </th>
                    <th scope="col" className="num">
                      Units
                    </th>
                    <th scope="col" className="num">
                      Escrow
                    </th>
                    <th scope="col" className="num">
                      Fees
                    </th>
                    <th scope="col">Requester</th>
                    <th scope="col">Submitted</th>
                  </tr>
                </thead>
                <tbody>
                  {jobs.edges.map(({ node: job }) => (
                    <tr key={job.id} data-testid="job-row" data-job-id={job.id} data-status={job.status}>
                      <td>
                        <Link href={`/jobs/${job.id}`}>#{job.id}</Link>
                      </td>
                      <td>
                        <StatusBadge status={job.status} />
                      </td>
                      <td>{job.verification}</td>
                      <td className="num">{job.redundancy}</td>
                      <td className="num">{BigInt(job.units).toLocaleString('en-US')}</td>
                      <td className="num">{formatTsr(job.escrow, 6)}</td>
                      <td className="num">{formatTsr(job.fees, 6)}</td>
                      <td>
                        <code title={job.requester}>{shortAddress(job.requester)}</code>
                      </td>
                      <td>{formatTime(job.submittedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <nav className="row pager" aria-label="Pages of jobs">
            <button
              type="button"
              className="secondary"
              disabled={page === 1}
              onClick={() => show({ ...filters, after: filters.after.slice(0, -1) })}
            >
              ← Previous page
            </button>
            <button
              type="button"
              className="secondary"
              disabled={!jobs.pageInfo.hasNextPage || !jobs.pageInfo.endCursor}
              onClick={() => jobs.pageInfo.endCursor && show({ ...filters, after: [...filters.after, jobs.pageInfo.endCursor] })}
            >
              Next page →
            </button>
          </nav>
        </>
      ) : invalid.length === 0 && !result.error ? (
        <p aria-busy="true">Loading jobs…</p>
      ) : null}
    </section>
  )
}

/** The filters, edited here and applied to the URL only once every field checks out. */
function FilterForm({ initial, onApply }: { initial: JobFilters; onApply: (filters: JobFilters) => void }) {
  const [draft, setDraft] = useState(initial)
  const [errors, setErrors] = useState<FilterErrors>({})
  const id = useId()
  const set = <K extends keyof JobFilters>(key: K, value: JobFilters[K]) => setDraft((d) => ({ ...d, [key]: value }))
  const toggleStatus = (status: JobStatusName, on: boolean) =>
    set('status', on ? jobStatusNames.filter((s) => s === status || draft.status.includes(s)) : draft.status.filter((s) => s !== status))
  const submit = (event: FormEvent) => {
    event.preventDefault()
    const trimmed = { ...draft, requester: draft.requester.trim(), provider: draft.provider.trim(), model: draft.model.trim() }
    const found = checkJobFilters(trimmed)
    setErrors(found)
    if (Object.keys(found).length === 0) onApply(trimmed)
  }
  const fieldError = (field: keyof FilterErrors) =>
    errors[field] ? (
      <span id={`${id}-${field}-error`} className="error" role="alert" data-testid={`${field}-error`}>
        {errors[field]}
      </span>
    ) : null
  const described = (field: keyof FilterErrors) => (errors[field] ? `${id}-${field}-error` : undefined)
  return (
    <form className="job-filters" onSubmit={submit} aria-label="Filter jobs" noValidate>
      <fieldset className="statuses">
        <legend>Status</legend>
        {jobStatusNames.map((status) => (
          <label key={status} className="check">
            <input
              type="checkbox"
              name="status"
              value={status}
              checked={draft.status.includes(status)}
              onChange={(e) => toggleStatus(status, e.target.checked)}
            />{' '}
            {status}
          </label>
        ))}
        {fieldError('status')}
      </fieldset>
      <div className="filter-grid">
        <div className="field">
          <label htmlFor={`${id}-verification`}>Verification</label>
          <select
            id={`${id}-verification`}
            value={draft.verification}
            onChange={(e) => set('verification', e.target.value as JobFilters['verification'])}
            aria-describedby={described('verification')}
          >
            <option value="">Any</option>
            {verificationNames.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
          {fieldError('verification')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-requester`}>Requester</label>
          <input
            id={`${id}-requester`}
            value={draft.requester}
            onChange={(e) => set('requester', e.target.value)}
            placeholder="0x…"
            spellCheck={false}
            aria-invalid={errors.requester ? true : undefined}
            aria-describedby={described('requester')}
          />
          {fieldError('requester')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-provider`}>Provider</label>
          <input
            id={`${id}-provider`}
            value={draft.provider}
            onChange={(e) => set('provider', e.target.value)}
            placeholder="0x…"
            spellCheck={false}
            aria-invalid={errors.provider ? true : undefined}
            aria-describedby={described('provider')}
          />
          {fieldError('provider')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-model`}>Model hash</label>
          <input
            id={`${id}-model`}
            value={draft.model}
            onChange={(e) => set('model', e.target.value)}
            placeholder="0x… (sha256 of the model)"
            spellCheck={false}
            aria-invalid={errors.model ? true : undefined}
            aria-describedby={described('model')}
          />
          {fieldError('model')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-order`}>Order by</label>
          <select id={`${id}-order`} value={draft.orderBy} onChange={(e) => set('orderBy', e.target.value as JobFilters['orderBy'])}>
            {jobOrderBys.map((o) => (
              <option key={o} value={o}>
                {jobOrderByLabels[o]}
              </option>
            ))}
          </select>
          {fieldError('orderBy')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-direction`}>Direction</label>
          <select
            id={`${id}-direction`}
            value={draft.direction}
            onChange={(e) => set('direction', e.target.value as JobFilters['direction'])}
          >
            <option value="desc">Descending</option>
            <option value="asc">Ascending</option>
          </select>
          {fieldError('direction')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-first`}>Jobs per page</label>
          <select id={`${id}-first`} value={draft.first} onChange={(e) => set('first', Number(e.target.value))}>
            {pageSizes.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
          {fieldError('first')}
        </div>
      </div>
      <div className="row">
        <button type="submit">Apply filters</button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setErrors({})
            onApply(parseJobFilters(''))
          }}
        >
          Clear
        </button>
      </div>
    </form>
  )
}
