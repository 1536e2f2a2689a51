import type { IncomingMessage } from 'node:http'
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse'
import { createYoga as createGraphQLYoga } from 'graphql-yoga'
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import pino, { type Logger } from 'pino'
import type { PublicClient } from 'viem'
import type { Deployment } from '../protocol/deployment.ts'
import { heartbeatDomain } from '../protocol/heartbeat.ts'
import { createFundingCheck, type FundingCheck } from './auth/accountFunding.ts'
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
import { type CostRateLimitOptions, useCostRateLimit } from './plugins/use-cost-rate-limit.ts'
import { useDeploymentRoute } from './plugins/use-deployment-route.ts'
import { errorMasker, useErrorMasking } from './plugins/use-error-masking.ts'
import { renderGraphiQL, useGraphiQLAssets } from './plugins/use-graphiql-assets.ts'
import { useIndexedResponseCache } from './plugins/use-indexed-response-cache.ts'
import { useMetrics } from './plugins/use-metrics.ts'
import { useOffloadedExecution } from './plugins/use-offloaded-execution.ts'
import { useOpsRoutes } from './plugins/use-ops-routes.ts'
import { useQueryLimits } from './plugins/use-query-limits.ts'
import { defaultMaxRequestBodyBytes, useRequestBodyGuard } from './plugins/use-request-body-guard.ts'
import { useSharedSubscriptionResults } from './plugins/use-shared-subscription-results.ts'
import { type UseWebAppOptions, useWebApp } from './plugins/use-web-app.ts'
import { type AssignmentPubSub, createAssignmentPubSub } from './pubsub.ts'
import type { QueryWorkers } from './queryWorkers.ts'
import { schema } from './schema/index.ts'

export type CreateYogaParameters = {
  /** Serve the dashboard at `/` (`useWebApp`); absent: no page, only the API. */
  web?: UseWebAppOptions
  db: Kysely<Database>
  viewsSchema: string
  deployment: Deployment
  /**
   * The domain agents sign heartbeats for: the host (and `:port` unless default) of the URL they reach this server at,
   * e.g. `api.tessera.example` (see `heartbeatDomain`). Without it the server takes the host each request was addressed
   * to, which works behind no proxy or one that keeps the `Host` header, but lets a server that relays requests choose
   * it: set it in production.
   */
  domain?: string
  dataDir: string
  maxBlobBytes?: number
  /** Small blobs' bytes the blob store keeps in memory (default `defaultBlobMemoryBytes`, 32 MiB; 0: none). */
  blobMemoryBytes?: number
  /** Bytes each account may hold in blobs no job references yet (default `defaultBlobQuotaBytes`, 1 GiB). */
  blobQuotaBytes?: number
  /** Bytes an account may upload a second and at once (`useBlobRoutes`' `uploadRate`; default `defaultUploadRate`). */
  blobUploadRate?: { bytesPerSecond: number; burstBytes: number }
  /** Who may upload blobs; default `createFundingCheck` (stake, wallet TSR through `publicClient`, gateway balance). */
  fundingCheck?: FundingCheck
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
  /** Largest GraphQL request body in bytes (default `defaultMaxRequestBodyBytes`, 1 MiB); blobs have `maxBlobBytes`. */
  maxRequestBodyBytes?: number
  /**
   * The per-client budget of query cost (`useCostRateLimit`; its defaults leave loopback clients and `yoga.fetch`
   * unmetered), or false for none.
   */
  costRateLimit?: CostRateLimitOptions | false
}

/**
 * The whole HTTP surface as one fetch handler (`yoga.fetch`): GraphQL at `/graphql` (SSE for subscriptions; WebSocket
 * beside it once `serveWebSockets` is attached; GraphiQL for a browser, with its assets at `/graphiql/`), graphql-sse at
 * `/graphql/stream`, blobs, `/analytics/emissions.csv`, `/deployment`, `/health`, `/ready`, `/metrics`. GraphQL request
 * bodies are bounded and never echoed (`useRequestBodyGuard`), and each client's query cost per second is
 * (`useCostRateLimit`). No listening socket; `startServer` puts it behind a Node HTTP server,
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
  const maxRequestBodyBytes = parameters.maxRequestBodyBytes ?? defaultMaxRequestBodyBytes
  const maskError = errorMasker({ log })
  const yoga = createGraphQLYoga<Record<string, unknown>, ServerContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL at GET /graphql (Accept: text/html), its assets from this server rather than a CDN.
    renderGraphiQL,
    maxRequestBodySize: maxRequestBodyBytes,
    maskedErrors: false,
    logging: { debug: yogaLog('debug'), info: yogaLog('info'), warn: yogaLog('warn'), error: yogaLog('error') },
    // Per-request copies so Pothos' dataloaders (cached on the context object) are request-scoped.
    context: (initial) => ({ ...context, domain: context.domain ?? requestHost(initial) }),
    plugins: [
      useMetrics({ metrics }),
      useOpsRoutes({ metrics, ready }),
      useDeploymentRoute({ deployment: parameters.deployment }),
      useBlobRoutes({
        store: blobs,
        db: parameters.db,
        views: context.views,
        deployment: parameters.deployment,
        publicClient: parameters.publicClient,
        domain: context.domain,
        now: context.now,
        quotaBytes: parameters.blobQuotaBytes,
        uploadRate: parameters.blobUploadRate,
        isFunded: parameters.fundingCheck ?? createFundingCheck({ ...parameters, views: context.views, log }),
        metrics,
        inspector: parameters.inspector,
        log,
      }),
      useAnalyticsRoutes({ views: context.views, deployment: parameters.deployment }),
      useGraphiQLAssets(),
      ...(parameters.web ? [useWebApp(parameters.web)] : []),
      useRequestBodyGuard({ maxBytes: maxRequestBodyBytes, streamEndpoint: '/graphql/stream' }),
      useQueryLimits(),
      // Before the response cache and the query threads, so that every operation pays, answered from memory or not.
      ...(parameters.costRateLimit === false ? [] : [useCostRateLimit(parameters.costRateLimit)]),
      useSharedSubscriptionResults({ maskError }),
      ...(heads ? [useIndexedResponseCache({ head: () => context.indexWatcher.head()?.blockNumber })] : []),
      ...(parameters.queryWorkers
        ? [useOffloadedExecution({ workers: parameters.queryWorkers, minComplexity: parameters.offloadComplexity, metrics })]
        : []),
      useErrorMasking({ maskError }),
      // graphql-sse's protocol at /graphql/stream, single-connection mode included (one connection, many operations: the
      // six-connections-per-domain limit of HTTP/1 browsers). /graphql keeps Yoga's own SSE (distinct connections).
      useGraphQLSSE({ endpoint: '/graphql/stream' }),
    ],
  })
  /** Stops following the indexed head (the response cache's); the rest holds no timers of its own. */
  const close = () => heads?.close()
  return { yoga, context, metrics, pubsub, blobs, indexing, close }
}

/**
 * The host (`:port` unless default) a request was addressed to: from the request URL over HTTP, from the upgrade
 * request's `Host` header over WebSocket. Undefined when neither is there or it isn't a host.
 */
function requestHost(initial: { request?: Request; req?: IncomingMessage }): string | undefined {
  try {
    if (initial.request) return heartbeatDomain(initial.request.url)
    const host = initial.req?.headers.host
    return host ? heartbeatDomain(`http://${host}`) : undefined
  } catch {
    return undefined
  }
}

/** What every resolver gets (see {@link ServerContext}), with its own blob store and index watcher. */
export function createServerContext(
  parameters: Pick<
    CreateYogaParameters,
    | 'db'
    | 'viewsSchema'
    | 'deployment'
    | 'domain'
    | 'dataDir'
    | 'maxBlobBytes'
    | 'blobMemoryBytes'
    | 'publicClient'
    | 'now'
    | 'inspector'
    | 'watchIntervalMs'
  > & { pubsub: AssignmentPubSub; log: Logger },
): ServerContext {
  const { log, pubsub } = parameters
  const views = parameters.db.withSchema(parameters.viewsSchema)
  return {
    db: parameters.db,
    views,
    viewsSchema: parameters.viewsSchema,
    deployment: parameters.deployment,
    domain: parameters.domain?.toLowerCase(),
    pubsub,
    eventJobs: createEventJobs(views),
    indexWatcher: createIndexWatcher({ views, log, intervalMs: parameters.watchIntervalMs }),
    publicClient: parameters.publicClient,
    log,
    now: parameters.now ?? (() => Date.now() / 1000),
    blobs: createBlobStore({
      db: parameters.db,
      dataDir: parameters.dataDir,
      maxBytes: parameters.maxBlobBytes,
      memoryBytes: parameters.blobMemoryBytes,
    }),
    inspector: parameters.inspector,
  }
}
