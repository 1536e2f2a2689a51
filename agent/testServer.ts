import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { Logger } from 'pino'
import { type Address, type Hex, type PrivateKeyAccount, parseEther, recoverMessageAddress } from 'viem'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { sampleJobSpec, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { type Deployment, stringifyDeployment } from '../protocol/deployment.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { heartbeatDomain, heartbeatMessage } from '../protocol/heartbeat.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { type AssignedJob, assignmentOf } from './chainAssignment.ts'
import type { JournalEntry } from './journal.ts'
import { makeInput } from './models/buildMlp.ts'
import { type RunAgentParameters, type RunAgentReturnType, runAgent } from './runAgent.ts'

/**
 * A stand-in for the Tessera server with just what an agent uses (`/deployment`, blobs, the heartbeat
 * mutation, the `jobAssignments` SSE subscription), so agent tests can run against a real chain without
 * Postgres and the indexer. Assignments are published by the test; `/deployment` answers 404 without a deployment.
 * Heartbeats are checked as the real server checks them, less the indexed registration and the clock: signed for
 * `chainId` (default the deployment's, else 31337) and the host they were sent to, each after the provider's last.
 */
export async function startTestServer(parameters: { deployment?: Deployment; chainId?: number } = {}) {
  const chainId = parameters.chainId ?? parameters.deployment?.chainId ?? 31337
  const blobs = new Map<string, Uint8Array>()
  /** Blobs answered 503 (retryable) while held, and how often each was asked for meanwhile. */
  const held = new Map<string, number>()
  /** Uploads stored, by hash: how many times each was accepted. */
  const uploads = new Map<string, number>()
  /** While set, every upload is answered 503 (retryable), stored nowhere. */
  const uploadHold = { on: false, refused: 0 }
  const heartbeats: { provider: Address; timestamp: number; models: Hex[] }[] = []
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
      if (uploadHold.on) {
        uploadHold.refused++
        return void res.writeHead(503).end('uploads held by the test')
      }
      blobs.set(hash, new Uint8Array(body))
      uploads.set(hash, (uploads.get(hash) ?? 0) + 1)
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sha256: hash, size: body.length }))
    } else if (req.method === 'GET' && url.pathname.startsWith('/blobs/')) {
      const hash = url.pathname.slice('/blobs/'.length).toLowerCase()
      const asked = held.get(hash)
      if (asked !== undefined) {
        held.set(hash, asked + 1)
        return void res.writeHead(503).end('held by the test')
      }
      const bytes = blobs.get(hash)
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
        const { provider, timestamp, models = [] } = variables as { provider: Address; timestamp: number; models?: Hex[] }
        const message = heartbeatMessage({ chainId, domain: heartbeatDomain(`http://${req.headers.host}`), provider, timestamp, models })
        const signer = await recoverMessageAddress({ message, signature: variables.signature as Hex })
        // As the real server: signed by the provider for this chain and host, and after its last accepted timestamp.
        const last = heartbeats.findLast((h) => h.provider.toLowerCase() === provider.toLowerCase())
        const refusal =
          signer.toLowerCase() !== provider.toLowerCase()
            ? 'bad signature'
            : last && timestamp <= last.timestamp
              ? `timestamp ${timestamp} is not after ${last.timestamp}`
              : undefined
        if (!refusal) heartbeats.push({ provider, timestamp, models })
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify(
              refusal ? { errors: [{ message: refusal, extensions: { code: 'HEARTBEAT_REJECTED' } }] } : { data: { heartbeat: true } },
            ),
          )
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
    held,
    uploads,
    uploadHold,
    heartbeats,
    connections,
    /** Publishes an assignment to its provider's open streams (and to later replays). */
    publish(a: TestAssignment): JobAssignment {
      const full = { ...a, cursor: String(nextCursor++), retracted: false }
      assignments.push(full)
      for (const s of subscribers) if (s.provider === a.provider.toLowerCase()) send(s.res, full)
      return full
    },
    /**
     * Retracts a published assignment, as the server does after a chain reorganisation removed it: gone from later
     * replays, and sent to open streams with the cursor just before its own (where to resume to see what replaced it).
     */
    retract(a: JobAssignment): JobAssignment {
      const index = assignments.findIndex((x) => x.cursor === a.cursor)
      if (index >= 0) assignments.splice(index, 1)
      const retraction = { ...a, cursor: String(Number(a.cursor) - 1), retracted: true }
      for (const s of subscribers) if (s.provider === a.provider.toLowerCase()) send(s.res, retraction)
      return retraction
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

/** An assignment as a test publishes it: the test server gives it its cursor. */
export type TestAssignment = Omit<JobAssignment, 'cursor' | 'retracted'>

/** An assignment of job `jobId` (slot 0, 4 units, made-up hashes) to `provider`, for `publish`. */
export function fakeAssignment(jobId: number, provider: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'): TestAssignment {
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

export type TestServer = Awaited<ReturnType<typeof startTestServer>>

/** What agents run against in a test: a deployed chain, a test server with its deployment, a folder for data dirs. */
export type AgentTestBed = { system: TestSystem; server: TestServer; root: string }

/**
 * Starts an {@link AgentTestBed} (the folder a fresh temporary one named `tmpPrefix…`), with providers 0 and 1 funded
 * with 5 000 TSR each and requester 0 with 100 000 TSR.
 */
export async function startAgentTestBed(tmpPrefix: string): Promise<AgentTestBed> {
  const system = await startTestSystem()
  const started: { server?: TestServer; root?: string } = {}
  try {
    started.server = await startTestServer({ deployment: system.deployment })
    started.root = await mkdtemp(path.join(os.tmpdir(), tmpPrefix))
    const { deployer, providers, requesters } = system.accounts
    const give = (to: Address, amount: bigint) =>
      system.write(deployer, { address: system.token, abi: tesseraTokenAbi, functionName: 'transfer', args: [to, amount] })
    for (const p of [providers[0], providers[1]]) await give(p.address, parseEther('5000'))
    await give(requesters[0].address, parseEther('100000'))
    return { system, server: started.server, root: started.root }
  } catch (error) {
    await started.server?.stop()
    await system.stop()
    if (started.root) await rm(started.root, { recursive: true, force: true })
    throw error
  }
}

/** Stops what {@link startAgentTestBed} started and removes the folder; a bed that never started is nothing to stop. */
export async function stopAgentTestBed(bed: AgentTestBed | undefined): Promise<void> {
  if (!bed) return
  await bed.server.stop()
  await bed.system.stop()
  await rm(bed.root, { recursive: true, force: true })
}

/** runAgent's parameters for `key` against the test bed, with its data dir `name` under the bed's folder; `extra` wins. */
export const testAgentParameters = (
  bed: AgentTestBed,
  log: Logger,
  key: Hex,
  name: string,
  extra: Partial<RunAgentParameters> = {},
): RunAgentParameters => ({
  privateKey: key,
  serverUrl: bed.server.url,
  rpcUrl: bed.system.rpcUrl,
  dataDir: path.join(bed.root, name),
  pricePerUnit: parseEther('0.001'),
  hardware: { benchmarkScore: 1000 },
  pollIntervalMs: 100,
  log: log.child({ agent: name }),
  ...extra,
})

/** Starts the agents of providers 0 and 1 (dev keys 2 and 3, data dirs p1 and p2), one after the other. */
export async function startTwoAgents(
  bed: AgentTestBed,
  log: Logger,
  extra: Partial<RunAgentParameters> = {},
): Promise<RunAgentReturnType[]> {
  const agents: RunAgentReturnType[] = []
  try {
    for (const [key, name] of [
      [devKeys[2], 'p1'],
      [devKeys[3], 'p2'],
    ] as const)
      agents.push(await runAgent(testAgentParameters(bed, log, key, name, extra)))
    return agents
  } catch (error) {
    await Promise.all(agents.map((a) => a.stop()))
    throw error
  }
}

/**
 * Submits a job of `rows` rows of a fresh input (`seed`) for `modelHash` as requester 0, assigns it to `providers` as
 * the matcher and publishes the assignments; returns its id. Straight to the chain: nothing checks that the job can
 * run. `units` (default `rows`) and `input` (the input blob's bytes) make one that can't; `tamper`: the server answers
 * the input's address with other bytes.
 */
export async function submitAndAssignJob(
  bed: AgentTestBed,
  parameters: {
    providers: PrivateKeyAccount[]
    modelHash: Hex
    seed: number
    rows: number
    units?: bigint
    input?: Uint8Array
    tamper?: boolean
    /** Whether the test server publishes the assignments (default true); false: only the chain knows of them. */
    publish?: boolean
    /** Awaited right before the assign is sent (a test pinning the assign block's timestamp, say). */
    beforeAssign?: () => Promise<void>
  },
): Promise<bigint> {
  const { system, server } = bed
  const { providers, modelHash, seed, rows } = parameters
  const units = parameters.units ?? BigInt(rows)
  const { requesters, matcher } = system.accounts
  const input = parameters.input ?? encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed, rows, inputSize: 16 }) })
  const inputHash = sha256Hex(input)
  server.blobs.set(inputHash, parameters.tamper ? encodeTensorBlob({ dims: [rows, 16], data: new Float32Array(rows * 16) }) : input)
  const maxPricePerUnit = parseEther('0.01')
  const escrow = await system.publicClient.readContract({
    address: system.market,
    abi: jobMarketAbi,
    functionName: 'quoteEscrow',
    args: [maxPricePerUnit, units, providers.length],
  })
  await system.write(requesters[0], { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [system.market, escrow] })
  const spec = await sampleJobSpec(system, { modelHash, inputHash, units, maxPricePerUnit, redundancy: providers.length })
  await system.write(requesters[0], { address: system.market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
  const jobId = (await system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'nextJobId' })) - 1n
  await parameters.beforeAssign?.()
  await system.write(matcher, {
    address: system.market,
    abi: jobMarketAbi,
    functionName: 'assign',
    args: [jobId, providers.map((p) => p.address)],
  })
  if (parameters.publish !== false) await publishAssignments(bed, jobId, providers)
  return jobId
}

/** Publishes `jobId`'s current assignment to each of `providers` (slot i to the i-th), as read from the chain. */
export async function publishAssignments(bed: AgentTestBed, jobId: bigint, providers: readonly PrivateKeyAccount[]): Promise<void> {
  const { system, server } = bed
  const job = await system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
  for (const [slot, p] of providers.entries()) server.publish(chainAssignment({ jobId, provider: p.address, slot, job }))
}

/** The assignment of `provider`'s `slot` of `jobId`, its job as the chain holds it, as a test publishes it: 0.001 TSR a unit. */
export function chainAssignment(parameters: { jobId: bigint; provider: Address; slot: number; job: AssignedJob }): TestAssignment {
  return assignmentOf({ ...parameters, ask: parseEther('0.001'), collateral: 0n })
}

/**
 * The journal entry for `jobId` of the agent with data dir `name`, read from the file it appends to (the last record
 * wins), as a restart would find it.
 */
export async function journaledEntry(bed: AgentTestBed, name: string, jobId: bigint): Promise<JournalEntry | undefined> {
  const dir = path.join(bed.root, name)
  const file = (await readdir(dir)).find((f) => f.startsWith('journal-') && f.endsWith('.jsonl'))
  if (!file) return undefined
  let entry: JournalEntry | undefined
  for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
    if (!line.trim()) continue
    const record = JSON.parse(line)
    if (record.kind === 'entry' && record.entry.jobId === String(jobId)) entry = record.entry
  }
  return entry
}
