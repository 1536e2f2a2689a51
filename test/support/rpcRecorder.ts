import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One JSON-RPC request a client sent through the recorder (each request of a batch on its own). */
export type RecordedCall = { method: string; params: unknown[] }

export type RpcRecorder = {
  /** The recorder's URL, to give the client in place of the node's. */
  url: string
  /** Every request so far, in the order they came. */
  calls: RecordedCall[]
  stop: () => Promise<void>
}

/**
 * An HTTP JSON-RPC proxy in front of the node at `target` that keeps the method and params of every request it
 * forwards: what a client (Ponder, an agent) asked of the node, and how often.
 */
export async function startRpcRecorder(target: string): Promise<RpcRecorder> {
  const calls: RecordedCall[] = []
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'))
      for (const call of [parsed].flat() as { method?: unknown; params?: unknown }[])
        calls.push({ method: String(call.method), params: Array.isArray(call.params) ? call.params : [] })
    } catch {
      // Not JSON: forwarded as it came, for the node to answer with its parse error.
    }
    try {
      const answer = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      response.writeHead(answer.status, { 'content-type': 'application/json' })
      response.end(Buffer.from(await answer.arrayBuffer()))
    } catch (error) {
      response.writeHead(502, { 'content-type': 'text/plain' })
      response.end(`rpc recorder: ${target} did not answer: ${String(error)}`)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
