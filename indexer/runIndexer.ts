/**
 * Runs the indexer on its own, configured from the environment (the dev stack calls `startIndexer` itself):
 *
 *   DATABASE_URL=postgres://… npx tsx indexer/runIndexer.ts
 *
 * DATABASE_URL (required), TESSERA_RPC_URL (http://127.0.0.1:8545), TESSERA_DEPLOYMENT
 * (contracts/deployments/<TESSERA_CHAIN_ID>.json), TESSERA_CHAIN_ID (31337; only picks the default deployment file),
 * TESSERA_VIEWS_SCHEMA (chain), TESSERA_PONDER_SCHEMA (default `ponderSchemaName`: one per chain, deployment and
 * indexer code), TESSERA_INDEXER_PORT (42069).
 */
import { deploymentFileOf } from '../contracts/deploy.ts'
import { devnetChainId } from '../protocol/chain.ts'
import { startIndexer } from './startIndexer.ts'

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL
  if (!databaseUrl) throw new Error('DATABASE_URL is not set')
  const rpcUrl = process.env.TESSERA_RPC_URL || 'http://127.0.0.1:8545'
  const deploymentPath = process.env.TESSERA_DEPLOYMENT || deploymentFileOf(Number(process.env.TESSERA_CHAIN_ID || devnetChainId))
  const viewsSchema = process.env.TESSERA_VIEWS_SCHEMA || 'chain'
  const port = Number(process.env.TESSERA_INDEXER_PORT || 42069)

  const indexer = await startIndexer({
    databaseUrl,
    rpcUrl,
    deploymentPath,
    schema: process.env.TESSERA_PONDER_SCHEMA || undefined,
    viewsSchema,
    port,
    log: (line) => console.log(line),
  })
  console.log(`indexer ready at ${indexer.url} (schema ${indexer.schema}, views ${viewsSchema})`)
  // Ponder dying on its own ends us with its code; a signal stops it first.
  const onExit = (code: number | null) => process.exit(code ?? 1)
  indexer.process.once('exit', onExit)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      indexer.process.off('exit', onExit)
      void indexer.stop().then(() => process.exit(0))
    })
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
