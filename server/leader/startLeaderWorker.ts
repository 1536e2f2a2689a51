import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import pino, { type Logger } from 'pino'
import { TesseraError } from '../../protocol/errors.ts'
import type { ServerMetrics } from '../metrics.ts'
import type { FromLeader, LeaderWorkerData, ToLeader } from './leaderMessages.ts'
import type { LeaderSettings } from './runLeader.ts'

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const workerUrl = new URL('./leaderWorker.ts', import.meta.url)
/** How long the leader may take to stop (its transactions' loops end, its lock is released) before it is terminated. */
const stopGraceMs = 15_000

/** The leader's worker thread failed to start, or died; the message carries its error. Not retryable as is. */
export class LeaderWorkerError extends TesseraError {
  override name = 'LeaderWorkerError'
}

/**
 * Runs the leader (`runLeader`: change feed, matcher, keeper, challenge issuer, gateway relay) in a worker thread of
 * its own, so no query on the server's request loop can stall it, nor can its work delay a query. Its log records go
 * to `log`, and its metrics are summed into `metrics`' `/metrics` every second. Resolves once the leader runs; rejects
 * with {@link LeaderWorkerError} when it fails to start.
 */
export async function startLeaderWorker(
  settings: LeaderSettings,
  parameters: { log: Logger; metrics: ServerMetrics },
): Promise<{ stop: () => Promise<void> }> {
  const { log, metrics } = parameters
  const data: LeaderWorkerData = { settings, logLevel: log.level }
  const worker = new Worker(workerUrl, { execArgv: ['--import', tsxLoader], workerData: data })
  const source = `leader-${worker.threadId}`
  let stopped = false
  let settled = false
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))

  const relayLog = (line: string) => {
    const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = JSON.parse(line) as Record<string, unknown>
    const method = pino.levels.labels[level as number] as pino.Level | undefined
    log[method ?? 'info'](fields, String(msg ?? ''))
  }

  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromLeader) => {
      if (message.type === 'log') relayLog(message.line)
      else if (message.type === 'metrics') metrics.imported.set(source, message.metrics)
      else if (message.type === 'ready') {
        settled = true
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
      else if (!stopped) log.error({ code }, 'the leader thread exited; this replica no longer leads')
      settled = true
    })
  }).catch(async (error: unknown) => {
    await worker.terminate()
    throw error
  })

  return {
    async stop() {
      if (stopped) return
      stopped = true
      worker.postMessage({ type: 'stop' } satisfies ToLeader)
      const timer = setTimeout(() => void worker.terminate(), stopGraceMs)
      await exited
      clearTimeout(timer)
      metrics.imported.delete(source)
    },
  }
}
