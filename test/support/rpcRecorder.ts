import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'

/** One JSON-RPC request a client sent through the recorder (each request of a batch on its own), and how it came. */
export type RecordedCall = { method: string; params: unknown[]; transport: 'http' | 'ws' }

export type RpcRecorder = {
  /** The recorder's URL, to give the client in place of the node's (`ws://` on the same port for a WebSocket). */
  url: string
  /** Every request so far, in the order they came. */
  calls: RecordedCall[]
  /**
   * From now until {@link thaw}, answers every HTTP `eth_getBlockByNumber("latest", …)` with the block that was the
   * head when this was called: a poller sees no new block, only a WebSocket subscription does.
   */
  freezeHead: () => Promise<void>
  thaw: () => void
  stop: () => Promise<void>
}

type JsonRpcRequest = { id?: unknown; method?: unknown; params?: unknown }

/** The method and params of each request in `body` (one, or a batch); none when it isn't JSON. */
function requestsOf(body: string): JsonRpcRequest[] {
  try {
    return [JSON.parse(body) as unknown].flat() as JsonRpcRequest[]
  } catch {
    // Not JSON: forwarded as it came, for the node to answer with its parse error.
    return []
  }
}

/**
 * A JSON-RPC proxy in front of the node at `target` (HTTP, and WebSocket on the same port) that keeps the method and
 * params of every request it forwards: what a client (Ponder, an agent) asked of the node, and how often.
 */
export async function startRpcRecorder(target: string): Promise<RpcRecorder> {
  const calls: RecordedCall[] = []
  const record = (requests: JsonRpcRequest[], transport: RecordedCall['transport']) => {
    for (const call of requests)
      calls.push({ method: String(call.method), params: Array.isArray(call.params) ? call.params : [], transport })
  }
  /** The frozen head, by `eth_getBlockByNumber`'s second parameter (with transactions or not). */
  let frozen: Map<boolean, unknown> | undefined

  const forward = async (body: string) => {
    const answer = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    return { status: answer.status, body: Buffer.from(await answer.arrayBuffer()) }
  }

  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const requests = requestsOf(body.toString('utf8'))
    record(requests, 'http')
    const [only] = requests
    const params = Array.isArray(only?.params) ? only.params : []
    if (frozen && requests.length === 1 && only?.method === 'eth_getBlockByNumber' && params[0] === 'latest') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ jsonrpc: '2.0', id: only.id, result: frozen.get(params[1] === true) }))
      return
    }
    try {
      const answer = await forward(body.toString('utf8'))
      response.writeHead(answer.status, { 'content-type': 'application/json' })
      response.end(answer.body)
    } catch (error) {
      response.writeHead(502, { 'content-type': 'text/plain' })
      response.end(`rpc recorder: ${target} did not answer: ${String(error)}`)
    }
  })

  // Each WebSocket client gets a connection of its own to the node; messages pass both ways as they are.
  const sockets = new WebSocketServer({ server })
  sockets.on('connection', (client) => {
    const upstream = new WebSocket(target.replace(/^http/, 'ws'))
    const pending: string[] = []
    client.on('message', (data) => {
      const text = data.toString()
      record(requestsOf(text), 'ws')
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text)
      else pending.push(text)
    })
    upstream.on('open', () => {
      for (const text of pending.splice(0)) upstream.send(text)
    })
    upstream.on('message', (data) => client.readyState === WebSocket.OPEN && client.send(data.toString()))
    upstream.on('close', () => client.close())
    upstream.on('error', () => client.terminate())
    client.on('close', () => upstream.close())
    client.on('error', () => upstream.terminate())
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    async freezeHead() {
      const head = async (withTransactions: boolean) => {
        const answer = await forward(
          JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['latest', withTransactions] }),
        )
        return (JSON.parse(answer.body.toString('utf8')) as { result: unknown }).result
      }
      frozen = new Map([
        [false, await head(false)],
        [true, await head(true)],
      ])
    },
    thaw() {
      frozen = undefined
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of sockets.clients) client.terminate()
        sockets.close()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
