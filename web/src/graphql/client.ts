import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core'
import { createClient as createWsClient } from 'graphql-ws'

/**
 * The page's one GraphQL client: queries and mutations over HTTP at `/graphql`, subscriptions over one WebSocket
 * (`graphql-transport-ws`) on the same path, reconnecting for as long as the page is open.
 */
export function createApiClient(origin = window.location.origin): Client {
  const ws = createWsClient({
    url: `${origin.replace(/^http/, 'ws')}/graphql`,
    lazy: true,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
  })
  return new Client({
    url: `${origin}/graphql`,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
    requestPolicy: 'cache-and-network',
  })
}
