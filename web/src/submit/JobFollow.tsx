import { useEffect, useState } from 'react'
import { useSubscription } from 'urql'
import { Link } from 'wouter'
import { formatTime, formatTsr } from '../format.ts'
import { graphql } from '../graphql/tada.ts'
import { fetchBlob } from '../wallet/blobs.ts'
import { useWallet } from '../wallet/WalletContext.tsx'
import { apiMessage } from './apiMessage.ts'
import { decodeTensorBlob, formatFloat32, type Tensor } from './tensor.ts'

const JobUpdated = graphql(`
  subscription SubmitJobUpdated($id: BigInt!) {
    jobUpdated(id: $id) {
      id
      status
      requester
      round
      redundancy
      units
      escrow
      fees
      refunded
      deadline
      finalizedAt
      assignments {
        provider
        round
        slot
        outcome
      }
      output {
        outputHash
        provider
      }
    }
  }
`)

/** The way a job goes when all is well; any other status is shown where it happens. */
const stages = [
  { status: 'OPEN', label: 'Waiting for providers' },
  { status: 'ASSIGNED', label: 'Assigned: providers run it' },
  { status: 'COMMITTED', label: 'Results committed' },
  { status: 'REVEALED', label: 'Results revealed, settling' },
  { status: 'COMPLETED', label: 'Completed' },
] as const

const endings: Record<string, string> = {
  FAILED: 'Its providers neither agreed on a result nor on a failure, or could not run it.',
  FAILED_INVALID: "A majority of its providers found the job can't run (the model or the input is wrong); a small fee was kept.",
  EXPIRED: 'No provider took it before its deadline; the escrow was refunded.',
  CANCELLED: 'It was cancelled; the escrow was refunded.',
  DISPUTED: 'Its providers disagreed: fresh providers break the tie.',
}

/** Rows and columns shown of an output; the download holds all of it. */
const shownRows = 20
const shownColumns = 16

type Output = { tensor: Tensor; url: string; hash: `0x${string}` }

/** Downloads and decodes a completed job's output as the connected account (its requester may read it). */
function useOutput(outputHash: `0x${string}` | undefined): { output?: Output; error?: string } {
  const { wallet, config } = useWallet()
  const [state, setState] = useState<{ output?: Output; error?: string }>({})
  useEffect(() => {
    if (!outputHash || !wallet || !config) return
    let url: string | undefined
    let cancelled = false
    fetchBlob({ wallet, chainId: config.chainId, hash: outputHash })
      .then((bytes) => {
        const tensor = decodeTensorBlob(bytes)
        url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/json' }))
        if (!cancelled) setState({ output: { tensor, url, hash: outputHash } })
      })
      .catch((error: Error) => {
        if (!cancelled) setState({ error: error.message })
      })
    return () => {
      cancelled = true
      if (url) URL.revokeObjectURL(url)
    }
  }, [outputHash, wallet, config])
  return state
}

function OutputTable({ jobId, output }: { jobId: string; output: Output }) {
  const { dims, data } = output.tensor
  const rows = dims[0] ?? 1
  const columns = rows === 0 ? 0 : data.length / rows
  return (
    <>
      <p>
        Output <code data-testid="output-hash">{output.hash}</code>, shape [{dims.join(', ')}].{' '}
        <a href={output.url} download={`job-${jobId}-output.json`} data-testid="output-download">
          Download the output (tensor blob, JSON)
        </a>
      </p>
      <div className="table-scroll">
        <table data-testid="output-table">
          <caption className="muted">
            {rows > shownRows || columns > shownColumns
              ? `The first ${Math.min(rows, shownRows)} of ${rows} rows and ${Math.min(columns, shownColumns)} of ${columns} values each`
              : `All ${rows} rows of ${columns} values`}
            ; each number is the exact float32.
          </caption>
          <thead>
            <tr>
              <th scope="col">Row</th>
              {Array.from({ length: Math.min(columns, shownColumns) }, (_, c) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the columns are numbered
                <th scope="col" className="num" key={c}>
                  {c + 1}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: Math.min(rows, shownRows) }, (_, r) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the rows are numbered
              <tr key={r}>
                <th scope="row">{r + 1}</th>
                {Array.from(data.subarray(r * columns, r * columns + Math.min(columns, shownColumns)), (v, c) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: the columns are numbered
                  <td className="num" key={c}>
                    {formatFloat32(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}

/** Follows job `id` live (`jobUpdated`) through its statuses to its result, and shows the output once COMPLETED. */
export function JobFollow({ id }: { id: string }) {
  const [result] = useSubscription({ query: JobUpdated, variables: { id } })
  const job = result.data?.jobUpdated
  const { output, error } = useOutput(job?.status === 'COMPLETED' ? job.output?.outputHash : undefined)
  const { wallet } = useWallet()
  const reached = stages.findIndex((s) => s.status === job?.status)
  return (
    <section aria-labelledby="follow-heading" data-testid="job-follow">
      <h2 id="follow-heading">
        Job <Link href={`/jobs/${id}`}>#{id}</Link>{' '}
        {job ? (
          <span className={`status status-${job.status}`} data-testid="job-status">
            {job.status}
          </span>
        ) : null}
      </h2>
      {result.error ? (
        <p role="alert" className="error">
          Lost the job's live feed: {apiMessage(result.error)}. <Link href={`/jobs/${id}`}>Open the job's page</Link>.
        </p>
      ) : null}
      {!job && !result.error ? <p aria-busy="true">Waiting for the indexer to report the job…</p> : null}
      {job ? (
        <>
          <ol className="stages" aria-label="Progress">
            {stages.map((stage, i) => (
              <li
                key={stage.status}
                className={i < reached || job.status === 'COMPLETED' ? 'done' : i === reached ? 'current' : 'todo'}
                aria-current={i === reached ? 'step' : undefined}
              >
                {stage.label}
              </li>
            ))}
          </ol>
          {endings[job.status] ? (
            <p role={job.status === 'DISPUTED' ? 'status' : 'alert'} className={job.status === 'DISPUTED' ? 'warn' : 'error'}>
              {job.status}: {endings[job.status]}
            </p>
          ) : null}
          <p className="muted">
            {job.units} unit{job.units === '1' ? '' : 's'}, {job.redundancy} provider{job.redundancy === 1 ? '' : 's'} a round, escrow{' '}
            {formatTsr(job.escrow, 6)}
            {job.fees ? `, fees ${formatTsr(job.fees, 6)}` : ''}
            {job.refunded ? `, refunded ${formatTsr(job.refunded, 6)}` : ''}; deadline {formatTime(job.deadline)}.
          </p>
          {job.status === 'COMPLETED' && !wallet ? (
            <p role="alert" className="error">
              Connect the requester's account ({job.requester}) to download the output: only it and the job's providers may read it.
            </p>
          ) : null}
          {error ? (
            <p role="alert" className="error">
              Could not read the output: {error}
            </p>
          ) : null}
          {job.status === 'COMPLETED' && job.output && !output && !error && wallet ? <p aria-busy="true">Downloading the output…</p> : null}
          {output ? <OutputTable jobId={id} output={output} /> : null}
        </>
      ) : null}
    </section>
  )
}
