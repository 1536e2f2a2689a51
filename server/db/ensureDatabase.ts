import pg from 'pg'
import { ServerConfigError } from '../serverConfigError.ts'

export type EnsureDatabaseParameters = {
  databaseUrl: string
  /** Create the database when it is missing (from the server's `postgres` database, with the same credentials). */
  create: boolean
  /** How the URL was given, for messages: `--database-url or DATABASE_URL`. */
  setBy: string
}

export type EnsureDatabaseReturnType = { created: boolean }

/** Where a URL points, without its password: `postgres@127.0.0.1:5432/tessera`. */
export function describeDatabaseUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl)
  return `${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.host}${url.pathname}`
}

/**
 * Checks, before anything else starts, that the database `databaseUrl` names exists and takes connections; a missing
 * one is created when `create` allows (and the Postgres role may). Throws a {@link ServerConfigError} that names the
 * database (never the password) and how to fix it: Postgres unreachable, credentials refused, the database missing,
 * or the role not allowed to create it.
 */
export async function ensureDatabase(parameters: EnsureDatabaseParameters): Promise<EnsureDatabaseReturnType> {
  const { databaseUrl, setBy } = parameters
  const where = describeDatabaseUrl(databaseUrl)
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'postgres'
  const fail = (what: string, cause: unknown, hint?: string) =>
    new ServerConfigError(`${what} (${where}, set by ${setBy}): ${reasonOf(cause)}`, { cause, metaMessages: hint ? [hint] : undefined })
  try {
    await query(databaseUrl, 'select 1')
    return { created: false }
  } catch (error) {
    if (codeOf(error) !== '3D000') throw fail('cannot connect to Postgres', error)
    if (!parameters.create)
      throw fail(`the database "${name}" does not exist`, error, 'Create it, or leave out --no-create-database to have it created.')
  }
  const admin = new URL(databaseUrl)
  admin.pathname = '/postgres'
  try {
    await query(admin.toString(), `create database "${name.replaceAll('"', '""')}"`)
  } catch (error) {
    // Another process created it meanwhile.
    if (codeOf(error) === '42P04') return { created: false }
    throw fail(
      `the database "${name}" does not exist and could not be created`,
      error,
      codeOf(error) === '42501' ? 'The Postgres role may not create databases: create it yourself, or grant CREATEDB.' : undefined,
    )
  }
  return { created: true }
}

async function query(connectionString: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query(sql)
  } finally {
    await client.end().catch(() => {})
  }
}

const codeOf = (error: unknown) => (error as { code?: unknown })?.code
const reasonOf = (error: unknown) => {
  const code = codeOf(error)
  const message = error instanceof Error ? error.message : String(error)
  if (!message) return String(code)
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message
}
