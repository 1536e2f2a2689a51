import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse'
import { createYoga as createGraphQLYoga } from 'graphql-yoga'
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import pino, { type Logger } from 'pino'
import type { PublicClient } from 'viem'
import type { Deployment } from '../protocol/deployment.ts'
import { type BlobStore, createBlobStore } from './blobs/blobStore.ts'
import type { ModelInspector } from './checkJob.ts'
import type { ServerContext } from './context.ts'
import type { Database } from './db/database.ts'
import { viewsSchemaPresent } from './db/meta.ts'
import { createEventJobs } from './eventJobs.ts'
import { createIndexingHealth, type IndexerState, type IndexingHealthOptions } from './indexingHealth.ts'
import { createIndexWatcher } from './indexWatcher.ts'
import { createMetrics, type ServerMetrics } from './metrics.ts'
import { useAnalyticsRoutes } from './plugins/use-analytics-routes.ts'
import { useBlobRoutes } from './plugins/use-blob-routes.ts'
import { useErrorMasking } from './plugins/use-error-masking.ts'
import { useIndexedResponseCache } from './plugins/use-indexed-response-cache.ts'
import { useMetrics } from './plugins/use-metrics.ts'
import { useOffloadedExecution } from './plugins/use-offloaded-execution.ts'
import { useOpsRoutes } from './plugins/use-ops-routes.ts'
import { useQueryLimits } from './plugins/use-query-limits.ts'
import { useSharedSubscriptionResults } from './plugins/use-shared-subscription-results.ts'
import { type AssignmentPubSub, createAssignmentPubSub } from './pubsub.ts'
import type { QueryWorkers } from './queryWorkers.ts'
import { schema } from './schema/index.ts'

export type CreateYogaParameters = {
  db: Kysely<Database>
  viewsSchema: string
  deployment: Deployment
  dataDir: string
  maxBlobBytes?: number
  pubsub?: AssignmentPubSub
  publicClient?: PublicClient
  metrics?: ServerMetrics
  log?: Logger
  /** Unix seconds; tests pin it. */
  now?: () => number
  /** Loads models for `checkJob`; without it `checkJob` answers that this server does not check jobs. */
  inspector?: ModelInspector
  /** When `/ready` calls the indexed data stale (it answers 503 then); see `createIndexingHealth`. */
  indexing?: IndexingHealthOptions
  /**
   * The indexer's state when it runs in this process (`startIndexer(…).state`): `/ready` answers 503 as soon as it
   * stops, naming its last error. Without it, a stopped indexer shows as stale once the chain moves on.
   */
  indexerState?: () => IndexerState
  /** How often subscriptions' index watcher reads the indexed head (ms; `defaultWatchIntervalMs`). */
  watchIntervalMs?: number
  /**
   * Serve repeated queries of the indexed data from memory until the indexed head moves (`useIndexedResponseCache`).
   * On in `startServer`; off by default here, for tests that write the views' tables themselves.
   */
  cacheResponses?: boolean
  /** Query threads that run the costliest queries apart from the request thread (`useOffloadedExecution`). */
  queryWorkers?: QueryWorkers
  /** Complexity from which a query goes to `queryWorkers` (default `defaultOffloadComplexity`). */
  offloadComplexity?: number
}

/**
 * The whole HTTP surface as one fetch handler (`yoga.fetch`): GraphQL at `/graphql` (SSE for subscriptions; WebSocket
 * beside it once `serveWebSockets` is attached), graphql-sse at `/graphql/stream`, blobs, `/analytics/emissions.csv`,
 * `/deployment`, `/health`, `/ready`, `/metrics`. No listening socket; `startServer` puts it behind a Node HTTP server,
 * tests call `yoga.fetch` directly. `/ready` answers 503 while the views schema is missing or the indexed data is stale
 * (`indexing`, also returned so the leader can share what it saw).
 */
export function createYoga(parameters: CreateYogaParameters) {
  const log = parameters.log ?? pino({ level: 'silent' })
  const metrics = parameters.metrics ?? createMetrics()
  const pubsub = parameters.pubsub ?? createAssignmentPubSub()
  const context = createServerContext({ ...parameters, pubsub, log })
  const blobs = context.blobs as BlobStore
  // Yoga logs an error among other arguments; it goes through pino's `err` serializer so its stack survives.
  const yogaLog =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      const err = args.find((a) => a instanceof Error)
      log[level]({ err, yoga: args.filter((a) => a !== err) }, 'yoga')
    }
  const indexing = createIndexingHealth({
    views: context.views,
    chainId: parameters.deployment.chainId,
    publicClient: parameters.publicClient,
    indexerState: parameters.indexerState,
    options: parameters.indexing,
  })
  const ready = async () => {
    await sql`select 1`.execute(parameters.db)
    if (!(await viewsSchemaPresent(parameters.db, parameters.viewsSchema)))
      return {
        ok: false,
        reason: `views schema "${parameters.viewsSchema}" is missing or incomplete (is the indexer running with --views-schema?)`,
      }
    const { ok, reason, block, chainHead, lagBlocks, error } = await indexing.check()
    return ok ? { ok } : { ok, reason, details: { indexing: { block, chainHead, lagBlocks, error } } }
  }
  // The response cache reads the watcher's head; this subscription keeps the watcher reading it while the server runs
  // (its queue holds the latest head only, so nothing needs to drain it).
  const heads = parameters.cacheResponses ? context.indexWatcher.heads() : undefined
  const yoga = createGraphQLYoga<Record<string, unknown>, ServerContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: false,
    logging: { debug: yogaLog('debug'), info: yogaLog('info'), warn: yogaLog('warn'), error: yogaLog('error') },
    // Per-request copies so Pothos' dataloaders (cached on the context object) are request-scoped.
    context: () => ({ ...context }),
    plugins: [
      useMetrics({ metrics }),
      useOpsRoutes({ deployment: parameters.deployment, metrics, ready }),
      useBlobRoutes({ store: blobs, metrics, inspector: parameters.inspector }),
      useAnalyticsRoutes({ views: context.views, deployment: parameters.deployment }),
      useQueryLimits(),
      useSharedSubscriptionResults(),
      ...(heads ? [useIndexedResponseCache({ head: () => context.indexWatcher.head()?.blockNumber })] : []),
      ...(parameters.queryWorkers
        ? [useOffloadedExecution({ workers: parameters.queryWorkers, minComplexity: parameters.offloadComplexity, metrics })]
        : []),
      useErrorMasking({ log }),
      // graphql-sse's protocol at /graphql/stream, single-connection mode included (one connection, many operations: the
      // six-connections-per-domain limit of HTTP/1 browsers). /graphql keeps Yoga's own SSE (distinct connections).
      useGraphQLSSE({ endpoint: '/graphql/stream' }),
    ],
  })
  /** Stops following the indexed head (the response cache's); the rest holds no timers of its own. */
  const close = () => heads?.close()
  return { yoga, context, metrics, pubsub, blobs, indexing, close }
}

/** What every resolver gets (see {@link ServerContext}), with its own blob store and index watcher. */
export function createServerContext(
  parameters: Pick<
    CreateYogaParameters,
    'db' | 'viewsSchema' | 'deployment' | 'dataDir' | 'maxBlobBytes' | 'publicClient' | 'now' | 'inspector' | 'watchIntervalMs'
  > & { pubsub: AssignmentPubSub; log: Logger },
): ServerContext {
  const { log, pubsub } = parameters
  const views = parameters.db.withSchema(parameters.viewsSchema)
  return {
    db: parameters.db,
    views,
    viewsSchema: parameters.viewsSchema,
    deployment: parameters.deployment,
    pubsub,
    eventJobs: createEventJobs(views),
    indexWatcher: createIndexWatcher({ views, log, intervalMs: parameters.watchIntervalMs }),
    publicClient: parameters.publicClient,
    log,
    now: parameters.now ?? (() => Date.now() / 1000),
    blobs: createBlobStore({ db: parameters.db, dataDir: parameters.dataDir, maxBytes: parameters.maxBlobBytes }),
    inspector: parameters.inspector,
  }
}
