/**
 * A query thread (see `createQueryWorkers`): executes the operations the request thread hands it on the server's
 * schema, with a context of its own (its own database pool), and sends back each result with its errors masked as
 * the request thread masks them.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { execute, GraphQLError, parse } from 'graphql'
import { createServerContext } from './createYoga.ts'
import { createDb } from './db/createDb.ts'
import { UserInputError } from './errors.ts'
import { createChainClients } from './leader/chainClients.ts'
import { createAssignmentPubSub } from './pubsub.ts'
import type { FromQueryWorker, QueryWorkerData, SentError, ToQueryWorker } from './queryWorkerMessages.ts'
import { schema } from './schema/index.ts'
import { workerLogger } from './workerLog.ts'

const port = parentPort
if (!port) throw new Error('queryWorker.ts runs as a worker thread (createQueryWorkers)')
const { settings, logLevel } = workerData as QueryWorkerData
const post = (message: FromQueryWorker) => port.postMessage(message)
const log = workerLogger(logLevel, (line) => post({ type: 'log', line }))
const { db } = createDb({ databaseUrl: settings.databaseUrl, max: settings.poolSize })
const context = createServerContext({
  db,
  viewsSchema: settings.viewsSchema,
  deployment: settings.deployment,
  dataDir: settings.dataDir,
  publicClient: settings.rpcUrl
    ? createChainClients({ rpcUrl: settings.rpcUrl, chainId: settings.deployment.chainId }).publicClient
    : undefined,
  pubsub: createAssignmentPubSub(),
  log,
})

/** An error as the request thread's masking would leave it: a user's mistake or a GraphQL error keeps its message. */
function sent(error: GraphQLError): SentError {
  const path = error.path as SentError['path']
  const original = error.originalError
  if (original instanceof UserInputError) return { message: original.message, path, extensions: { code: original.code } }
  if (!original || original instanceof GraphQLError) return { message: error.message, path, extensions: error.extensions }
  log.error({ err: original, path }, 'graphql resolver error')
  return { message: 'Unexpected error.', path }
}

port.on('message', async (message: ToQueryWorker) => {
  if (message.type === 'close') {
    await db.destroy().catch(() => {})
    process.exit(0)
  }
  const { id, source, variableValues, operationName } = message
  try {
    const result = await execute({ schema, document: parse(source), variableValues, operationName, contextValue: { ...context } })
    post({ type: 'result', id, data: result.data ?? null, errors: result.errors?.map(sent) })
  } catch (error) {
    log.error({ err: error }, 'query thread failed an operation')
    post({ type: 'result', id, data: null, errors: [{ message: 'Unexpected error.' }] })
  }
})
post({ type: 'ready' })
