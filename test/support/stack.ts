import pino from 'pino'
import { freePort } from '../../devnet/startAnvil.ts'
import { type Stack, type StartStackParameters, startStack } from '../../devnet/startStack.ts'

/**
 * `startStack` on free ports with a test logger (silent unless `TESSERA_TEST_LOG` names a level).
 * The caller brings the database and data directory, so it decides what survives a restart.
 */
export async function startTestStack(
  parameters: Omit<StartStackParameters, 'postgresPort' | 'rpcPort' | 'ponderPort' | 'serverPort' | 'log'> & { databaseUrl: string },
): Promise<Stack> {
  return startStack({
    ...parameters,
    postgresPort: 0,
    rpcPort: await freePort(),
    ponderPort: await freePort(),
    serverPort: await freePort(),
    log: pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' }),
  })
}
