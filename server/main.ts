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
 * The leader's challenge jobs: on when `TESSERA_CHALLENGE_EPOCHS` names the emission epochs between rounds (a positive
 * integer; 1 is a round each epoch), off when it is unset.
 */
function challengesFromEnv(): { epochsPerRound: number } | undefined {
  const value = process.env.TESSERA_CHALLENGE_EPOCHS
  if (value === undefined || value === '') return undefined
  const epochsPerRound = Number(value)
  if (!Number.isSafeInteger(epochsPerRound) || epochsPerRound < 1)
    throw new Error(`TESSERA_CHALLENGE_EPOCHS must be a positive integer of epochs, got ${JSON.stringify(value)}`)
  return { epochsPerRound }
}
