import pino from 'pino'
import { type RunAgentReturnType, runAgent } from '../../agent/runAgent.ts'
import { freePort } from '../../devnet/startAnvil.ts'
import { type Stack, type StackAgent, type StartStackParameters, startStack } from '../../devnet/startStack.ts'
import type { TestSystem } from '../../devnet/testSystem.ts'
import { type StartPonderReturnType, startPonder } from '../../indexer/startPonder.ts'
import type { Deployment } from '../../protocol/deployment.ts'

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
    log: testLog(),
  })
}

/** The test logger: silent unless `TESSERA_TEST_LOG` names a level. */
function testLog() {
  return pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
}

/**
 * One more provider agent on a running stack, started as `startStack` starts its own, for a test that needs a provider
 * the stack's agents can't play, or with settings theirs don't take (`confirmations`). Its key must hold TSR to stake:
 * name it in the stack's `spareProviders`. The caller stops it.
 */
export async function startTestAgent(
  stack: Stack,
  agent: StackAgent & { dataDir: string; confirmations?: number },
): Promise<RunAgentReturnType> {
  return runAgent({
    privateKey: agent.privateKey,
    serverUrl: stack.serverUrl,
    rpcUrl: stack.rpcUrl,
    dataDir: agent.dataDir,
    pricePerUnit: agent.pricePerUnit,
    lie: agent.lie,
    confirmations: agent.confirmations,
    log: testLog().child({ part: 'test agent' }),
  })
}

/**
 * Ponder indexing `system` (a test system or a stack; its deployment file at `deploymentPath`) into a fresh schema of
 * `databaseUrl`, with views in `viewsSchema`, on a free port. Its lines are printed when `TESSERA_TEST_VERBOSE` is set.
 */
export async function startTestPonder(
  system: Pick<TestSystem, 'rpcUrl'> & { deployment: Pick<Deployment, 'chainId'> },
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
