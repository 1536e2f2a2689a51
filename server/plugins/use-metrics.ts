import { errorAsyncIterator, finalAsyncIterator, isAsyncIterable } from '@envelop/core'
import type { Plugin } from 'graphql-yoga'
import type { ServerMetrics } from '../metrics.ts'
import { onSharedStreamEnd } from './use-shared-subscription-results.ts'

/** Counts GraphQL operations by type and outcome and times them; tracks open subscriptions. */
export function useMetrics(options: { metrics: ServerMetrics }): Plugin {
  const { metrics } = options
  return {
    onExecute({ args }) {
      const type = operationType(args.document, args.operationName)
      const end = metrics.graphqlDuration.startTimer({ type })
      return {
        onExecuteDone({ result }) {
          end()
          const failed = 'errors' in result && !!(result as { errors?: unknown[] }).errors?.length
          metrics.graphqlOperations.inc({ type, outcome: failed ? 'error' : 'ok' })
        },
      }
    },
    onSubscribe() {
      metrics.subscriptionsActive.inc()
      metrics.graphqlOperations.inc({ type: 'subscription', outcome: 'ok' })
      let ended = false
      const end = () => {
        if (ended) return
        ended = true
        metrics.subscriptionsActive.dec()
      }
      return {
        onSubscribeResult({ result, setResult }) {
          // A subscription refused (a result, not a stream) is over already. A stream of useSharedSubscriptionResults
          // tells its end without a layer around it (envelop's `onEnd` or `onSubscribeError` would add one to every
          // subscriber's stream, and each would cost a promise per event); any other stream gets a layer that does.
          if (!isAsyncIterable(result)) return end()
          if (!onSharedStreamEnd(result, end))
            setResult(
              errorAsyncIterator(finalAsyncIterator(result, end), (error) => {
                end()
                throw error
              }),
            )
        },
      }
    },
    onResponse({ request, response }) {
      metrics.httpRequests.inc({ route: routeOf(new URL(request.url).pathname), status: String(response.status) })
    },
    onValidate() {
      return ({ valid }) => {
        if (!valid) metrics.graphqlOperations.inc({ type: 'unknown', outcome: 'invalid' })
      }
    },
  }
}

function operationType(
  document: { definitions: readonly { kind: string; operation?: string; name?: { value: string } }[] },
  name?: string | null,
): string {
  const ops = document.definitions.filter((d) => d.kind === 'OperationDefinition')
  const op = name ? ops.find((d) => d.name?.value === name) : ops[0]
  return op?.operation ?? 'unknown'
}

const knownRoutes = new Set(['/graphql', '/blobs', '/health', '/ready', '/metrics', '/deployment'])
function routeOf(pathname: string): string {
  if (knownRoutes.has(pathname)) return pathname
  if (pathname.startsWith('/blobs/')) return '/blobs/:sha256'
  return 'other'
}
