import pino from 'pino'
import { serverConfigFromEnv } from './serverConfigFromEnv.ts'
import { startServer } from './startServer.ts'

/**
 * `npx tsx server/main.ts`: runs one server replica configured from the environment until SIGINT/SIGTERM. Exits 1,
 * with the error logged, when the configuration is refused or the server cannot start.
 */
const log = pino({ name: 'tessera-server', level: process.env.TESSERA_LOG_LEVEL ?? 'info' })
try {
  const server = await startServer({ ...serverConfigFromEnv(), log })
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down')
    await server.stop()
    process.exit(0)
  }
  process.once('SIGINT', () => void shutdown('SIGINT'))
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
} catch (error) {
  log.fatal({ err: error }, 'server failed to start')
  process.exit(1)
}
