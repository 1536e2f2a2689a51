import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The server's Prometheus metrics, on a registry of its own (several servers may share a process in tests). */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'tessera_server_' })
  const m = {
    registry,
    httpRequests: new Counter({
      name: 'tessera_server_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    graphqlOperations: new Counter({
      name: 'tessera_server_graphql_operations_total',
      help: 'GraphQL operations by type and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    graphqlDuration: new Histogram({
      name: 'tessera_server_graphql_duration_seconds',
      help: 'GraphQL execution time',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    subscriptionsActive: new Gauge({
      name: 'tessera_server_subscriptions_active',
      help: 'Open GraphQL subscriptions',
      registers: [registry],
    }),
    blobsStored: new Counter({ name: 'tessera_server_blob_stored_bytes_total', help: 'Bytes of new blobs stored', registers: [registry] }),
    blobsRejected: new Counter({
      name: 'tessera_server_blob_rejected_total',
      help: 'Blob uploads refused',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    leader: new Gauge({ name: 'tessera_server_leader', help: '1 while this replica holds the leader lock', registers: [registry] }),
    feedPublished: new Counter({
      name: 'tessera_server_feed_published_total',
      help: 'Assignments published by the change feed',
      registers: [registry],
    }),
    leaderTransactions: new Counter({
      name: 'tessera_server_leader_transactions_total',
      help: 'Transactions sent by the matcher and keeper',
      labelNames: ['action', 'outcome'] as const,
      registers: [registry],
    }),
    leaderTickErrors: new Counter({
      name: 'tessera_server_leader_tick_errors_total',
      help: 'Leader loop ticks that failed (retried next tick)',
      labelNames: ['task'] as const,
      registers: [registry],
    }),
  }
  return m
}

export type ServerMetrics = ReturnType<typeof createMetrics>
