import pg from 'pg'
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
}

/**
 * Starts the indexer for one deployment: picks its Ponder schema by {@link ponderSchemaName} (a restart on the same
 * chain and code resumes, a new chain or code gets a fresh schema), optionally prunes the other `ponder_*` schemas,
 * and starts Ponder, resolving once it has indexed the chain head. Rejects with `DeploymentError` for a missing or
 * invalid deployment file, `PonderStartError` when Ponder does not come up.
 */
export async function startIndexer(parameters: StartIndexerParameters): Promise<StartIndexerReturnType> {
  const { databaseUrl, rpcUrl, deploymentPath, pruneOtherSchemas, ...rest } = parameters
  const deployment = readDeploymentFile(deploymentPath)
  if (parameters.chainId !== undefined && parameters.chainId !== deployment.chainId) {
    throw new DeploymentError(`the deployment ${deploymentPath} is for chain ${deployment.chainId}, not ${parameters.chainId}`)
  }
  const schema = parameters.schema ?? (await ponderSchemaName({ rpcUrl, deploymentPath }))
  const prunedSchemas = pruneOtherSchemas ? await dropOtherPonderSchemas({ databaseUrl, keep: schema }) : []
  const ponder = await startPonder({ ...rest, databaseUrl, rpcUrl, deploymentPath, chainId: deployment.chainId, schema })
  return { ...ponder, schema, prunedSchemas }
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
