import pg from 'pg'
import { devnetChainId } from '../protocol/chain.ts'
import { DeploymentError, readDeploymentFile } from '../protocol/deployment.ts'
import { ponderSchemaName } from './ponderSchemaName.ts'
import { type StartPonderParameters, type StartPonderReturnType, startPonder } from './startPonder.ts'

export type StartIndexerParameters = Omit<StartPonderParameters, 'schema' | 'chainId'> & {
  /** Checked against the deployment file's chain id; by default taken from it. */
  chainId?: number
  /** Ponder's schema; by default {@link ponderSchemaName}: one per chain instance, deployment and indexer code. */
  schema?: string
  /**
   * Drop every other `ponder_*` schema in the database first (never `ponder_sync`, Ponder's RPC cache), and with them
   * the views still pointing at them. For a dev database that only ever serves the one deployment being indexed:
   * each new devnet gets a new schema name, and the old ones would pile up.
   */
  pruneOtherSchemas?: boolean
}

export type StartIndexerReturnType = StartPonderReturnType & {
  /** The Ponder schema the indexer writes. */
  schema: string
  /** The schemas `pruneOtherSchemas` dropped (empty without it). */
  prunedSchemas: string[]
  /** Rows of Ponder's sync store cleared for the devnet's chain id (0 on any other chain). */
  clearedSyncRows: number
}

/**
 * Starts the indexer for one deployment: picks its Ponder schema by {@link ponderSchemaName} (a restart on the same
 * chain and code resumes, a new chain or code gets a fresh schema), optionally prunes the other `ponder_*` schemas,
 * on the devnet clears Ponder's sync store for its chain id ({@link clearPonderSyncStore}), and starts Ponder,
 * resolving once it has indexed the chain head. Rejects with `DeploymentError` for a missing or invalid deployment
 * file, `PonderStartError` when Ponder does not come up.
 */
export async function startIndexer(parameters: StartIndexerParameters): Promise<StartIndexerReturnType> {
  const { databaseUrl, rpcUrl, deploymentPath, pruneOtherSchemas, ...rest } = parameters
  const deployment = readDeploymentFile(deploymentPath)
  if (parameters.chainId !== undefined && parameters.chainId !== deployment.chainId) {
    throw new DeploymentError(`the deployment ${deploymentPath} is for chain ${deployment.chainId}, not ${parameters.chainId}`)
  }
  const schema = parameters.schema ?? (await ponderSchemaName({ rpcUrl, deploymentPath }))
  const prunedSchemas = pruneOtherSchemas ? await dropOtherPonderSchemas({ databaseUrl, keep: schema }) : []
  const clearedSyncRows =
    deployment.chainId === devnetChainId ? await clearPonderSyncStore({ databaseUrl, chainId: deployment.chainId }) : 0
  const ponder = await startPonder({ ...rest, databaseUrl, rpcUrl, deploymentPath, chainId: deployment.chainId, schema })
  return { ...ponder, schema, prunedSchemas, clearedSyncRows }
}

/**
 * Deletes every row Ponder's sync store (`ponder_sync`, shared by every Ponder app in the database) holds for
 * `chainId` and returns how many. For the devnet only, before Ponder starts: a fresh anvil reuses chain id 31337, the
 * deployer's nonces and so the contract addresses, and the store keys blocks, transactions and logs by (chain id,
 * block number, …), keeping the first row it got. `disableCache` (ponder.config.ts) stops Ponder trusting the cached
 * ranges, but its backfill still writes through the store and reads the events back from it, so an earlier devnet's
 * rows at the same heights would be indexed in place of this one's. Nothing else may index this chain in the database
 * meanwhile; for a restart on the same devnet, Ponder fetches the blocks again.
 */
export async function clearPonderSyncStore(parameters: { databaseUrl: string; chainId: number }): Promise<number> {
  const client = new pg.Client({ connectionString: parameters.databaseUrl })
  await client.connect()
  try {
    // Every table of the store with a chain id, whichever Ponder version created them.
    const { rows } = await client.query<{ table_name: string }>(
      `select table_name from information_schema.columns
       where table_schema = 'ponder_sync' and column_name = 'chain_id' order by table_name`,
    )
    let cleared = 0
    for (const { table_name } of rows) {
      const table = `ponder_sync."${table_name.replaceAll('"', '""')}"`
      cleared += (await client.query(`delete from ${table} where chain_id = $1`, [parameters.chainId])).rowCount ?? 0
    }
    return cleared
  } finally {
    await client.end()
  }
}

/**
 * Drops every `ponder_*` schema but `keep` and `ponder_sync` (with CASCADE: the views built on them go too) and
 * returns their names, sorted.
 */
export async function dropOtherPonderSchemas(parameters: { databaseUrl: string; keep: string }): Promise<string[]> {
  const client = new pg.Client({ connectionString: parameters.databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ nspname: string }>(
      `select nspname from pg_namespace
       where nspname like 'ponder\\_%' and nspname not in ($1, 'ponder_sync')
       order by nspname collate "C"`,
      [parameters.keep],
    )
    for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname.replaceAll('"', '""')}" cascade`)
    return rows.map((row) => row.nspname)
  } finally {
    await client.end()
  }
}
