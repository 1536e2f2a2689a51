import type { CombinedError } from 'urql'

/** What the API said when it refused an operation (its messages name the field), without urql's `[GraphQL]` prefix. */
export function apiMessage(error: CombinedError): string {
  return error.graphQLErrors.length ? error.graphQLErrors.map((e) => e.message).join('; ') : (error.networkError?.message ?? error.message)
}
