import type { BlobTable } from './tables/blob.table.ts'
import type { FeedCursorTable } from './tables/feedCursor.table.ts'
import type { HeartbeatTable } from './tables/heartbeat.table.ts'
import type {
  AssignmentTable,
  EpochTable,
  FeeBurnTable,
  JobTable,
  PaymentTable,
  PonderCheckpointTable,
  ProviderTable,
} from './tables/views.table.ts'

/** The indexer's tables, read through the views schema (`db.withSchema(viewsSchema)`). */
export interface ViewsDatabase {
  provider: ProviderTable
  job: JobTable
  assignment: AssignmentTable
  payment: PaymentTable
  feeBurn: FeeBurnTable
  epoch: EpochTable
  _ponderCheckpoint: PonderCheckpointTable
}

/** The server-owned `app` schema (Kysely migrations in `./migrations`). */
export interface AppDatabase {
  'app.blob': BlobTable
  'app.heartbeat': HeartbeatTable
  'app.feedCursor': FeedCursorTable
}

/** Everything the server reads and writes through one Kysely instance. */
export interface Database extends ViewsDatabase, AppDatabase {}
