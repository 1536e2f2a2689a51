import type { Address } from 'viem'
import type { AssignmentOutcome, JobStatusName } from '../../protocol/enums.ts'
import { tailedTestLog } from './logTail.ts'

/** How long each wait took, among the stack's lines a failed test prints: where a slow run spent its time. */
const steps = tailedTestLog().child({ part: 'test' })

/** The schema's BigInt scalar as JSON carries it: a decimal string. */
export type BigIntString = string

/** The `Job` fields the end-to-end tests select. */
export type JobData = {
  id: BigIntString
  status: JobStatusName
  units: BigIntString
  fees: BigIntString | null
  burned: BigIntString | null
  refunded: BigIntString | null
  escrow: BigIntString
  assignments: { provider: Address; price: BigIntString; collateral: BigIntString; outcome: AssignmentOutcome; paid: BigIntString }[]
}

/** The `Provider` fields the end-to-end tests select. */
export type ProviderData = { address: Address; slashCount: number; earnings: { slashedTotal: BigIntString } }

/**
 * The `Query` root fields the end-to-end tests read, each present only when the operation selects it. The
 * default shape of `gqlData`'s result; a caller that knows its selection passes that as `T` instead.
 */
export type QueryData = { job?: JobData | null; jobs?: { totalCount: number }; provider?: ProviderData | null }

export type GraphQLResponseError = { message: string; extensions?: Record<string, unknown> }

/**
 * How a request reaches the server: the global `fetch` over HTTP, or a Yoga server's own `fetch`, in process (wrap it:
 * `(url, init) => yoga.fetch(url, init)`).
 */
export type Fetch = (url: string, init: RequestInit) => Response | Promise<Response>

/** Posts a GraphQL operation and returns the whole response body (data and errors). */
export async function gql<T = unknown>(
  graphqlUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  fetchFn: Fetch = fetch,
): Promise<{ data?: T; errors?: GraphQLResponseError[]; status: number }> {
  const res = await fetchFn(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: T; errors?: GraphQLResponseError[] }
  return { ...body, status: res.status }
}

/** Like `gql` but throws on errors, returning `data`. */
export async function gqlData<T = QueryData>(
  graphqlUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  fetchFn: Fetch = fetch,
): Promise<T> {
  const { data, errors } = await gql<T>(graphqlUrl, query, variables, fetchFn)
  if (errors?.length) throw new Error(`GraphQL errors: ${errors.map((e) => e.message).join('; ')}`)
  return data as T
}

/** Polls `check` every `intervalMs` until it returns a value that isn't undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  parameters: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const started = Date.now()
  const deadline = started + (parameters.timeoutMs ?? 90_000)
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) {
        steps.info({ waited: what, ms: Date.now() - started }, 'test waited')
        return value
      }
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`)
    await new Promise((r) => setTimeout(r, parameters.intervalMs ?? 500))
  }
}
