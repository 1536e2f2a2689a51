/**
 * The API process the query and subscription benches measure, forked with `--expose-gc`: the server's real Yoga
 * (createYoga, its response cache and one query thread on as in `startServer`) behind a Node HTTP server with WebSocket beside SSE, its
 * live events from the Postgres bus the bench publishes on. No leader: the bench plays it. Reports its port over IPC,
 * and answers `{ type: 'memory' }` with its memory after two full collections.
 */
import { createServer } from 'node:http'
import path from 'node:path'
import pino from 'pino'
import { readDeploymentFile } from '../protocol/deployment.ts'
import { createYoga } from '../server/createYoga.ts'
import { createDb } from '../server/db/createDb.ts'
import { defaultMaxRequestBodyBytes } from '../server/plugins/use-request-body-guard.ts'
import { connectAssignmentPubSub } from '../server/pubsub.ts'
import { createQueryWorkers } from '../server/queryWorkers.ts'
import { withLeanEventStreams } from '../server/serveEventStreams.ts'
import { serveWebSockets } from '../server/serveWebSockets.ts'
import { benchEnv, reportToBench } from './forkServerProcess.ts'

const env = (name: string): string => benchEnv('bench/apiServer.ts', name)

const databaseUrl = env('BENCH_DATABASE_URL')
const deployment = readDeploymentFile(env('BENCH_DEPLOYMENT_PATH'))
const log = pino({ level: 'warn' })
const { db } = createDb({ databaseUrl })
const pubsub = await connectAssignmentPubSub({ databaseUrl, scope: env('BENCH_BUS_SCOPE'), log })
const dataDir = path.join(env('BENCH_TMP_DIR'), 'data')
const viewsSchema = env('BENCH_VIEWS_SCHEMA')
// One query thread for the costliest queries unless the bench asks for none, as `startServer` runs it.
const queryThreads = Number(process.env.BENCH_QUERY_THREADS ?? 1)
const queryWorkers = queryThreads
  ? createQueryWorkers({ settings: { databaseUrl, viewsSchema, deployment, dataDir }, size: queryThreads, log })
  : undefined
const { yoga } = createYoga({
  db,
  viewsSchema,
  deployment,
  dataDir,
  queryWorkers,
  pubsub,
  log,
  // On unless the bench asks for the server without it (its uncached side).
  cacheResponses: process.env.BENCH_CACHE_RESPONSES !== '0',
})
// SSE subscriptions past Yoga's HTTP layer, as `startServer` serves them, unless the bench asks for Yoga's own path.
const server = createServer(
  process.env.BENCH_LEAN_SSE === '0' ? yoga : withLeanEventStreams(yoga, { maxBodyBytes: defaultMaxRequestBodyBytes, log }),
)
server.requestTimeout = 0
serveWebSockets({ server, yoga })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))

reportToBench(server)
