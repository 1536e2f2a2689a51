import type { Server } from 'node:http'
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql'
import type { OperationResult } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import type { YogaServerInstance } from 'graphql-yoga'
import { type WebSocket, WebSocketServer } from 'ws'
import type { ServerContext } from './context.ts'
import { everyAtOwnPhase, writeEach } from './listen.ts'

/** What an operation's rootValue carries: envelop's executors for it, and the subscription's id and socket. */
type Operation = {
  execute: (args: ExecutionArgs) => OperationResult
  subscribe: (args: ExecutionArgs) => OperationResult
  id: string
  socket: WebSocket
}

/** A result's `next` payload as graphql-ws writes it (errors last, each as its `toJSON`), by result: made once. */
const payloads = new WeakMap<ExecutionResult, string>()
function payloadOf(result: ExecutionResult): string {
  let payload = payloads.get(result)
  if (payload === undefined) {
    const { errors, ...rest } = result
    payload = JSON.stringify(errors ? { ...rest, errors: errors.map((e) => e.toJSON()) } : rest)
    payloads.set(result, payload)
  }
  return payload
}

/** Bytes a socket may have waiting to be written before its next message waits for them (`ws` doesn't limit them). */
const sendHighWaterMark = 64 * 1024

/**
 * Sends `text` on `socket` (nothing on a socket no longer open). While the socket keeps up, that is all: no promise
 * and no callback per message, which ten thousand subscribers would pay on every event. Once it has
 * `sendHighWaterMark` bytes waiting, returns a promise that this message is written: a slow reader holds its own
 * stream back rather than the server's memory. A failed write closes the socket, and graphql-ws ends its streams.
 */
function send(socket: WebSocket, text: string): Promise<void> | undefined {
  if (socket.readyState !== socket.OPEN) return
  if (socket.bufferedAmount < sendHighWaterMark) return void socket.send(text)
  return new Promise<void>((resolve, reject) => socket.send(text, (error) => (error ? reject(error) : resolve())))
}

/**
 * A subscription's results sent on `socket` as its `next` messages by this function, each result's payload serialised
 * once for every subscriber it goes to (the bus hands them all the same result), rather than by graphql-ws, which
 * serialises the whole message for each. graphql-ws sees a stream that yields nothing and keeps the rest of the
 * protocol: it sends `complete` when the results end, `error` when they fail, and gives the stream back (`return`)
 * when the client completes it or goes.
 */
function sentBySelf(results: AsyncIterable<ExecutionResult>, id: string, socket: WebSocket): AsyncGenerator<never> {
  const iterator = results[Symbol.asyncIterator]()
  const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`
  const finish = async () => {
    await iterator.return?.()
    return { value: undefined, done: true } as const
  }
  /** Set when a send found the socket's buffer full: what to wait for before the next. */
  let sending: Promise<void> | undefined
  const write = (result: ExecutionResult) => {
    sending = send(socket, `${prefix}${payloadOf(result)}}`)
    // Awaited below; until then a failed write must not count as unhandled.
    sending?.catch(() => {})
    return sending === undefined
  }
  const writable = () => {
    const waiting = sending
    sending = undefined
    return waiting
  }
  const stream: AsyncGenerator<never> = {
    async next() {
      await writeEach(iterator, { write, writable })
      return { value: undefined, done: true }
    },
    return: finish,
    async throw(error) {
      await finish()
      throw error
    },
    [Symbol.asyncIterator]: () => stream,
    [Symbol.asyncDispose]: async () => void (await finish()),
  }
  return stream
}

/**
 * Pings `socket` every `intervalMs`, and ends it when a ping got no pong by the next one, as graphql-ws's keep-alive
 * does; but at a phase of the interval of its own (`everyAtOwnPhase`), and with one timer and one listener for the
 * socket's life rather than a timer and a listener per ping.
 */
function keepAlive(socket: WebSocket, intervalMs: number): void {
  let answered = true
  socket.on('pong', () => {
    answered = true
  })
  const turn = () => {
    if (socket.readyState !== socket.OPEN) return
    if (!answered) return void socket.terminate()
    answered = false
    socket.ping()
  }
  socket.once('close', everyAtOwnPhase(intervalMs, turn))
}

/**
 * GraphQL over WebSocket (the `graphql-transport-ws` protocol of graphql-ws) on `server`, at the GraphQL endpoint beside
 * Yoga's SSE: every operation goes through Yoga's envelop (the same parse and validation caches, query limits, error
 * masking and metrics as over HTTP). Each socket is pinged every `keepAliveMs` (default 12 s, as graphql-ws) and ended
 * when it stops answering. Returns a `close` that ends every socket.
 */
export function serveWebSockets(parameters: {
  server: Server
  yoga: YogaServerInstance<Record<string, unknown>, ServerContext>
  keepAliveMs?: number
}) {
  const { yoga } = parameters
  const keepAliveMs = parameters.keepAliveMs ?? 12_000
  const sockets = new WebSocketServer({ server: parameters.server, path: yoga.graphqlEndpoint })
  sockets.on('connection', (socket) => keepAlive(socket, keepAliveMs))
  const disposable = useServer(
    {
      // The executors envelop prepared for this operation travel in rootValue, as Yoga's own integration guide does.
      execute: (args) => (args.rootValue as Operation).execute(args),
      subscribe: async (args) => {
        const { subscribe, id, socket } = args.rootValue as Operation
        const result = await subscribe(args)
        return Symbol.asyncIterator in result ? sentBySelf(result as AsyncIterable<ExecutionResult>, id, socket) : result
      },
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        })
        // A document the limits refuse (graphql-armor) throws in parse or validate: an error for this operation, not the
        // socket's (graphql-ws would close the socket on a throw).
        try {
          const document = parse(payload.query)
          const errors = validate(schema, document)
          if (errors.length) return errors
          return {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe, id, socket: ctx.extra.socket } as Operation,
          } satisfies ExecutionArgs
        } catch (error) {
          if (error instanceof GraphQLError) return [error]
          throw error
        }
      },
    },
    sockets,
    // Its keep-alive off: `keepAlive` above does it.
    0,
  )
  return {
    close: async () => {
      await disposable.dispose()
      await new Promise<void>((resolve) => sockets.close(() => resolve()))
    },
  }
}
