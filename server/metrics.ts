import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The server's Prometheus metrics, on a registry of its own (several servers may share a process in tests). */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'tessera_server_' })
  const registers = [registry]
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers })
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers })
  return {
    registry,
    httpRequests: counter('tessera_server_http_requests_total', 'HTTP requests by route and status', ['route', 'status']),
    graphqlOperations: counter('tessera_server_graphql_operations_total', 'GraphQL operations by type and outcome', ['type', 'outcome']),
    graphqlDuration: new Histogram({
      name: 'tessera_server_graphql_duration_seconds',
      help: 'GraphQL execution time',
      labelNames: ['type'] as const,
      registers,
    }),
    subscriptionsActive: gauge('tessera_server_subscriptions_active', 'Open GraphQL subscriptions'),
    blobsStored: counter('tessera_server_blob_stored_bytes_total', 'Bytes of new blobs stored'),
    blobsRejected: counter('tessera_server_blob_rejected_total', 'Blob uploads refused', ['reason']),
    leader: gauge('tessera_server_leader', '1 while this replica holds the leader lock'),
    feedPublished: counter('tessera_server_feed_published_total', 'Assignments published by the change feed'),
    leaderTransactions: counter('tessera_server_leader_transactions_total', 'Transactions sent by the matcher and keeper', [
      'action',
      'outcome',
    ]),
    leaderTickErrors: counter('tessera_server_leader_tick_errors_total', 'Leader loop ticks that failed (retried next tick)', ['task']),
  }
}

export type ServerMetrics = ReturnType<typeof createMetrics>
