/**
 * The leader's worker thread (see `startLeaderWorker`): runs `runLeader` with the settings it was given, sends its
 * log records to the server's thread, answers its requests for metrics, and stops when asked.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createMetrics } from '../metrics.ts'
import { workerLogger } from '../workerLog.ts'
import type { FromLeader, LeaderWorkerData, ToLeader } from './leaderMessages.ts'
import { runLeader } from './runLeader.ts'

const port = parentPort
if (!port) throw new Error('leaderWorker.ts runs as a worker thread (startLeaderWorker)')
const { settings, logLevel } = workerData as LeaderWorkerData
const post = (message: FromLeader) => port.postMessage(message)
const log = workerLogger(logLevel, (line) => post({ type: 'log', line }))
const metrics = createMetrics({ defaultMetrics: false })
const sendMetrics = async (id: number) => post({ type: 'metrics', id, metrics: await metrics.registry.getMetricsAsJSON() })
port.on('message', (message: ToLeader) => {
  if (message.type === 'metrics') void sendMetrics(message.id)
})

try {
  const leader = await runLeader(settings, { log, metrics })
  port.on('message', (message: ToLeader) => {
    if (message.type !== 'stop') return
    void leader.stop().finally(() => {
      post({ type: 'stopped' })
      // Ends this thread only, whatever keep-alive sockets remain.
      process.exit(0)
    })
  })
  post({ type: 'ready' })
} catch (error) {
  post({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  process.exit(1)
}
