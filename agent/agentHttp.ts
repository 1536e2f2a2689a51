import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'

/**
 * `/health` (the process is up), `/ready` (registered, staked, subscribed) and `/metrics` on `port`
 * (0 picks a free one). Resolves with the bound URL and a close function.
 */
export async function startAgentHttp(parameters: {
  port: number
  host?: string
  registry: Registry
  ready: () => boolean
  status: () => Record<string, unknown>
}) {
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent')
    if (req.method !== 'GET') {
      res.writeHead(405).end()
      return
    }
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }))
    } else if (url.pathname === '/ready') {
      const ready = parameters.ready()
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready, ...parameters.status() }))
    } else if (url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': parameters.registry.contentType }).end(await parameters.registry.metrics())
    } else {
      res.writeHead(404).end()
    }
  })
  const host = parameters.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(parameters.port, host, () => resolve())
  })
  const { port } = server.address() as { port: number }
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
