import { createServer, type ServerResponse } from 'node:http'
import { type Address, type Hex, recoverMessageAddress } from 'viem'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { type Deployment, stringifyDeployment } from '../protocol/deployment.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { heartbeatMessage } from '../protocol/heartbeat.ts'

/**
 * A stand-in for the Tessera server with just what an agent uses (`/deployment`, blobs, the heartbeat
 * mutation, the `jobAssignments` SSE subscription), so agent tests can run against a real chain without
 * Postgres and the indexer. Assignments are published by the test; `/deployment` answers 404 without a deployment.
 */
export async function startTestServer(parameters: { deployment?: Deployment } = {}) {
  const blobs = new Map<string, Uint8Array>()
  const heartbeats: { provider: Address; timestamp: number }[] = []
  const assignments: JobAssignment[] = []
  const subscribers = new Set<{ provider: string; res: ServerResponse }>()
  let nextCursor = 1
  const connections: { provider: string; after: string | null }[] = []

  const send = (res: ServerResponse, a: JobAssignment) =>
    res.write(`event: next\ndata: ${JSON.stringify({ data: { jobAssignments: a } })}\n\n`)

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    if (req.method === 'GET' && url.pathname === '/deployment') {
      if (!parameters.deployment) return void res.writeHead(404).end()
      res.writeHead(200, { 'content-type': 'application/json' }).end(stringifyDeployment(parameters.deployment))
    } else if (req.method === 'PUT' && url.pathname === '/blobs') {
      const hash = sha256Hex(body)
      const claimed = req.headers['x-content-sha256']
      if (claimed && claimed !== hash) return void res.writeHead(400).end('hash mismatch')
      blobs.set(hash, new Uint8Array(body))
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sha256: hash, size: body.length }))
    } else if (req.method === 'GET' && url.pathname.startsWith('/blobs/')) {
      const bytes = blobs.get(url.pathname.slice('/blobs/'.length).toLowerCase())
      if (!bytes) return void res.writeHead(404).end()
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes)
    } else if (req.method === 'POST' && url.pathname === '/graphql') {
      const { query, variables } = JSON.parse(body.toString())
      if (String(req.headers.accept).includes('text/event-stream') && query.includes('jobAssignments')) {
        const provider = String(variables.provider).toLowerCase()
        const after = variables.after ? Number(variables.after) : 0
        if (Number.isNaN(after)) {
          connections.push({ provider, after: variables.after })
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          const refusal = { errors: [{ message: 'invalid cursor', extensions: { code: 'BAD_USER_INPUT' } }] }
          res.end(`event: next\ndata: ${JSON.stringify(refusal)}\n\nevent: complete\ndata:\n\n`)
          return
        }
        connections.push({ provider, after: variables.after ?? null })
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        res.write(':\n\n')
        for (const a of assignments) if (a.provider.toLowerCase() === provider && Number(a.cursor) > after) send(res, a)
        const sub = { provider, res }
        subscribers.add(sub)
        res.on('close', () => subscribers.delete(sub))
      } else if (query.includes('heartbeat')) {
        const signer = await recoverMessageAddress({
          message: heartbeatMessage(variables.provider, variables.timestamp),
          signature: variables.signature as Hex,
        })
        const ok = signer.toLowerCase() === String(variables.provider).toLowerCase()
        if (ok) heartbeats.push({ provider: variables.provider, timestamp: variables.timestamp })
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(ok ? { data: { heartbeat: true } } : { errors: [{ message: 'bad signature' }] }))
      } else {
        res.writeHead(400).end()
      }
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    blobs,
    heartbeats,
    connections,
    /** Publishes an assignment to its provider's open streams (and to later replays). */
    publish(a: Omit<JobAssignment, 'cursor'>): JobAssignment {
      const full = { ...a, cursor: String(nextCursor++) }
      assignments.push(full)
      for (const s of subscribers) if (s.provider === a.provider.toLowerCase()) send(s.res, full)
      return full
    },
    /** Ends every open subscription stream (agents should reconnect). */
    dropStreams() {
      for (const s of subscribers) s.res.end()
      subscribers.clear()
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** An assignment of job `jobId` (slot 0, 4 units, made-up hashes) to `provider`, for `publish`. */
export function fakeAssignment(
  jobId: number,
  provider: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
): Omit<JobAssignment, 'cursor'> {
  return {
    jobId: String(jobId),
    provider,
    slot: 0,
    pricePerUnit: '1',
    collateral: '1',
    commitDeadline: '100',
    job: {
      id: String(jobId),
      modelHash: `0x${'11'.repeat(32)}`,
      inputHash: `0x${'22'.repeat(32)}`,
      units: '4',
      outputTolerance: 16,
      redundancy: 2,
      deadline: '200',
    },
  }
}
