/**
 * Runs the indexer on its own, configured from the environment (the dev stack uses `startPonder` directly):
 *
 *   DATABASE_URL=postgres://… npx tsx indexer/runIndexer.ts
 *
 * DATABASE_URL (required), TESSERA_RPC_URL (http://127.0.0.1:8545), TESSERA_CHAIN_ID (31337), TESSERA_DEPLOYMENT
 * (contracts/deployments/<chainId>.json), TESSERA_VIEWS_SCHEMA (chain), TESSERA_PONDER_SCHEMA (default
 * `ponderSchemaName`: one per chain, deployment and indexer code), TESSERA_INDEXER_PORT (42069).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ponderSchemaName } from './ponderSchemaName.ts'
import { startPonder } from './startPonder.ts'

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL
  if (!databaseUrl) throw new Error('DATABASE_URL is not set')
  const rpcUrl = process.env.TESSERA_RPC_URL || 'http://127.0.0.1:8545'
  const chainId = Number(process.env.TESSERA_CHAIN_ID || 31337)
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const deploymentPath = process.env.TESSERA_DEPLOYMENT || path.join(repoRoot, 'contracts', 'deployments', `${chainId}.json`)
  const schema = process.env.TESSERA_PONDER_SCHEMA || (await ponderSchemaName({ rpcUrl, deploymentPath }))
  const viewsSchema = process.env.TESSERA_VIEWS_SCHEMA || 'chain'
  const port = Number(process.env.TESSERA_INDEXER_PORT || 42069)

  const ponder = await startPonder({
    databaseUrl,
    rpcUrl,
    chainId,
    deploymentPath,
    schema,
    viewsSchema,
    port,
    log: (line) => console.log(line),
  })
  console.log(`indexer ready at ${ponder.url} (schema ${schema}, views ${viewsSchema})`)
  // Ponder dying on its own ends us with its code; a signal stops it first.
  const onExit = (code: number | null) => process.exit(code ?? 1)
  ponder.process.once('exit', onExit)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      ponder.process.off('exit', onExit)
      void ponder.stop().then(() => process.exit(0))
    })
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
