/**
 * The stack process the throughput bench (bench/throughput.ts) measures, forked: `startStack` as `tessera dev` runs it
 * (anvil mining a block a second and one per transaction, Ponder, the server with its leader), on free ports and the
 * database the bench made, with challenge jobs off and the leader's batch size from `BENCH_LEADER_BATCH`; and the three
 * agents in a process of their own (bench/throughputAgents.ts, logging to `BENCH_LOG_FILE` with `-agents` before
 * `.log`). Logs go to `BENCH_LOG_FILE` at `BENCH_LOG_LEVEL` (default warn). Reports its URLs and deployment over IPC
 * once every part is up, and stops the agents and then the whole stack on `{ type: 'stop' }`, then exits.
 */
import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../devnet/startAnvil.ts'
import { startStack } from '../devnet/startStack.ts'
import { forkedProcessLog, requiredEnv, ThroughputBenchError, throughputAgentKeys, throughputRequesterKeys } from './throughput.ts'
import type { ThroughputAgentsReady } from './throughputAgents.ts'

/** What the stack process reports once it is up. */
export type ThroughputStackReady = {
  type: 'ready'
  serverUrl: string
  graphqlUrl: string
  rpcUrl: string
  deploymentPath: string
  /** Each agent's `/metrics`. */
  agentMetricsUrls: string[]
}

const env = (name: string) => requiredEnv('bench/throughputStack.ts', name)
const log = forkedProcessLog(env('BENCH_LOG_FILE'))
// Absent: the stack's default (batches); 1: one assign or finalize transaction per job.
const leaderBatch = process.env.BENCH_LEADER_BATCH ? Number(process.env.BENCH_LEADER_BATCH) : undefined
const stack = await startStack({
  dataDir: env('BENCH_DATA_DIR'),
  databaseUrl: env('BENCH_DATABASE_URL'),
  postgresPort: 0,
  rpcPort: await freePort(),
  ponderPort: await freePort(),
  serverPort: await freePort(),
  // Funded and staked by their own agents, which run in a process of their own (bench/throughputAgents.ts).
  agents: [],
  spareProviders: [...throughputAgentKeys],
  requesters: [...throughputRequesterKeys],
  challenges: false,
  leaderBatch,
  log,
})
const agents = fork(path.join(path.dirname(fileURLToPath(import.meta.url)), 'throughputAgents.ts'), [], {
  execArgv: ['--import', 'tsx', ...(process.env.BENCH_AGENTS_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])],
  env: {
    ...process.env,
    BENCH_SERVER_URL: stack.serverUrl,
    BENCH_RPC_URL: stack.rpcUrl,
    BENCH_DATA_DIR: path.join(env('BENCH_DATA_DIR'), 'agents'),
    BENCH_LOG_FILE: env('BENCH_LOG_FILE').replace(/(\.log)?$/, '-agents.log'),
  },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const { metricsUrls } = await new Promise<ThroughputAgentsReady>((resolve, reject) => {
  agents.once('message', (ready: ThroughputAgentsReady) => resolve(ready))
  agents.once('exit', (code) => reject(new ThroughputBenchError(`the agents' process exited (${code}) before its agents ran`)))
})
const agentsExited = new Promise<void>((resolve) => agents.once('exit', () => resolve()))

process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return
  agents.send({ type: 'stop' })
  const killAgents = setTimeout(() => agents.kill('SIGKILL'), 20_000)
  void agentsExited
    .then(() => clearTimeout(killAgents))
    .then(() => stack.stop())
    .finally(() => {
      log.flush()
      process.exit(0)
    })
})
process.send?.({
  type: 'ready',
  serverUrl: stack.serverUrl,
  graphqlUrl: stack.graphqlUrl,
  rpcUrl: stack.rpcUrl,
  deploymentPath: stack.deploymentPath,
  agentMetricsUrls: metricsUrls,
} satisfies ThroughputStackReady)
