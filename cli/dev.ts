import path from 'node:path'
import type { Logger } from 'pino'
import { parseEther } from 'viem'
import { runDemoWorkload } from '../devnet/demoWorkload.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { startStack } from '../devnet/startStack.ts'
import { waitForSignal } from './waitForSignal.ts'

export type RunDevParameters = {
  port: number
  dataDir: string
  databaseUrl?: string
  postgresPort: number
  rpcPort: number
  ponderPort: number
  agents: number
  demo: boolean
  epochLength: number
  log: Logger
}

/**
 * `tessera dev`: boots the whole marketplace on one machine, runs the demo workload,
 * prints where everything is, and on Ctrl-C stops every process it started.
 */
export async function runDev(parameters: RunDevParameters): Promise<void> {
  const { log } = parameters
  const started = Date.now()
  const providerKeys = [devKeys[2], devKeys[3], devKeys[4]]
  const agentKeys = providerKeys.slice(0, Math.max(0, Math.min(3, parameters.agents)))
  const signal = waitForSignal()
  const stack = await startStack({
    dataDir: path.resolve(parameters.dataDir),
    databaseUrl: parameters.databaseUrl,
    postgresPort: parameters.postgresPort,
    rpcPort: parameters.rpcPort,
    ponderPort: parameters.ponderPort,
    serverPort: parameters.port,
    epochLength: parameters.epochLength,
    agents: agentKeys.map((privateKey, i) => ({ privateKey, pricePerUnit: parseEther('0.001') * BigInt(i + 1) })),
    requesters: [devKeys[5]],
    spareProviders: providerKeys.slice(agentKeys.length),
    log,
  })
  const controller = new AbortController()
  const demo = parameters.demo
    ? runDemoWorkload({
        serverUrl: stack.serverUrl,
        rpcUrl: stack.rpcUrl,
        deployment: stack.deployment,
        requesterKey: devKeys[5],
        log: log.child({ part: 'demo' }),
        signal: controller.signal,
      }).catch((error) => log.error({ err: error }, 'demo workload stopped'))
    : Promise.resolve()

  const lines = [
    '',
    `Tessera is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    `  GraphQL     ${stack.graphqlUrl}`,
    `  chain       ${stack.rpcUrl} (anvil, chain id ${stack.deployment.chainId})`,
    `  database    ${parameters.databaseUrl ? 'DATABASE_URL' : `embedded Postgres on port ${parameters.postgresPort}`}`,
    `  contracts   ${Object.entries(stack.deployment.contracts)
      .map(([name, c]) => `${name} ${c.address}`)
      .join(', ')}`,
    `  agents      ${stack.agents.map((a) => a.address).join(', ') || 'none'}`,
    ...(agentKeys.length < providerKeys.length ? [`  more agents ${spareAgentHint(agentKeys.length + 2)}`] : []),
    `  demo jobs   ${parameters.demo ? 'every 4 s, Redundant(k=2)' : 'off'}`,
    'Press Ctrl-C to stop.',
    '',
  ]
  process.stdout.write(`${lines.join('\n')}\n`)

  const received = await signal
  log.info({ signal: received }, 'stopping')
  controller.abort()
  await demo
  await stack.stop()
  log.info('stopped')
}

/** How to start another agent by hand with one of the funded spare provider keys (anvil accounts `first`–4). */
function spareAgentHint(first: number): string {
  const keys = first < 4 ? `${first}–4` : `${first}`
  return `npx tessera agent --private-key <anvil key ${keys}> --data-dir .tessera/agent-N (funded with TSR)`
}
