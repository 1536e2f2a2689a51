/**
 * `npx tsx server/main.ts` runs `tessera server`: for a container that starts the file directly. Its settings are the
 * CLI's (cli/settings.ts: `DATABASE_URL`, `TESSERA_DEPLOYMENT`, `TESSERA_SERVER_KEY`, `TESSERA_SERVER_PORT`, …, flags
 * after the file name, a `--config` file), read the same way; it logs JSON lines unless `TESSERA_LOG_FORMAT` says
 * otherwise. Exits 1, with the error logged, when the configuration is refused or the server cannot start.
 */
process.env.TESSERA_LOG_FORMAT ||= 'json'
process.argv.splice(2, 0, 'server')
await import('../cli/tessera.ts')
