import pino from 'pino'
import { serverConfigFromEnv } from './serverConfigFromEnv.ts'
import { startServer } from './startServer.ts'

/**
 * `npx tsx server/main.ts`: runs one server replica configured from the environment until SIGINT/SIGTERM. Exits 1,
 * with the error logged, when the configuration is refused or the server cannot start.
 */
const log = pino({ name: 'tessera-server', level: process.env.TESSERA_LOG_LEVEL ?? 'info' })
try {
  const server = await startServer({ ...serverConfigFromEnv(), challenges: challengesFromEnv(), log })
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

/**
 * The leader's challenge jobs: on when `TESSERA_CHALLENGE_INTERVAL_SECONDS` names the chain seconds between rounds
 * (a positive integer), off when it is unset.
 */
function challengesFromEnv(): { intervalSeconds: number } | undefined {
  const value = process.env.TESSERA_CHALLENGE_INTERVAL_SECONDS
  if (value === undefined || value === '') return undefined
  const intervalSeconds = Number(value)
  if (!Number.isSafeInteger(intervalSeconds) || intervalSeconds < 1)
    throw new Error(`TESSERA_CHALLENGE_INTERVAL_SECONDS must be a positive integer of seconds, got ${JSON.stringify(value)}`)
  return { intervalSeconds }
}
