/**
 * The leader's worker thread (see `startLeaderWorker`): runs `runLeader` with the settings it was given, sends its
 * log records and, every second, its metrics to the server's thread, and stops when asked.
 */
import { parentPort, workerData } from 'node:worker_threads'
import pino from 'pino'
import { createMetrics } from '../metrics.ts'
import type { FromLeader, LeaderWorkerData, ToLeader } from './leaderMessages.ts'
import { runLeader } from './runLeader.ts'

const port = parentPort
if (!port) throw new Error('leaderWorker.ts runs as a worker thread (startLeaderWorker)')
const { settings, logLevel } = workerData as LeaderWorkerData
const post = (message: FromLeader) => port.postMessage(message)
const log = pino({ level: logLevel }, { write: (line: string) => post({ type: 'log', line }) })
const metrics = createMetrics({ defaultMetrics: false })
const sendMetrics = async () => post({ type: 'metrics', metrics: await metrics.registry.getMetricsAsJSON() })
const metricsTimer = setInterval(() => void sendMetrics(), 1000)

try {
  const leader = await runLeader(settings, { log, metrics })
  port.on('message', (message: ToLeader) => {
    if (message.type !== 'stop') return
    clearInterval(metricsTimer)
    void leader
      .stop()
      .then(sendMetrics)
      .finally(() => {
        post({ type: 'stopped' })
        // Ends this thread only, whatever keep-alive sockets remain.
        process.exit(0)
      })
  })
  post({ type: 'ready' })
} catch (error) {
  clearInterval(metricsTimer)
  post({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  process.exit(1)
}
