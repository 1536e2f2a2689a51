import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type RunAgentReturnType, runAgent } from '../../agent/runAgent.ts'
import type { DeployParamsOverrides } from '../../contracts/deploy.ts'
import { freePort } from '../../devnet/startAnvil.ts'
import { type Stack, type StackAgent, type StartStackParameters, startStack } from '../../devnet/startStack.ts'
import { startTestSystem, type TestSystem } from '../../devnet/testSystem.ts'
import { type StartPonderReturnType, startPonder } from '../../indexer/startPonder.ts'
import { type Deployment, readDeploymentFile } from '../../protocol/deployment.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'
import { tailedTestLog } from './logTail.ts'

/**
 * `startStack` on free ports with a test logger (`tailedTestLog`: printed when a test fails, or at `TESSERA_TEST_LOG`'s level), challenge jobs off
 * unless the test names `challenges`. The caller brings the database and data directory, so it decides what survives a
 * restart.
 */
export async function startTestStack(
  parameters: Omit<StartStackParameters, 'postgresPort' | 'rpcPort' | 'ponderPort' | 'serverPort' | 'log'> & { databaseUrl: string },
): Promise<Stack> {
  return startStack({
    ...parameters,
    challenges: parameters.challenges ?? false,
    postgresPort: 0,
    rpcPort: await freePort(),
    ponderPort: await freePort(),
    serverPort: await freePort(),
    log: tailedTestLog(),
  })
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
    log: tailedTestLog().child({ part: 'test agent' }),
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

/** A test chain indexed by Ponder into a fresh test database: what server and agent tests on real indexed data share. */
export type IndexedTestChain = {
  system: TestSystem
  database: TestDatabase
  ponder: StartPonderReturnType
  /** A fresh temporary directory, removed by `stop`. */
  tmpDir: string
  deploymentPath: string
  deployment: Deployment
  /** Stops Ponder and the chain, drops the database and removes `tmpDir` (whatever of them started). */
  stop: () => Promise<void>
}

/**
 * Starts a test system (with `params` overrides) writing its deployment under a fresh temporary directory, then a
 * test database and Ponder indexing the chain into it with views in `viewsSchema`. `prepare` runs on the chain
 * before Ponder starts (registering providers, funding requesters). The caller starts its server and agents on it.
 */
export async function startIndexedTestChain(parameters: {
  tmpPrefix: string
  viewsSchema: string
  params?: DeployParamsOverrides
  prepare?: (system: TestSystem) => Promise<void>
}): Promise<IndexedTestChain> {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), parameters.tmpPrefix))
  const deploymentPath = path.join(tmpDir, 'deployment.json')
  const started: Partial<Pick<IndexedTestChain, 'system' | 'database' | 'ponder'>> = {}
  const stop = async () => {
    await started.ponder?.stop()
    await started.system?.stop()
    await started.database?.drop()
    await rm(tmpDir, { recursive: true, force: true })
  }
  try {
    const system = await startTestSystem({ params: parameters.params, out: deploymentPath })
    started.system = system
    await parameters.prepare?.(system)
    const database = await createTestDatabase()
    started.database = database
    const ponder = await startTestPonder(system, { databaseUrl: database.url, deploymentPath, viewsSchema: parameters.viewsSchema })
    started.ponder = ponder
    return { system, database, ponder, tmpDir, deploymentPath, deployment: readDeploymentFile(deploymentPath), stop }
  } catch (error) {
    await stop()
    throw error
  }
}
