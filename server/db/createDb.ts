import { createHash } from 'node:crypto'
import { CamelCasePlugin, type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from './database.ts'

/** The statements {@link runPrepared} named, by their SQL text. */
const preparedNames = new Map<string, string>()

/**
 * Runs `query`'s statement (its SQL text, whatever its parameters) as a named prepared statement on every connection
 * of the pools {@link createDb} makes: each connection parses it once, and Postgres plans it once for all once a
 * generic plan does as well as the custom ones (it decides after five runs). For hot statements that cost more to plan
 * than to run (views, subqueries): the blob route's session lookup spent four fifths of its time in parse and plan.
 */
export function runPrepared(query: Pick<CompiledQuery, 'sql'>): void {
  if (!preparedNames.has(query.sql))
    preparedNames.set(query.sql, `tessera_${createHash('sha256').update(query.sql).digest('hex').slice(0, 16)}`)
}

/** Makes `client` send the statements {@link runPrepared} named under their names; every other goes as it came. */
function namePrepared(client: pg.PoolClient) {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  client.query = ((...args: unknown[]) => {
    const [text, values] = args
    const name = typeof text === 'string' ? preparedNames.get(text) : undefined
    return name && Array.isArray(values) && args.length === 2 ? query({ name, text, values }) : query(...args)
  }) as typeof client.query
}

/** A Kysely instance over a pg pool, with snake_case ↔ camelCase mapping. */
export function createDb(parameters: { databaseUrl: string; max?: number }): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: parameters.databaseUrl, max: parameters.max ?? 10 })
  // A pool error (e.g. the server restarting) must not crash the process; queries surface it.
  pool.on('error', () => {})
  pool.on('connect', namePrepared)
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] })
  return { db, pool }
}
