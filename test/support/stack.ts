import pino from 'pino'
import { freePort } from '../../devnet/startAnvil.ts'
import { type Stack, type StartStackParameters, startStack } from '../../devnet/startStack.ts'
import type { TestSystem } from '../../devnet/testSystem.ts'
import { type StartPonderReturnType, startPonder } from '../../indexer/startPonder.ts'

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

/**
 * Ponder indexing `system` (its deployment file at `deploymentPath`) into a fresh schema of `databaseUrl`, with views in
 * `viewsSchema`, on a free port. Its lines are printed when `TESSERA_TEST_VERBOSE` is set.
 */
export async function startTestPonder(
  system: TestSystem,
  parameters: { databaseUrl: string; deploymentPath: string; viewsSchema: string },
): Promise<StartPonderReturnType> {
  return startPonder({
    ...parameters,
    rpcUrl: system.rpcUrl,
    chainId: system.deployment.chainId,
    schema: `ponder_${Date.now().toString(36)}`,
    port: await freePort(),
    log: process.env.TESSERA_TEST_VERBOSE ? (line) => console.log(`[ponder] ${line}`) : undefined,
  })
}
