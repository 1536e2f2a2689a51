/**
 * The provider agents of a throughput bench stack (bench/throughputStack.ts), forked by it: the three agents of
 * `throughputAgentKeys`, asking the same price, in a process of their own, as providers run them (on machines of
 * their own), so the server's request loop is not also the agents'. Logs go to `BENCH_LOG_FILE`. Reports over IPC once
 * every agent runs (with the URLs of their `/metrics`), and stops them on `{ type: 'stop' }`, then exits.
 */
import path from 'node:path'
import { parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { runAgent } from '../agent/runAgent.ts'
import { forkedProcessLog, requiredEnv, throughputAgentKeys } from './throughput.ts'

/** What the agents' process reports once every agent runs: where each serves its `/metrics`. */
export type ThroughputAgentsReady = { type: 'agents-ready'; metricsUrls: string[] }

const env = (name: string) => requiredEnv('bench/throughputAgents.ts', name)
const log = forkedProcessLog(env('BENCH_LOG_FILE'))
const agents: Awaited<ReturnType<typeof runAgent>>[] = []
for (const [i, privateKey] of throughputAgentKeys.entries()) {
  const address = privateKeyToAccount(privateKey).address
  agents.push(
    await runAgent({
      privateKey,
      serverUrl: env('BENCH_SERVER_URL'),
      rpcUrl: env('BENCH_RPC_URL'),
      dataDir: path.join(env('BENCH_DATA_DIR'), `agent-${address.toLowerCase()}`),
      pricePerUnit: parseEther('0.001'),
      log: log.child({ part: `agent${i + 1}` }),
      httpPort: 0,
    }),
  )
}
process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return
  void Promise.all(agents.map((a) => a.stop())).finally(() => {
    log.flush()
    process.exit(0)
  })
})
process.send?.({
  type: 'agents-ready',
  metricsUrls: agents.map((a) => new URL('/metrics', a.httpUrl).toString()),
} satisfies ThroughputAgentsReady)
