import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import pino, { type Logger } from 'pino'
import type { Hex } from 'viem'
import type { Deployment } from '../protocol/deployment.ts'
import { logSerializers } from '../protocol/logSerializers.ts'
import { createModelInspector } from './checkJob.ts'
import { createHttpServer, type HttpTimeouts, resolveHttpTimeouts } from './createHttpServer.ts'
import { createYoga } from './createYoga.ts'
import { createDb } from './db/createDb.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'
import type { IndexerState } from './indexingHealth.ts'
import { createChainClients } from './leader/chainClients.ts'
import type { ChallengeIssuerOptions } from './leader/challengeIssuer.ts'
import { busScopeOf } from './leader/runLeader.ts'
import { startLeaderWorker } from './leader/startLeaderWorker.ts'
import { createMetrics } from './metrics.ts'
import type { CostRateLimitOptions } from './plugins/use-cost-rate-limit.ts'
import { defaultMaxRequestBodyBytes } from './plugins/use-request-body-guard.ts'
import { connectAssignmentPubSub } from './pubsub.ts'
import { createQueryWorkers } from './queryWorkers.ts'
import { withLeanEventStreams } from './serveEventStreams.ts'
import { serveWebSockets } from './serveWebSockets.ts'
import { superviseThread } from './superviseThread.ts'

export type StartServerParameters = {
  databaseUrl: string
  /** Ponder's views schema (`TESSERA_VIEWS_SCHEMA`, default `chain`). */
  viewsSchema: string
  rpcUrl: string
  deployment: Deployment
  /** The matcher/keeper key (MATCHER_ROLE). Without it the leader only runs the change feed. */
  serverKey?: Hex
  /** 0 picks a free port. */
  port: number
  /** Blobs live under `<dataDir>/blobs/`. */
  dataDir: string
  /**
   * Share subscription events between replicas through Redis pub/sub instead of Postgres LISTEN/NOTIFY (the default).
   * Every replica of a deployment must use the same bus: one that finds a live replica on another refuses to start.
   */
  redisUrl?: string
  /** Default 64 MiB (`TESSERA_MAX_BLOB_BYTES`). */
  maxBlobBytes?: number
  /** Bytes each account may hold in blobs no job references yet; default 1 GiB (`TESSERA_BLOB_QUOTA_BYTES`). */
  blobQuotaBytes?: number
  /** Seconds an unreferenced blob is kept after its last upload; default a day (`TESSERA_BLOB_TTL_SECONDS`). */
  blobTtlSeconds?: number
  /** Small blobs' bytes each blob store (the server's, the leader's) keeps in memory; default 32 MiB (`TESSERA_BLOB_MEMORY_BYTES`). */
  blobMemoryBytes?: number
  /** Compete for the leader lock (default true). */
  leader?: boolean
  /**
   * Blocks deep the leader's transactions must be before it stops watching them (default 12): above the deepest reorg
   * the chain may see, or a dropped assign or finalize is left to be redone once the indexer has reverted it.
   */
  confirmations?: number
  /** Most jobs the leader assigns, finalizes or expires per transaction (default 64; 1: a transaction per job). */
  batchSize?: number
  /** Issue known-answer challenge jobs to active providers (the leader's `challenges`); off by default. */
  challenges?: ChallengeIssuerOptions
  /**
   * Worker threads that run the costliest queries apart from the request thread (default 1; 0: every query on the
   * request thread). See `useOffloadedExecution`.
   */
  queryThreads?: number
  /** Bind address (default 127.0.0.1). */
  host?: string
  /** How long the HTTP server waits on a slow client (`createHttpServer`; default `defaultHttpTimeouts`). */
  http?: HttpTimeouts
  /** Largest GraphQL request body in bytes (default 1 MiB; `createYoga`). */
  maxRequestBodyBytes?: number
  /** Each client's budget of query cost (`useCostRateLimit`: loopback clients unmetered by default), or false for none. */
  costRateLimit?: CostRateLimitOptions | false
  /**
   * The host[:port] agents reach this server at, which their heartbeats are signed for (`createYoga`'s `domain`);
   * default: the host each request was addressed to. Set it behind a proxy that rewrites `Host`, and in production.
   */
  domain?: string
  /**
   * The dashboard at `/` (`useWebApp`): `dir` its build (default `web/dist`), `publicRpcUrl` a JSON-RPC URL the page
   * may send through (the devnet's anvil; published to every visitor, so never one with a key in it), `devnet` whether
   * the page may offer anvil's well-known dev keys. `false`: no page.
   */
  web?: { dir?: string; publicRpcUrl?: string; devnet?: boolean } | false
  log?: Logger
  /** The indexer's state when it runs in this process (`startIndexer(…).state`): `/ready` then names its error at once. */
  indexerState?: () => IndexerState
}

export type StartServerReturnType = {
  /** Base URL, e.g. `http://127.0.0.1:4000`; GraphQL is at `${url}/graphql`. */
  url: string
  yoga: ReturnType<typeof createYoga>['yoga']
  stop: () => Promise<void>
}

/**
 * Migrates the `app` schema, joins the deployment's event bus (Postgres LISTEN/NOTIFY, or Redis with `redisUrl`),
 * serves GraphQL (with SSE subscriptions), blobs, `/deployment`, `/health`, `/ready` and `/metrics` on `port`, and
 * (unless `leader: false`) competes for the leader lock to run the change feed, matcher and keeper, in a worker thread
 * of its own (`startLeaderWorker`) so that no query can stall them. Rejects with
 * `ServerConfigError` when another live replica of the deployment shares events over a different bus: the subscribers
 * of one would never hear the other's leader; and, before connecting to anything, when `http` holds a bad timeout.
 */
export async function startServer(parameters: StartServerParameters): Promise<StartServerReturnType> {
  const log = parameters.log ?? pino({ name: 'tessera-server', serializers: logSerializers })
  const httpTimeouts = resolveHttpTimeouts(parameters.http)
  await mkdir(parameters.dataDir, { recursive: true })
  const { db, pool } = createDb({ databaseUrl: parameters.databaseUrl })
  await migrateToLatest(db)
  const metrics = createMetrics()
  const scope = busScopeOf(parameters.deployment)
  const pubsub = await connectAssignmentPubSub({ databaseUrl: parameters.databaseUrl, redisUrl: parameters.redisUrl, scope, log }).catch(
    async (error: unknown) => {
      await db.destroy()
      throw error
    },
  )
  const { publicClient } = createChainClients({ rpcUrl: parameters.rpcUrl, chainId: parameters.deployment.chainId })
  const inspector = createModelInspector()
  const queryWorkers =
    parameters.queryThreads === 0
      ? undefined
      : createQueryWorkers({
          settings: {
            databaseUrl: parameters.databaseUrl,
            viewsSchema: parameters.viewsSchema,
            deployment: parameters.deployment,
            dataDir: parameters.dataDir,
            rpcUrl: parameters.rpcUrl,
          },
          size: parameters.queryThreads ?? 1,
          log: log.child({ part: 'queries' }),
        })
  const web = parameters.web === false ? undefined : (parameters.web ?? {})
  const { yoga, close: closeYoga } = createYoga({
    web: web && {
      dir: web.dir,
      config: { chainId: parameters.deployment.chainId, rpcUrl: web.publicRpcUrl ?? null, devnet: web.devnet ?? false },
    },
    inspector,
    cacheResponses: true,
    queryWorkers,
    // One head read per thread for subscriptions and the response cache, at the leader's pace (its thread reads its own).
    watchIntervalMs: 50,
    indexerState: parameters.indexerState,
    db,
    viewsSchema: parameters.viewsSchema,
    deployment: parameters.deployment,
    domain: parameters.domain,
    dataDir: parameters.dataDir,
    maxBlobBytes: parameters.maxBlobBytes,
    blobMemoryBytes: parameters.blobMemoryBytes,
    blobQuotaBytes: parameters.blobQuotaBytes,
    maxRequestBodyBytes: parameters.maxRequestBodyBytes,
    costRateLimit: parameters.costRateLimit,
    pubsub,
    publicClient,
    metrics,
    log,
  })
  // Slow requests are cut off; SSE responses and WebSockets stay open (see createHttpServer).
  const server = createHttpServer(
    withLeanEventStreams(yoga, { maxBodyBytes: parameters.maxRequestBodyBytes ?? defaultMaxRequestBodyBytes, log }),
    httpTimeouts,
  )
  const webSockets = serveWebSockets({ server, yoga })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(parameters.port, parameters.host ?? '127.0.0.1', () => resolve())
  }).catch(async (error: unknown) => {
    // A port taken: leave no bus session, pool or thread behind.
    await pubsub.close()
    await queryWorkers?.close()
    await inspector.close()
    await db.destroy()
    throw error
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${parameters.host ?? '127.0.0.1'}:${port}`
  const stopServing = async () => {
    await webSockets.close()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    closeYoga()
    await yoga.dispose?.()
    await pubsub.close()
    await inspector.close()
    await queryWorkers?.close()
    await db.destroy().catch(() => pool.end())
  }
  const leader =
    parameters.leader === false
      ? undefined
      : await superviseThread({
          name: 'the leader thread',
          log,
          onRestart: () => metrics.leaderRestarts.inc(),
          start: () =>
            startLeaderWorker(
              {
                databaseUrl: parameters.databaseUrl,
                viewsSchema: parameters.viewsSchema,
                rpcUrl: parameters.rpcUrl,
                deployment: parameters.deployment,
                serverKey: parameters.serverKey,
                dataDir: parameters.dataDir,
                redisUrl: parameters.redisUrl,
                maxBlobBytes: parameters.maxBlobBytes,
                blobMemoryBytes: parameters.blobMemoryBytes,
                blobTtlSeconds: parameters.blobTtlSeconds,
                confirmations: parameters.confirmations,
                challenges: parameters.challenges,
                batchSize: parameters.batchSize,
              },
              { log: log.child({ part: 'leader' }), metrics },
            ),
        }).catch(async (error: unknown) => {
          await stopServing()
          throw error
        })
  log.info({ url, viewsSchema: parameters.viewsSchema, leader: parameters.leader !== false, bus: pubsub.busId }, 'server listening')

  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      await leader?.stop()
      await stopServing()
    })())
  return { url, yoga, stop }
}
