import type { Logger } from 'pino'
import { TesseraError } from '../../protocol/errors.ts'
import { startTypeScriptWorker } from '../../protocol/typescriptWorker.ts'
import type { MetricsJson, ServerMetrics } from '../metrics.ts'
import { relayLogLine } from '../workerLog.ts'
import type { FromLeader, LeaderWorkerData, ToLeader } from './leaderMessages.ts'
import type { LeaderSettings } from './runLeader.ts'

const workerUrl = new URL('./leaderWorker.ts', import.meta.url)
/** How long the leader may take to stop (its transactions' loops end, its lock is released) before it is terminated. */
const stopGraceMs = 15_000
/** How long `/metrics` waits for the leader thread's metrics before it shows the last it got. */
const metricsTimeoutMs = 500

/** The leader's worker thread failed to start, or died; the message carries its error. Not retryable as is. */
export class LeaderWorkerError extends TesseraError {
  override name = 'LeaderWorkerError'
}

/**
 * Runs the leader (`runLeader`: change feed, matcher, keeper, challenge issuer, gateway relay) in a worker thread of
 * its own, so no query on the server's request loop can stall it, nor can its work delay a query. Its log records go
 * to `log`, and its metrics are read at each `/metrics` and summed into it. Resolves once the leader runs (`exited`:
 * its exit code once it ends, stopped or not; `superviseThread` starts it again); rejects with
 * {@link LeaderWorkerError} when it fails to start.
 */
export async function startLeaderWorker(
  settings: LeaderSettings,
  parameters: { log: Logger; metrics: ServerMetrics },
): Promise<{ stop: () => Promise<void>; exited: Promise<number> }> {
  const { log, metrics } = parameters
  const data: LeaderWorkerData = { settings, logLevel: log.level }
  const worker = startTypeScriptWorker(workerUrl, data)
  const source = `leader-${worker.threadId}`
  let stopped = false
  let settled = false
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))

  /** Reads of the thread's metrics awaiting its answer, by id; the last answer stands in for a late one. */
  const metricReads = new Map<number, (json: MetricsJson) => void>()
  let lastMetrics: MetricsJson = []
  let metricsId = 0
  const readMetrics = () =>
    new Promise<MetricsJson>((resolve) => {
      const id = ++metricsId
      const timer = setTimeout(() => {
        metricReads.delete(id)
        resolve(lastMetrics)
      }, metricsTimeoutMs)
      metricReads.set(id, (json) => {
        clearTimeout(timer)
        lastMetrics = json
        resolve(json)
      })
      worker.postMessage({ type: 'metrics', id } satisfies ToLeader)
    })

  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromLeader) => {
      if (message.type === 'log') relayLogLine(log, message.line)
      else if (message.type === 'metrics') {
        metricReads.get(message.id)?.(message.metrics)
        metricReads.delete(message.id)
      } else if (message.type === 'ready') {
        settled = true
        metrics.imported.set(source, readMetrics)
        resolve()
      } else if (message.type === 'failed') {
        settled = true
        reject(new LeaderWorkerError(`the leader failed to start: ${message.message}`))
      }
    })
    worker.on('error', (error) => {
      log.error({ err: error }, 'the leader thread died')
      if (!settled) reject(new LeaderWorkerError('the leader thread died while starting', { cause: error }))
      settled = true
    })
    void exited.then((code) => {
      if (!settled) reject(new LeaderWorkerError(`the leader thread exited (code ${code}) while starting`))
      // A dead thread's metrics go with it: /metrics must not keep showing it leading.
      metrics.imported.delete(source)
      settled = true
    })
  }).catch(async (error: unknown) => {
    await worker.terminate()
    throw error
  })

  return {
    exited,
    async stop() {
      if (stopped) return
      stopped = true
      metrics.imported.delete(source)
      worker.postMessage({ type: 'stop' } satisfies ToLeader)
      const timer = setTimeout(() => void worker.terminate(), stopGraceMs)
      await exited
      clearTimeout(timer)
    },
  }
}
