import { readFileSync } from 'node:fs'
import type { Hex } from 'viem'
import { deploymentFileOf } from '../contracts/deploy.ts'
import { readDeploymentFile } from '../protocol/deployment.ts'
import { heartbeatDomain } from '../protocol/heartbeat.ts'
import { defaultBlobMemoryBytes, defaultBlobQuotaBytes, defaultMaxBlobBytes } from './blobs/blobStore.ts'
import { defaultBlobTtlSeconds } from './blobs/sweepBlobs.ts'
import { ServerConfigError } from './serverConfigError.ts'
import type { StartServerParameters } from './startServer.ts'

/**
 * `startServer` parameters from `TESSERA_*` variables (the CLI layers flags and a config file on
 * top of this):
 * - `DATABASE_URL` (required), `TESSERA_VIEWS_SCHEMA` (default `chain`)
 * - `TESSERA_RPC_URL` (default `http://127.0.0.1:8545`)
 * - `TESSERA_DEPLOYMENT` (path of the deployment JSON) or `TESSERA_CHAIN_ID` (reads `contracts/deployments/<id>.json`, default 31337)
 * - `TESSERA_SERVER_KEY` or `TESSERA_SERVER_KEY_FILE` (matcher/keeper key; optional)
 * - `TESSERA_SERVER_PORT` (default 4000), `TESSERA_DATA_DIR` (default `.tessera/server`)
 * - `REDIS_URL` (optional: share live events through Redis instead of Postgres LISTEN/NOTIFY; every replica of a
 *   deployment must agree, see `startServer`), `TESSERA_MAX_BLOB_BYTES` (default 64 MiB),
 *   `TESSERA_BLOB_QUOTA_BYTES` (bytes an account may hold in blobs no job references yet, default 1 GiB),
 *   `TESSERA_BLOB_TTL_SECONDS` (how long an unreferenced blob is kept after its last upload, default a day),
 *   `TESSERA_BLOB_MEMORY_BYTES` (small blobs kept in memory by each of the server's and the leader's threads, default
 *   32 MiB; 0: none), `TESSERA_LEADER` (`false` to never lead),
 *   `TESSERA_LEADER_CONFIRMATIONS` (blocks deep the leader watches its transactions, default 12)
 * - `TESSERA_SERVER_DOMAIN` (the host[:port] agents reach the server at, which their heartbeats are signed for; default:
 *   the host each request was addressed to, see `createYoga`'s `domain`)
 * - `TESSERA_WEB_DIR` (the built dashboard served at `/`, default `web/dist`; `none`: no page),
 *   `TESSERA_PUBLIC_RPC_URL` (a JSON-RPC URL the dashboard's visitors may send through: published to every one of
 *   them, so never one carrying a key; default none)
 */
export function serverConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<StartServerParameters, 'log'> {
  const databaseUrl = env.DATABASE_URL ?? env.TESSERA_DATABASE_URL
  if (!databaseUrl) throw new ServerConfigError('DATABASE_URL is required (a Postgres connection string)')
  const deployment = readDeploymentFile(env.TESSERA_DEPLOYMENT ?? deploymentFileOf(Number(env.TESSERA_CHAIN_ID ?? 31337)))
  let serverKey = env.TESSERA_SERVER_KEY as Hex | undefined
  if (!serverKey && env.TESSERA_SERVER_KEY_FILE) serverKey = readFileSync(env.TESSERA_SERVER_KEY_FILE, 'utf8').trim() as Hex
  if (serverKey && !/^0x[0-9a-fA-F]{64}$/.test(serverKey))
    throw new ServerConfigError('TESSERA_SERVER_KEY must be a 0x-prefixed 32-byte hex private key')
  const int = (name: string, fallback: number) => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < 0) throw new ServerConfigError(`${name} must be a non-negative integer, got "${raw}"`)
    return n
  }
  return {
    databaseUrl,
    domain: env.TESSERA_SERVER_DOMAIN ? serverDomain(env.TESSERA_SERVER_DOMAIN) : undefined,
    viewsSchema: env.TESSERA_VIEWS_SCHEMA ?? 'chain',
    rpcUrl: env.TESSERA_RPC_URL ?? 'http://127.0.0.1:8545',
    deployment,
    serverKey,
    port: int('TESSERA_SERVER_PORT', 4000),
    host: env.TESSERA_SERVER_HOST ?? '127.0.0.1',
    dataDir: env.TESSERA_DATA_DIR ?? '.tessera/server',
    redisUrl: env.REDIS_URL || undefined,
    maxBlobBytes: int('TESSERA_MAX_BLOB_BYTES', defaultMaxBlobBytes),
    blobQuotaBytes: int('TESSERA_BLOB_QUOTA_BYTES', defaultBlobQuotaBytes),
    blobTtlSeconds: int('TESSERA_BLOB_TTL_SECONDS', defaultBlobTtlSeconds),
    blobMemoryBytes: int('TESSERA_BLOB_MEMORY_BYTES', defaultBlobMemoryBytes),
    leader: env.TESSERA_LEADER !== 'false',
    confirmations: int('TESSERA_LEADER_CONFIRMATIONS', 12),
    web:
      env.TESSERA_WEB_DIR === 'none'
        ? false
        : { dir: env.TESSERA_WEB_DIR || undefined, publicRpcUrl: publicRpcUrl(env.TESSERA_PUBLIC_RPC_URL) },
  }
}

/** `TESSERA_PUBLIC_RPC_URL` when set: an http(s) URL, or a ServerConfigError. */
function publicRpcUrl(value: string | undefined): string | undefined {
  if (!value) return undefined
  const url = URL.canParse(value) ? new URL(value) : undefined
  if (!url || !/^https?:$/.test(url.protocol)) throw new ServerConfigError(`TESSERA_PUBLIC_RPC_URL must be an http(s) URL, got "${value}"`)
  return value
}

/** `TESSERA_SERVER_DOMAIN` as agents' heartbeats carry it (`heartbeatDomain`), or a ServerConfigError when it isn't a host. */
function serverDomain(value: string): string {
  // Agents sign the URL's host, which leaves out the scheme's default port.
  const domain = value
    .trim()
    .toLowerCase()
    .replace(/:(80|443)$/, '')
  let host: string | undefined
  try {
    host = heartbeatDomain(`http://${domain}`)
  } catch {}
  // The URL parser would also take a scheme, a path or user info: what it kept must be all there was.
  if (!host || host !== domain)
    throw new ServerConfigError(`TESSERA_SERVER_DOMAIN must be a host with an optional :port (no scheme or path), got "${value}"`)
  return host
}
