import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import pg from 'pg'
import { TesseraError } from '../protocol/errors.ts'
import { sleep } from '../protocol/retry.ts'

/** Repository root: Ponder runs with the root as cwd and `--root indexer` (or the caller's `root`). */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The Ponder CLI installed in the root package. */
const ponderBin = path.join(repoRoot, 'node_modules', '.bin', 'ponder')

export type StartPonderParameters = {
  /** Postgres connection string; Ponder writes `schema` and the views in `viewsSchema` there. */
  databaseUrl: string
  rpcUrl: string
  chainId: number
  /** The deployment JSON written by contracts/deploy.ts (addresses and start blocks). */
  deploymentPath: string
  /**
   * Ponder's private schema (≤ 45 characters). Ponder 0.16 refuses a schema that a different build used
   * (other config, addresses, schema or handlers) and resumes ("crash recovery") from one that the same build used,
   * which is wrong against a fresh chain: `startIndexer` picks it by `ponderSchemaName` (one per chain instance).
   */
  schema: string
  /** Where Ponder publishes stable views of its tables once the backfill is done (`chain` by default elsewhere). */
  viewsSchema: string
  /** Port of Ponder's HTTP server (`/health`, `/ready`, `/status`, `/metrics`, `/graphql`), bound to 127.0.0.1. */
  port: number
  /** Receives every line Ponder prints (stdout and stderr, colours stripped). */
  log?: (line: string) => void
  /**
   * The Ponder app to run, relative to the repository root (default `indexer`): another app reading the same
   * environment (bench/noopIndexer, the indexer bench's peer).
   */
  root?: string
  /** More environment for Ponder, over ours (`TESSERA_POLLING_INTERVAL_MS`, say). */
  env?: Record<string, string>
  /** How long to wait for `/ready` and the chain head (default 120 s). */
  readyTimeoutMs?: number
}

export type StartPonderReturnType = {
  /** Base URL of Ponder's HTTP server. */
  url: string
  /** The child process, for callers that want to watch it. */
  process: ChildProcess
  /** SIGTERMs Ponder and resolves once it exited (SIGKILL after 10 s) and its schema lock is released. */
  stop: () => Promise<void>
  /**
   * Whether Ponder still runs, and the last error it printed (an ERROR record, or a WARN of a failed operation, with
   * its first detail line; prefixed with the exit code once Ponder exited on its own). The server's `/ready` names it.
   */
  state: () => PonderState
}

/** What the process hosting Ponder knows of it: see {@link StartPonderReturnType.state}. */
export type PonderState = { running: boolean; lastError?: string }

/** A record of Ponder's pretty log: `HH:MM:SS.mmm LEVEL message`; a line that isn't one continues the last record. */
const logRecord = /^\d{2}:\d{2}:\d{2}\.\d{3} ([A-Z]+)\s+(.*)$/

/**
 * Ponder exited, did not become ready, or found its port taken. Not retryable as is: the message ends with Ponder's
 * last lines, which `details` holds alone.
 */
export class PonderStartError extends TesseraError {
  override name = 'PonderStartError'
  constructor(message: string, parameters: { lastLines: string[]; cause?: unknown }) {
    const details = parameters.lastLines.join('\n')
    super(details ? `${message}\n--- last Ponder output ---\n${details}` : message, { details, cause: parameters.cause })
  }
}

const maxKeptLines = 40

/**
 * Spawns `ponder start --root <root> --schema <schema> --views-schema <viewsSchema>` (root `indexer` unless told
 * otherwise) and resolves once its `/ready` answers 200 (Ponder says so after the backfill, right after it (re)creates
 * the views) and its `/status` shows the chain head of the moment indexed, so the views hold everything already on
 * chain. Rejects with a `PonderStartError` carrying Ponder's last output when it exits first or misses the deadline.
 */
export async function startPonder(parameters: StartPonderParameters): Promise<StartPonderReturnType> {
  const { databaseUrl, rpcUrl, chainId, deploymentPath, schema, viewsSchema, port, log, root = 'indexer' } = parameters
  const readyTimeoutMs = parameters.readyTimeoutMs ?? 120_000
  const host = '127.0.0.1'
  const url = `http://${host}:${port}`

  // Otherwise an older Ponder still on the port would answer /ready for the new one.
  await assertPortFree(host, port)

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TESSERA_RPC_URL: rpcUrl,
    TESSERA_CHAIN_ID: String(chainId),
    TESSERA_DEPLOYMENT: path.resolve(deploymentPath),
    TESSERA_VIEWS_SCHEMA: viewsSchema,
    PONDER_TELEMETRY_DISABLED: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    ...parameters.env,
  }
  // Ponder prefers $PORT over --port, and would read another database from these.
  delete env.PORT
  delete env.DATABASE_PRIVATE_URL

  const args = [
    ponderBin,
    '--root',
    root,
    'start',
    '--schema',
    schema,
    '--views-schema',
    viewsSchema,
    '--port',
    String(port),
    '--hostname',
    host,
  ]
  // process.execPath: the Node 24 running us, not whatever `node` is first on PATH.
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })

  const lastLines: string[] = []
  // Ponder prints an error as a record line, then the error itself on the next line.
  let lastError: string | undefined
  let errorPending = false
  const noteError = (line: string) => {
    const record = logRecord.exec(line)
    if (record) {
      const [, level, message] = record
      errorPending = level === 'ERROR' || (level === 'WARN' && message.startsWith('Failed'))
      if (errorPending) lastError = message
    } else if (errorPending) {
      lastError = `${lastError}: ${line.trim()}`
      errorPending = false
    }
  }
  const onData = (buffered: { rest: string }) => (chunk: Buffer) => {
    const text = buffered.rest + chunk.toString('utf8')
    const lines = text.split('\n')
    buffered.rest = lines.pop() ?? ''
    for (const raw of lines) {
      const line = stripVTControlCharacters(raw).trimEnd()
      if (!line) continue
      lastLines.push(line)
      if (lastLines.length > maxKeptLines) lastLines.shift()
      noteError(line)
      log?.(line)
    }
  }
  child.stdout?.on('data', onData({ rest: '' }))
  child.stderr?.on('data', onData({ rest: '' }))

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))))
  let exitCode: number | null | undefined
  void exited.then((code) => {
    exitCode = code
  })

  let stopping = false
  const state = (): PonderState => {
    if (exitCode === undefined) return { running: true, lastError }
    const exited = stopping ? 'Ponder was stopped' : `Ponder exited with code ${exitCode}`
    return { running: false, lastError: lastError ? `${exited} after: ${lastError}` : exited }
  }

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    stopping = true
    child.kill('SIGTERM')
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(killTimer)
    await releaseSchemaLock(databaseUrl, schema)
  }

  const deadline = Date.now() + readyTimeoutMs
  /** Polls `check` until it holds; throws when Ponder exits or the deadline passes. */
  const waitUntil = async (what: string, check: () => Promise<boolean>) => {
    for (;;) {
      if (exitCode !== undefined) {
        throw new PonderStartError(`Ponder exited with code ${exitCode} before ${what}`, { lastLines })
      }
      try {
        if (await check()) return
      } catch {}
      if (Date.now() > deadline) {
        await stop()
        throw new PonderStartError(`Ponder at ${url}: timed out after ${readyTimeoutMs} ms waiting until ${what}`, { lastLines })
      }
      await sleep(100)
    }
  }

  await waitUntil('/ready answered 200', async () => {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) })
    return response.status === 200
  })
  // /ready only covers the backfill of finalized blocks. On a devnet every block is younger than Ponder's
  // finality depth, so events already on chain arrive through live indexing, after /ready: wait for the head.
  const head = await blockNumber(rpcUrl)
  await waitUntil(`it indexed block ${head}`, async () => {
    const response = await fetch(`${url}/status`, { signal: AbortSignal.timeout(2_000) })
    const status = (await response.json()) as Record<string, { id: number; block: { number: number } }>
    const chain = Object.values(status).find((c) => c.id === chainId)
    return chain !== undefined && chain.block.number >= head
  })
  return { url, process: child, stop, state }
}

/**
 * Clears the lock flag Ponder keeps in `<schema>._ponder_meta`. Ponder 0.16.10 means to do this on shutdown but
 * leaves it set, so a restart on the same schema would wait out the 25 s heartbeat timeout. Only called once our
 * Ponder has exited; best effort.
 */
async function releaseSchemaLock(databaseUrl: string, schema: string) {
  const client = new pg.Client({ connectionString: databaseUrl })
  try {
    await client.connect()
    await client.query(
      `update "${schema.replaceAll('"', '""')}"._ponder_meta set value = jsonb_set(value, '{is_locked}', '0') where key = 'app'`,
    )
  } catch {
    // No schema yet (Ponder failed early) or no database: nothing to release.
  } finally {
    await client.end().catch(() => {})
  }
}

async function assertPortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer()
    server.once('error', (error) =>
      reject(new PonderStartError(`Port ${port} on ${host} is in use: ${error.message}`, { lastLines: [], cause: error })),
    )
    server.listen(port, host, () => server.close(() => resolve()))
  })
}

async function blockNumber(rpcUrl: string): Promise<number> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }),
  })
  const { result } = (await response.json()) as { result: string }
  return Number(BigInt(result))
}
