/**
 * The stack process the throughput bench (bench/throughput.ts) measures, forked: `startStack` as `tessera dev` runs it
 * (anvil mining a block a second and one per transaction, Ponder, the server with its leader, three agents in this
 * process), on free ports and the database the bench made, with challenge jobs off and the leader's batch size from
 * `BENCH_LEADER_BATCH`. Logs go to `BENCH_LOG_FILE` at `BENCH_LOG_LEVEL` (default warn). Reports its URLs and
 * deployment over IPC once every part is up, and stops the whole stack on `{ type: 'stop' }`, then exits.
 */
import pino from 'pino'
import { parseEther } from 'viem'
import { freePort } from '../devnet/startAnvil.ts'
import { startStack } from '../devnet/startStack.ts'
import { logSerializers } from '../protocol/logSerializers.ts'
import { ThroughputBenchError, throughputAgentKeys, throughputRequesterKeys } from './throughput.ts'

/** What the stack process reports once it is up. */
export type ThroughputStackReady = { type: 'ready'; serverUrl: string; graphqlUrl: string; rpcUrl: string; deploymentPath: string }

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new ThroughputBenchError(`bench/throughputStack.ts needs ${name}`)
  return value
}

const log = pino(
  { level: process.env.BENCH_LOG_LEVEL ?? 'warn', serializers: logSerializers },
  pino.destination({ dest: env('BENCH_LOG_FILE'), sync: false }),
)
// Absent: the stack's default (batches); 1: one assign or finalize transaction per job.
const leaderBatch = process.env.BENCH_LEADER_BATCH ? Number(process.env.BENCH_LEADER_BATCH) : undefined
const stack = await startStack({
  dataDir: env('BENCH_DATA_DIR'),
  databaseUrl: env('BENCH_DATABASE_URL'),
  postgresPort: 0,
  rpcPort: await freePort(),
  ponderPort: await freePort(),
  serverPort: await freePort(),
  agents: throughputAgentKeys.map((privateKey) => ({ privateKey, pricePerUnit: parseEther('0.001') })),
  requesters: [...throughputRequesterKeys],
  challenges: false,
  leaderBatch,
  log,
})
process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return
  void stack.stop().finally(() => {
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
} satisfies ThroughputStackReady)
