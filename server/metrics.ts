import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client'

/** A registry's metrics as `getMetricsAsJSON` gives them (what crosses from a worker thread). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

/**
 * The server's Prometheus metrics, on a registry of its own (several servers may share a process in tests), with the
 * process's default metrics unless `defaultMetrics: false` (a worker thread's, which the server's already count).
 * `render()` is the `/metrics` text: this registry's metrics summed with what each `imported` source reads at the time.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tessera_server_' })
  /** How to read each other thread's metrics (the leader's), by source. */
  const imported = new Map<string, () => Promise<MetricsJson>>()
  const registers = [registry]
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers })
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers })
  return {
    registry,
    imported,
    /** The Prometheus text of this registry and every imported source, summed by metric and labels. */
    async render(): Promise<string> {
      if (!imported.size) return registry.metrics()
      const sources = await Promise.all([...imported.values()].map((read) => read()))
      const elsewhere = new Set(sources.flatMap((metrics) => metrics.map((m) => m.name)))
      // A metric only this thread has passes as it is (aggregating would drop the ones marked `omit`, like the start time).
      const own = (await registry.getMetricsAsJSON()).map((m) => (elsewhere.has(m.name) ? m : { ...m, aggregator: 'first' as const }))
      return AggregatorRegistry.aggregate([own, ...sources]).metrics()
    },
    httpRequests: counter('tessera_server_http_requests_total', 'HTTP requests by route and status', ['route', 'status']),
    graphqlOperations: counter('tessera_server_graphql_operations_total', 'GraphQL operations by type and outcome', ['type', 'outcome']),
    graphqlDuration: new Histogram({
      name: 'tessera_server_graphql_duration_seconds',
      help: 'GraphQL execution time',
      labelNames: ['type'] as const,
      registers,
    }),
    graphqlOffloaded: counter('tessera_server_graphql_offloaded_total', 'Queries run on a query thread (useOffloadedExecution)'),
    subscriptionsActive: gauge('tessera_server_subscriptions_active', 'Open GraphQL subscriptions'),
    blobsStored: counter('tessera_server_blob_stored_bytes_total', 'Bytes of new blobs stored'),
    blobsRejected: counter('tessera_server_blob_rejected_total', 'Blob uploads refused', ['reason']),
    leader: gauge('tessera_server_leader', '1 while this replica holds the leader lock'),
    leaderRestarts: counter('tessera_server_leader_restarts_total', 'Times the leader thread died and was started again'),
    feedPublished: counter('tessera_server_feed_published_total', 'Assignments published by the change feed'),
    leaderTransactions: counter('tessera_server_leader_transactions_total', 'Transactions sent by the matcher and keeper', [
      'action',
      'outcome',
    ]),
    leaderTickErrors: counter('tessera_server_leader_tick_errors_total', 'Leader loop ticks that failed (retried next tick)', ['task']),
  }
}

export type ServerMetrics = ReturnType<typeof createMetrics>
