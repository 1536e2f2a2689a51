import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { PublicClient } from 'viem'
import type { Deployment } from '../protocol/deployment.ts'
import type { BlobStore } from './blobs/blobStore.ts'
import type { ModelInspector } from './checkJob.ts'
import type { Database, Views } from './db/database.ts'
import type { EventJobs } from './eventJobs.ts'
import type { IndexWatcher } from './indexWatcher.ts'
import type { AssignmentPubSub } from './pubsub.ts'

/** What every resolver gets; built once per server, shared across requests (loaders are per request via Pothos). */
export type ServerContext = {
  db: Kysely<Database>
  /** The indexer's tables, read-only: `views.selectFrom('job')`. */
  views: Views
  viewsSchema: string
  deployment: Deployment
  /**
   * The domain heartbeats are signed for (`heartbeatMessage`): the configured one, else the host the request was
   * addressed to (`createYoga` sets it per request); absent where neither is known.
   */
  domain?: string
  pubsub: AssignmentPubSub
  /** The job of a live event, loaded once for every subscriber it reaches (not per request). */
  eventJobs: EventJobs
  /** The indexed head, watched jobs and closing epochs, read once per process for all subscribers. */
  indexWatcher: IndexWatcher
  /** Chain reads (latest block for `_meta`); absent in schema-only tests. */
  publicClient?: PublicClient
  log: Logger
  /** The HTTP request being served (Yoga puts it in every context); absent over WebSocket and in query threads. */
  request?: Request
  /** Wall clock in unix seconds; injectable for tests. */
  now: () => number
  /** Stored models and inputs, for `checkJob`. */
  blobs?: BlobStore
  /** Loads models to check jobs before escrow moves; absent where nothing may run onnxruntime (schema-only tests). */
  inspector?: ModelInspector
}
