import { useLiveQuery } from '../components/live.tsx'
import { formatDuration, formatTsr } from '../format.ts'
import { graphql, type ResultOf } from '../graphql/tada.ts'
import { apiMessage } from './apiMessage.ts'
import type { SpecTerms } from './spec.ts'

const QuoteQuery = graphql(`
  query SubmitQuote($spec: QuoteInput!) {
    quote(spec: $spec) {
      reason
      providers
      eligibleProviders
      pricePerUnit
      fees
      cost
      escrow
      etaSeconds
      queue {
        waitingJobs
        waitingSlots
        recentJobSeconds
      }
      check {
        runnable
        problems {
          code
          message
        }
      }
      redundant {
        reason
        providers
        eligibleProviders
        cost
        escrow
        etaSeconds
      }
      optimistic {
        reason
        providers
        eligibleProviders
        cost
        escrow
        etaSeconds
      }
    }
  }
`)

type Reason = ResultOf<typeof QuoteQuery>['quote']['reason']

/** What each reason means for the person submitting. */
const reasons: Record<Reason, string> = {
  OK: 'Enough live providers ask at most your price: the job can be matched now.',
  MAX_PRICE_TOO_LOW: 'Enough providers fit, but too few ask at most your max price per unit: raise it, or the job waits.',
  TOO_FEW_LIVE_PROVIDERS: 'Enough providers fit, but too few are online now (no heartbeat in the last 30 s): the job waits for them.',
  NOT_ENOUGH_PROVIDERS:
    'Too few registered providers meet the GPU, VRAM, region, stake and collateral requirements: loosen them or ask for fewer providers.',
}

const eta = (seconds: number | null | undefined) => (seconds === null || seconds === undefined ? '—' : `about ${formatDuration(seconds)}`)

/**
 * The live quote for the form's terms (`quote`): price, cost, escrow, ETA, how many eligible providers, and why
 * nothing fits when nothing does; with both hashes uploaded, whether the model runs on the input. Re-read as the
 * indexed head moves (providers come and go).
 */
export function QuotePanel({
  terms,
  modelHash,
  inputHash,
}: {
  terms: SpecTerms | undefined
  modelHash?: `0x${string}`
  inputHash?: `0x${string}`
}) {
  const spec = terms && { ...terms, modelHash, inputHash }
  const [result] = useLiveQuery({ query: QuoteQuery, variables: { spec: spec ?? (undefined as never) }, pause: !spec }, 5_000)
  const quote = spec ? result.data?.quote : undefined
  return (
    <section className="quote" aria-labelledby="quote-heading" data-testid="quote">
      <h2 id="quote-heading">Quote</h2>
      {!spec ? <p className="muted">Fill in the input and the terms to see what the job costs and who could run it.</p> : null}
      {spec && result.error ? (
        <p role="alert" className="error" data-testid="quote-error">
          The API refused the quote: {apiMessage(result.error)}
        </p>
      ) : null}
      {spec && !quote && !result.error ? <p aria-busy="true">Asking for a quote…</p> : null}
      {quote ? (
        <>
          <p className={quote.reason === 'OK' ? 'ok' : 'warn'} aria-live="polite" data-testid="quote-reason">
            <strong>{quote.reason === 'OK' ? 'Can be matched now' : 'Nothing fits now'}</strong> ({quote.reason}): {reasons[quote.reason]}
          </p>
          <dl className="cards">
            <div className="card">
              <dt>Eligible providers</dt>
              <dd data-testid="quote-eligible">{quote.eligibleProviders}</dd>
              <dd className="note">the job needs {quote.providers}</dd>
            </div>
            <div className="card">
              <dt>Price per unit</dt>
              <dd data-testid="quote-price">{formatTsr(quote.pricePerUnit, 6)}</dd>
              <dd className="note">the highest ask it would pay</dd>
            </div>
            <div className="card">
              <dt>Cost</dt>
              <dd data-testid="quote-cost">{formatTsr(quote.cost, 6)}</dd>
              <dd className="note">paid on completion, take included</dd>
            </div>
            <div className="card">
              <dt>Escrow</dt>
              <dd data-testid="quote-escrow">{formatTsr(quote.escrow, 6)}</dd>
              <dd className="note">locked at submit; the rest comes back</dd>
            </div>
            <div className="card">
              <dt>Settles in</dt>
              <dd data-testid="quote-eta">{eta(quote.etaSeconds)}</dd>
              <dd className="note">
                {quote.queue.waitingJobs} job{quote.queue.waitingJobs === 1 ? '' : 's'} waiting ({quote.queue.waitingSlots} slots)
              </dd>
            </div>
          </dl>
          {quote.check ? (
            quote.check.runnable ? (
              <p className="ok" data-testid="quote-check">
                The model loads and takes this input.
              </p>
            ) : (
              <div role="alert" className="error" data-testid="quote-check">
                <p>This job can not run:</p>
                <ul>
                  {quote.check.problems.map((p) => (
                    <li key={p.code + p.message}>
                      {p.message} ({p.code})
                    </li>
                  ))}
                </ul>
              </div>
            )
          ) : null}
          <div className="table-scroll">
            <table data-testid="quote-modes">
              <caption className="muted">The same job in each verification mode</caption>
              <thead>
                <tr>
                  <th scope="col">Mode</th>
                  <th scope="col" className="num">
                    Providers needed
                  </th>
                  <th scope="col" className="num">
                    Eligible
                  </th>
                  <th scope="col" className="num">
                    Cost
                  </th>
                  <th scope="col" className="num">
                    Escrow
                  </th>
                  <th scope="col">Settles in</th>
                  <th scope="col">Matchable</th>
                </tr>
              </thead>
              <tbody>
                {(['redundant', 'optimistic'] as const).map((mode) => {
                  const m = quote[mode]
                  return (
                    <tr key={mode}>
                      <th scope="row">{mode === 'redundant' ? 'Redundant' : 'Optimistic'}</th>
                      <td className="num">{m.providers}</td>
                      <td className="num">{m.eligibleProviders}</td>
                      <td className="num">{formatTsr(m.cost, 6)}</td>
                      <td className="num">{formatTsr(m.escrow, 6)}</td>
                      <td>{eta(m.etaSeconds)}</td>
                      <td>{m.reason}</td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </section>
  )
}
