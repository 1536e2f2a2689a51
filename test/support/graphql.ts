/** Posts a GraphQL operation and returns the whole response body (data and errors). */
export async function gql<T = any>(
  graphqlUrl: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[]; status: number }> {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = await res.json()
  return { ...body, status: res.status }
}

/** Like `gql` but throws on errors, returning `data`. */
export async function gqlData<T = any>(graphqlUrl: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const { data, errors } = await gql<T>(graphqlUrl, query, variables)
  if (errors?.length) throw new Error(`GraphQL errors: ${errors.map((e) => e.message).join('; ')}`)
  return data as T
}

/** Polls `check` every `intervalMs` until it returns a value that isn't undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  parameters: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (parameters.timeoutMs ?? 90_000)
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`)
    await new Promise((r) => setTimeout(r, parameters.intervalMs ?? 500))
  }
}
