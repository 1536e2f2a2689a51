/**
 * The floor of the subscriptions bench: a server with nothing but the sockets. It takes each assignment from the same
 * Postgres bus as the API (`BENCH_BUS_SCOPE`, one subscription to `BENCH_PROVIDER`), builds the message the agents'
 * selection gets (the job given as `BENCH_JOB`, JSON) once, and writes it to every subscriber: on each SSE response
 * as graphql-sse's `next` event, on each WebSocket as graphql-transport-ws's `next` message with that subscriber's id,
 * the same bytes for every subscriber of an id. No GraphQL, no per-subscriber stream or copy: what one write per
 * subscriber and event costs on the machine. Accepts any POST as a subscription and answers the WebSocket protocol's
 * `connection_init` and `subscribe`, enough for the bench's subscribers. Forked by `forkServerProcess`.
 */
import { createServer, type ServerResponse } from 'node:http'
import pino from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import { encodeAssignmentCursor } from '../server/db/assignments.ts'
import { connectAssignmentPubSub } from '../server/pubsub.ts'
import { benchEnv, reportToBench } from './forkServerProcess.ts'

const env = (name: string): string => benchEnv('bench/bareFanoutServer.ts', name)

const job: unknown = JSON.parse(env('BENCH_JOB'))
const streams = new Set<ServerResponse>()
const sockets = new Map<WebSocket, string>()

const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(':\n\n')
    streams.add(res)
    res.on('close', () => streams.delete(res))
  })
})
server.requestTimeout = 0
new WebSocketServer({ server, path: '/graphql' }).on('connection', (socket) => {
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as { type: string; id?: string }
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}')
    else if (message.type === 'subscribe' && message.id) sockets.set(socket, message.id)
  })
  socket.on('close', () => sockets.delete(socket))
})

const pubsub = await connectAssignmentPubSub({
  databaseUrl: env('BENCH_DATABASE_URL'),
  scope: env('BENCH_BUS_SCOPE'),
  log: pino({ level: 'warn' }),
})
const feed = pubsub.subscribe(env('BENCH_PROVIDER'))
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
reportToBench(server)

for await (const live of feed) {
  if (live.type !== 'assignment') continue
  const e = live.assignment
  const payload = JSON.stringify({
    data: {
      jobAssignments: {
        cursor: encodeAssignmentCursor(e),
        retracted: false,
        jobId: e.jobId.toString(),
        provider: e.provider,
        slot: e.slot,
        pricePerUnit: e.pricePerUnit.toString(),
        collateral: e.collateral.toString(),
        commitDeadline: e.commitDeadline.toString(),
        job,
      },
    },
  })
  // One buffer per event for every SSE response, written straight to its socket as one chunk (`res.write` would cork
  // every socket until the loop is done), and one per id for the WebSockets (`ws` frames it without copying).
  const event = `event: next\ndata: ${payload}\n\n`
  const chunk = Buffer.from(`${Buffer.byteLength(event).toString(16)}\r\n${event}\r\n`)
  for (const res of streams) res.socket?.write(chunk)
  const messages = new Map<string, Buffer>()
  for (const [socket, id] of sockets) {
    let message = messages.get(id)
    if (!message) {
      message = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`)
      messages.set(id, message)
    }
    socket.send(message, { binary: false })
  }
}
