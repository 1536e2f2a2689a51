/**
 * `npx tsx indexer/runIndexer.ts` runs `tessera indexer`, configured as the CLI is (cli/settings.ts): `DATABASE_URL`,
 * `TESSERA_RPC_URL`, `TESSERA_DEPLOYMENT` (or `TESSERA_CHAIN_ID` for contracts/deployments/<id>.json),
 * `TESSERA_VIEWS_SCHEMA`, `TESSERA_PONDER_SCHEMA`, `TESSERA_INDEXER_PORT`, or their flags after the file name.
 */
process.argv.splice(2, 0, 'indexer')
await import('../cli/tessera.ts')
