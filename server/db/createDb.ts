import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from './database.ts'

/** A Kysely instance over a pg pool, with snake_case ↔ camelCase mapping. */
export function createDb(parameters: { databaseUrl: string; max?: number }): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: parameters.databaseUrl, max: parameters.max ?? 10 })
  // A pool error (e.g. the server restarting) must not crash the process; queries surface it.
  pool.on('error', () => {})
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] })
  return { db, pool }
}
