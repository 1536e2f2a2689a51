import path from 'node:path'
import type { Logger } from 'pino'
import { parseEther } from 'viem'
import { runDemoWorkload } from '../devnet/demoWorkload.ts'
import { devKeys, devRequesterIndex } from '../devnet/devAccounts.ts'
import { startStack } from '../devnet/startStack.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { sleep } from '../protocol/retry.ts'
import { ConfigError } from './config.ts'
import { waitForSignal } from './waitForSignal.ts'

export type RunDevParameters = {
  port: number
  dataDir: string
  databaseUrl?: string
  postgresPort: number
  rpcPort: number
  ponderPort: number
  agents: number
  /** How many of the agents (the last ones) alter outputs, and on what fraction of their jobs. */
  cheaters: number
  cheatRate: number
  demo: boolean
  /** Fraction of the demo's jobs submitted Optimistic (k = 1, spot-checked); the rest are Redundant. */
  optimisticShare: number
  epochLength: number
  /** How often the agents pay themselves out (claim rewards, withdraw earnings), ms; 0: never. */
  payoutIntervalMs: number
  /** Smallest JobMarket balance the agents withdraw, TSR wei. */
  minWithdraw: bigint
  log: Logger
}

/**
 * `tessera dev`: builds the dashboard if it changed, boots the whole marketplace on one machine, runs the demo workload,
 * prints where everything is, and on Ctrl-C stops every process it started.
 */
export async function runDev(parameters: RunDevParameters): Promise<void> {
  const { log } = parameters
  const started = Date.now()
  // Anvil keys 2–4, then 6 and 8 (5 is the demo's requester, 7 the CLI's: `tessera job submit` with no key).
  const providerKeys = [devKeys[2], devKeys[3], devKeys[4], devKeys[6], devKeys[8]]
  const agentKeys = providerKeys.slice(0, Math.max(0, Math.min(providerKeys.length, parameters.agents)))
  const { cheaters, cheatRate } = parameters
  if (!Number.isInteger(cheaters) || cheaters < 0 || cheaters > agentKeys.length)
    throw new ConfigError(`--cheaters must be a whole number from 0 to the ${agentKeys.length} agents, got ${cheaters}`)
  if (!(cheatRate >= 0 && cheatRate <= 1)) throw new ConfigError(`--cheat-rate must be a fraction from 0 to 1, got ${cheatRate}`)
  const { optimisticShare } = parameters
  if (!(optimisticShare >= 0 && optimisticShare <= 1))
    throw new ConfigError(`--optimistic-share must be a fraction from 0 to 1, got ${optimisticShare}`)
  const honestAgents = agentKeys.length - cheaters
  // The dashboard the server serves at /, rebuilt only when its sources or the schema changed (a second or two).
  const { buildWeb } = await import('../web/build.ts')
  const web = await buildWeb({ ifStale: true, quiet: true })
  log.info({ built: web.built }, web.built ? 'dashboard built' : 'dashboard up to date')
  const signal = waitForSignal()
  const stack = await startStack({
    dataDir: path.resolve(parameters.dataDir),
    databaseUrl: parameters.databaseUrl,
    postgresPort: parameters.postgresPort,
    rpcPort: parameters.rpcPort,
    ponderPort: parameters.ponderPort,
    serverPort: parameters.port,
    epochLength: parameters.epochLength,
    // Cheaters undercut everyone (they save the work), so the matcher hands them jobs and the verification meets them.
    agents: agentKeys.map((privateKey, i) => ({
      privateKey,
      payoutIntervalMs: parameters.payoutIntervalMs,
      minWithdraw: parameters.minWithdraw,
      ...(i < honestAgents
        ? { pricePerUnit: parseEther('0.001') * BigInt(i + 1) }
        : { pricePerUnit: parseEther('0.0005'), lie: cheatRate }),
    })),
    requesters: [devKeys[5], devKeys[devRequesterIndex]],
    spareProviders: providerKeys.slice(agentKeys.length),
    log,
  })
  const controller = new AbortController()
  const redundancies = demoRedundancies(agentKeys.length)
  const demo = parameters.demo
    ? runDemoWorkload({
        serverUrl: stack.serverUrl,
        rpcUrl: stack.rpcUrl,
        deployment: stack.deployment,
        requesterKey: devKeys[5],
        redundancies,
        optimisticShare,
        log: log.child({ part: 'demo' }),
        signal: controller.signal,
      }).catch((error) => log.error({ err: error }, 'demo workload stopped'))
    : Promise.resolve()

  const lines = [
    '',
    `Tessera is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    `  dashboard   ${stack.serverUrl}/ (sign with the dev accounts: Submit a job as #${devRequesterIndex}, the provider console as an agent's)`,
    `  GraphQL     ${stack.graphqlUrl}`,
    `  chain       ${stack.rpcUrl} (anvil, chain id ${stack.deployment.chainId})`,
    `  database    ${parameters.databaseUrl ? 'DATABASE_URL' : `embedded Postgres on port ${parameters.postgresPort}`}`,
    `  contracts   ${Object.entries(stack.deployment.contracts)
      .map(([name, c]) => `${name} ${c.address}`)
      .join(', ')}`,
    `  agents      ${stack.agents.map((a, i) => `${a.address}${i >= honestAgents ? ` (cheats on ${cheatRate * 100}% of jobs)` : ''}`).join(', ') || 'none'}`,
    ...(agentKeys.length < providerKeys.length ? [`  more agents ${spareAgentHint(providerKeys.slice(agentKeys.length))}`] : []),
    `  payouts     ${parameters.payoutIntervalMs > 0 ? `agents claim their rewards and withdraw their earnings every ${parameters.payoutIntervalMs / 1000} s` : 'off'}`,
    `  demo jobs   ${parameters.demo ? `every 4 s through the job gateway, ${demoMix(optimisticShare, redundancies, stack.deployment)}` : 'off'}`,
    `  your jobs   npx tessera job submit --model <file.onnx> --input <file.json> (dev account ${devRequesterIndex}, funded; first: npx tessera gateway deposit --amount 10)`,
    'Press Ctrl-C to stop.',
    '',
  ]
  process.stdout.write(`${lines.join('\n')}\n`)

  const received = await signal
  log.info({ signal: received }, 'stopping')
  controller.abort()
  // A submission in flight doesn't see the abort and waits up to viem's 180 s for its receipt, from an anvil that a
  // terminal's Ctrl-C (sent to the whole process group) may have stopped already: give it a few seconds, not minutes.
  const settled = await Promise.race([demo.then(() => true), sleep(demoStopMs).then(() => false)])
  if (!settled) log.warn({ ms: demoStopMs }, 'demo workload: a submission was still in flight; stopping without it')
  await stack.stop()
  log.info('stopped')
}

/** How long stopping waits for the demo's submission in flight. */
const demoStopMs = 5_000

/**
 * The demo's redundancies for `agents` local agents: k=2, and k=3 as well once three agents can take it, so a cheater
 * meets an honest majority in one job and a tie-break (which needs two fresh agents) in the other.
 */
function demoRedundancies(agents: number): number[] {
  return agents >= 3 ? [2, 3] : [2]
}

/** The banner's description of the demo's jobs: which verification, in what share, at what k or spot-check rate. */
function demoMix(optimisticShare: number, redundancies: readonly number[], deployment: Deployment): string {
  const percent = (x: number) => `${Math.round(x * 100)} %`
  const redundant = `Redundant(k=${redundancies.join(' or ')})`
  const optimistic = `Optimistic(k=1, ${Number(deployment.params.market.spotCheckBps) / 100} % spot-checked)`
  if (optimisticShare === 0) return redundant
  if (optimisticShare === 1) return optimistic
  return `${percent(optimisticShare)} ${optimistic}, ${percent(1 - optimisticShare)} ${redundant}`
}

/** How to start another agent by hand with one of the funded spare provider keys (anvil accounts by index). */
function spareAgentHint(spare: readonly string[]): string {
  const indexes = spare.map((key) => devKeys.indexOf(key as (typeof devKeys)[number])).join(', ')
  return `TESSERA_PRIVATE_KEY=<anvil key ${indexes}> npx tessera agent --data-dir .tessera/agent-N (funded with TSR)`
}
