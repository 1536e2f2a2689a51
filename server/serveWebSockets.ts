import type { Server } from 'node:http'
import { type ExecutionArgs, GraphQLError } from 'graphql'
import type { OperationResult } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import type { YogaServerInstance } from 'graphql-yoga'
import { WebSocketServer } from 'ws'
import type { ServerContext } from './context.ts'

type Executors = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult }

/**
 * GraphQL over WebSocket (the `graphql-transport-ws` protocol of graphql-ws) on `server`, at the GraphQL endpoint beside
 * Yoga's SSE: every operation goes through Yoga's envelop (the same parse and validation caches, query limits, error
 * masking and metrics as over HTTP). Returns a `close` that ends every socket.
 */
export function serveWebSockets(parameters: { server: Server; yoga: YogaServerInstance<Record<string, unknown>, ServerContext> }) {
  const { yoga } = parameters
  const sockets = new WebSocketServer({ server: parameters.server, path: yoga.graphqlEndpoint })
  const disposable = useServer(
    {
      // The executors envelop prepared for this operation travel in rootValue, as Yoga's own integration guide does.
      execute: (args) => (args.rootValue as Executors).execute(args),
      subscribe: (args) => (args.rootValue as Executors).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
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
            rootValue: { execute, subscribe } as Executors,
          } satisfies ExecutionArgs
        } catch (error) {
          if (error instanceof GraphQLError) return [error]
          throw error
        }
      },
    },
    sockets,
  )
  return {
    close: async () => {
      await disposable.dispose()
      await new Promise<void>((resolve) => sockets.close(() => resolve()))
    },
  }
}
