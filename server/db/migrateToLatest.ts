import type { Kysely } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'
import { TesseraError } from '../../protocol/errors.ts'
import type { Database } from './database.ts'
import * as appTables from './migrations/2026-11-24T00-00-app-tables.ts'
import * as publishedAssignments from './migrations/2026-12-02T00-00-published-assignments.ts'
import * as heartbeatModels from './migrations/2026-12-10T00-00-heartbeat-models.ts'
import * as gatewayRequests from './migrations/2026-12-11T00-00-gateway-requests.ts'
import * as siweAndBlobAccess from './migrations/2026-12-13T00-00-siwe-and-blob-access.ts'
import * as blobKind from './migrations/2026-12-14T00-00-blob-kind.ts'

/** Every migration of the `app` schema, by name; names sort in the order they apply. */
const migrations: Record<string, Migration> = {
  '2026-11-24T00-00-app-tables': appTables,
  '2026-12-02T00-00-published-assignments': publishedAssignments,
  '2026-12-10T00-00-heartbeat-models': heartbeatModels,
  '2026-12-11T00-00-gateway-requests': gatewayRequests,
  '2026-12-13T00-00-siwe-and-blob-access': siweAndBlobAccess,
  '2026-12-14T00-00-blob-kind': blobKind,
}

const provider: MigrationProvider = { getMigrations: async () => migrations }

/** A migration of the `app` schema failed (and was rolled back); `cause` is the database's error. Not retryable as-is. */
export class MigrationError extends TesseraError {
  override name = 'MigrationError'
}

/**
 * Brings the `app` schema up to date. Kysely's migrator takes its own lock, so replicas starting
 * together are safe. Throws a {@link MigrationError} naming the first failing migration.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  await db.schema.createSchema('app').ifNotExists().execute()
  const migrator = new Migrator({ db, provider, migrationTableSchema: 'app' })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error) {
    const details = error instanceof Error ? error.message : String(error)
    throw new MigrationError(`app schema migration ${failed?.migrationName ?? ''} failed: ${details}`, { cause: error, details })
  }
}
