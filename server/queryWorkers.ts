import type { Worker } from 'node:worker_threads'
import { type ExecutionResult, GraphQLError } from 'graphql'
import type { Logger } from 'pino'
import { TesseraError } from '../protocol/errors.ts'
import { startTypeScriptWorker } from '../protocol/typescriptWorker.ts'
import type { FromQueryWorker, QueryWorkerData, QueryWorkerSettings, SentError, ToQueryWorker } from './queryWorkerMessages.ts'
import { relayLogLine } from './workerLog.ts'

const workerUrl = new URL('./queryWorker.ts', import.meta.url)

/** A query thread died with an operation in hand. Retryable: a new thread takes its place. */
export class QueryWorkerError extends TesseraError {
  override name = 'QueryWorkerError'
}

/** An operation for a query thread: its source, variables and operation name. */
export type OffloadedOperation = { source: string; variableValues?: Record<string, unknown>; operationName?: string | null }

export type QueryWorkers = {
  /** Runs `operation` on the least busy query thread. */
  execute: (operation: OffloadedOperation) => Promise<ExecutionResult>
  /** Operations sent so far (for metrics and tests). */
  executed: () => number
  /** The threads now running, one per place in the pool (a dead one's place goes to its replacement). */
  threads: () => readonly Worker[]
  close: () => Promise<void>
}

type Thread = { worker: Worker; inFlight: Map<number, (result: ExecutionResult) => void>; ready: Promise<void> }

const received = (errors: SentError[] | undefined) =>
  errors?.map((e) => new GraphQLError(e.message, { path: e.path, extensions: e.extensions }))

/**
 * `size` worker threads that execute GraphQL operations apart from the request thread (see
 * `useOffloadedExecution`): a page of a thousand jobs costs tens of milliseconds of CPU, which on the request thread
 * every other client would wait for. Each thread has its own database pool and context (`createServerContext`); its
 * results' errors come back masked. A thread that dies fails what it had in hand with {@link QueryWorkerError} and is
 * replaced.
 */
export function createQueryWorkers(parameters: { settings: QueryWorkerSettings; size?: number; log: Logger }): QueryWorkers {
  const { log } = parameters
  const data: QueryWorkerData = { settings: parameters.settings, logLevel: log.level }
  let nextId = 0
  let executed = 0
  let closing = false

  const spawn = (): Thread => {
    const worker = startTypeScriptWorker(workerUrl, data)
    const inFlight = new Map<number, (result: ExecutionResult) => void>()
    const ready = new Promise<void>((resolve) => {
      worker.on('message', (message: FromQueryWorker) => {
        if (message.type === 'ready') resolve()
        else if (message.type === 'log') relayLogLine(log, message.line)
        else {
          inFlight.get(message.id)?.({ data: message.data, errors: received(message.errors) })
          inFlight.delete(message.id)
        }
      })
    })
    worker.on('error', (error) => log.error({ err: error }, 'a query thread failed'))
    worker.once('exit', (code) => {
      const index = threads.findIndex((t) => t.worker === worker)
      const lost = new QueryWorkerError(`the query thread exited (code ${code}) with this operation in hand; try again`, {
        retryable: true,
      })
      for (const settle of inFlight.values()) settle({ errors: [new GraphQLError(lost.message, { originalError: lost })] })
      inFlight.clear()
      if (closing || index === -1) return
      log.warn({ code }, 'a query thread exited; starting another')
      threads[index] = spawn()
    })
    return { worker, inFlight, ready }
  }
  const threads = Array.from({ length: Math.max(1, parameters.size ?? 1) }, spawn)

  return {
    async execute(operation) {
      const thread = threads.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a))
      await thread.ready
      const id = ++nextId
      executed++
      return new Promise<ExecutionResult>((resolve) => {
        thread.inFlight.set(id, resolve)
        thread.worker.postMessage({ type: 'execute', id, ...operation } satisfies ToQueryWorker)
      })
    },
    executed: () => executed,
    threads: () => threads.map((t) => t.worker),
    async close() {
      closing = true
      await Promise.all(
        threads.map(async ({ worker }) => {
          const exited = new Promise((resolve) => worker.once('exit', resolve))
          worker.postMessage({ type: 'close' } satisfies ToQueryWorker)
          const timer = setTimeout(() => void worker.terminate(), 5000)
          await exited
          clearTimeout(timer)
        }),
      )
    },
  }
}
