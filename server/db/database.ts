import type { QueryCreator } from 'kysely'
import type { AssignmentTable } from './tables/assignment.table.ts'
import type { AuditTable } from './tables/audit.table.ts'
import type { BlobTable } from './tables/blob.table.ts'
import type { BlobUploadTable } from './tables/blobUpload.table.ts'
import type { ChallengeRecordTable } from './tables/challengeRecord.table.ts'
import type { ChallengeRoundTable } from './tables/challengeRound.table.ts'
import type { DisagreementTable } from './tables/disagreement.table.ts'
import type { EpochTable } from './tables/epoch.table.ts'
import type { FeeBurnTable } from './tables/feeBurn.table.ts'
import type { FeedCursorTable } from './tables/feedCursor.table.ts'
import type { GatewayRequestTable } from './tables/gatewayRequest.table.ts'
import type { GatewayTransferTable } from './tables/gatewayTransfer.table.ts'
import type { HeartbeatTable } from './tables/heartbeat.table.ts'
import type { JobTable } from './tables/job.table.ts'
import type { PaymentTable } from './tables/payment.table.ts'
import type { PonderCheckpointTable } from './tables/ponderCheckpoint.table.ts'
import type { ProviderTable } from './tables/provider.table.ts'
import type { PublishedAssignmentTable } from './tables/publishedAssignment.table.ts'
import type { RewardClaimTable } from './tables/rewardClaim.table.ts'
import type { SessionTable } from './tables/session.table.ts'
import type { SiweNonceTable } from './tables/siweNonce.table.ts'
import type { SlashTable } from './tables/slash.table.ts'

/** The indexer's tables, read through the views schema (`db.withSchema(viewsSchema)`), camel-cased by `CamelCasePlugin`. */
export interface ViewsDatabase {
  provider: ProviderTable
  job: JobTable
  assignment: AssignmentTable
  payment: PaymentTable
  disagreement: DisagreementTable
  audit: AuditTable
  slash: SlashTable
  feeBurn: FeeBurnTable
  epoch: EpochTable
  rewardClaim: RewardClaimTable
  challengeRound: ChallengeRoundTable
  challengeRecord: ChallengeRecordTable
  gatewayTransfer: GatewayTransferTable
  _ponderCheckpoint: PonderCheckpointTable
}

/** The server-owned `app` schema (Kysely migrations in `./migrations`). */
export interface AppDatabase {
  'app.blob': BlobTable
  'app.blobUpload': BlobUploadTable
  'app.heartbeat': HeartbeatTable
  'app.feedCursor': FeedCursorTable
  'app.publishedAssignment': PublishedAssignmentTable
  'app.gatewayRequest': GatewayRequestTable
  'app.siweNonce': SiweNonceTable
  'app.session': SessionTable
}

/** Everything the server reads and writes through one Kysely instance. */
export interface Database extends ViewsDatabase, AppDatabase {}

/** The views schema as repositories take it: `db.withSchema(viewsSchema)`. */
export type Views = QueryCreator<Database>
