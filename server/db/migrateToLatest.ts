import type { Kysely } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'
import * as appTables from './migrations/2026-11-24T00-00-app-tables.ts'

/** Every migration of the `app` schema, by name; names sort in the order they apply. */
const migrations: Record<string, Migration> = {
  '2026-11-24T00-00-app-tables': appTables,
}

const provider: MigrationProvider = { getMigrations: async () => migrations }

/**
 * Brings the `app` schema up to date. Kysely's migrator takes its own lock, so replicas starting
 * together are safe. Throws the first failing migration's error.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  await db.schema.createSchema('app').ifNotExists().execute()
  const migrator = new Migrator({ db, provider, migrationTableSchema: 'app' })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error)
    throw new Error(`app schema migration ${failed?.migrationName ?? ''} failed: ${String((error as Error).message ?? error)}`, {
      cause: error,
    })
}
