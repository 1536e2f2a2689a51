import { readFileSync } from 'node:fs'
import type { Hex } from 'viem'
import { deploymentFileOf } from '../contracts/deploy.ts'
import { readDeploymentFile } from '../protocol/deployment.ts'
import { defaultMaxBlobBytes } from './blobs/blobStore.ts'
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
 *   deployment must agree, see `startServer`), `TESSERA_MAX_BLOB_BYTES` (default 64 MiB), `TESSERA_LEADER` (`false` to never lead),
 *   `TESSERA_LEADER_CONFIRMATIONS` (blocks deep the leader watches its transactions, default 12)
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
    viewsSchema: env.TESSERA_VIEWS_SCHEMA ?? 'chain',
    rpcUrl: env.TESSERA_RPC_URL ?? 'http://127.0.0.1:8545',
    deployment,
    serverKey,
    port: int('TESSERA_SERVER_PORT', 4000),
    host: env.TESSERA_SERVER_HOST ?? '127.0.0.1',
    dataDir: env.TESSERA_DATA_DIR ?? '.tessera/server',
    redisUrl: env.REDIS_URL || undefined,
    maxBlobBytes: int('TESSERA_MAX_BLOB_BYTES', defaultMaxBlobBytes),
    leader: env.TESSERA_LEADER !== 'false',
    confirmations: int('TESSERA_LEADER_CONFIRMATIONS', 12),
  }
}
