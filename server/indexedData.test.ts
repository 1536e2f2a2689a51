import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { ExecutionResult } from 'graphql'
import { createClient as createSseClient } from 'graphql-sse'
import { createClient as createWsClient } from 'graphql-ws'
import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import pino from 'pino'
import { keccak256, type PrivateKeyAccount, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { parseSse } from '../client/subscribeJobAssignments.ts'
import { emissionControllerAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider, type TestSystem } from '../devnet/testSystem.ts'
import { TSR } from '../protocol/units.ts'
import { approveAndSubmitJob, jobMarketOf } from '../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../test/support/stack.ts'
import { createYoga } from './createYoga.ts'
import type { Database } from './db/database.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'
import { createChangeFeed } from './leader/changeFeed.ts'
import { listenWhileLive } from './listen.ts'
import { serveWebSockets } from './serveWebSockets.ts'

// The API on real indexed data (anvil, Ponder into Postgres, the API in process through yoga.fetch): subscriptions,
// where each event is read from Postgres once and handed to every subscriber however many there are; WebSocket and
// graphql-sse beside Yoga's SSE; and the response cache, which answers a repeated query without Postgres until the
// indexed head moves. Every statement the server sends is counted, so "once" and "without" are measured.

const viewsSchema = 'subscriptions_test'
let chain: IndexedTestChain
let system: TestSystem
let yoga: ReturnType<typeof createYoga>['yoga']
let cached: ReturnType<typeof createYoga>
let pubsubTick: () => Promise<number>
let pool: pg.Pool
let requester: PrivateKeyAccount
const statements: { sql: string; parameters: readonly unknown[] }[] = []
/** Statements since `mark` that read the views' `job` table (for `jobId`, if given). */
const jobReads = (mark: number, jobId?: bigint) =>
  statements
    .slice(mark)
    .filter(
      (q) =>
        q.sql.includes(`"${viewsSchema}"."job"`) && (jobId === undefined || JSON.stringify(q.parameters).includes(`"${jobId.toString()}"`)),
    ).length

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-subscriptions-',
    viewsSchema,
    prepare: async (s) => {
      for (const p of s.accounts.providers.slice(0, 2)) await registerProvider(s, p)
      await fund(s, s.accounts.requesters[0].address, 1000n * TSR)
    },
  })
  system = chain.system
  requester = system.accounts.requesters[0]
  pool = new pg.Pool({ connectionString: chain.database.url, max: 10 })
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    plugins: [new CamelCasePlugin()],
    log: (event) => {
      if (event.level === 'query') statements.push({ sql: event.query.sql, parameters: event.query.parameters })
    },
  })
  await migrateToLatest(db)
  const created = createYoga({
    db,
    viewsSchema,
    deployment: chain.deployment,
    dataDir: path.join(chain.tmpDir, 'data'),
    watchIntervalMs: 25,
  })
  yoga = created.yoga
  cached = createYoga({
    db,
    viewsSchema,
    deployment: chain.deployment,
    dataDir: path.join(chain.tmpDir, 'data'),
    watchIntervalMs: 25,
    cacheResponses: true,
  })
  const feed = createChangeFeed({
    db,
    views: created.context.views,
    pubsub: created.pubsub,
    log: pino({ level: 'silent' }),
    resolveFeedName: async () => 'subscriptions-test',
  })
  pubsubTick = () => feed.tick()
}, 180_000)

afterAll(async () => {
  cached?.close()
  await pool?.end()
  await chain?.stop()
})

/**
 * An SSE subscription through yoga.fetch, read as it arrives (so the server runs it from the start, as a real client
 * makes it): `next()` gives each event's `data` in order, `close()` aborts the request.
 */
async function subscribe<T>(query: string, variables: Record<string, unknown> = {}) {
  const abort = new AbortController()
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  })
  expect(response.status).toBe(200)
  if (!response.body) throw new Error('no body')
  const received: { data?: T; errors?: unknown[] }[] = []
  let wake: (() => void) | undefined
  let ended = false
  void (async () => {
    try {
      for await (const event of parseSse(response.body as ReadableStream<Uint8Array>)) {
        if (event.event !== 'next') continue
        received.push(JSON.parse(event.data))
        wake?.()
      }
    } catch {
      // Aborted by close().
    } finally {
      ended = true
      wake?.()
    }
  })()
  let read = 0
  return {
    async next(timeoutMs = 20_000): Promise<T> {
      const deadline = Date.now() + timeoutMs
      while (read >= received.length) {
        if (ended) throw new Error(`the stream ended: ${query}`)
        if (Date.now() > deadline) throw new Error(`no event within ${timeoutMs} ms for ${query}`)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 100)
        })
      }
      const message = received[read++] as { data?: T; errors?: unknown[] }
      if (message.errors) throw new Error(JSON.stringify(message.errors))
      return message.data as T
    },
    close: () => abort.abort(),
  }
}

/** Resolves once `check` passes, polling. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const market = () => jobMarketOf(system)
const submit = () => approveAndSubmitJob(system, requester, { modelHash: keccak256(toHex('model')), inputHash: keccak256(toHex('input')) })

describe('subscriptions', () => {
  test('indexerHead: the head now, then each block the indexer processes', async () => {
    type Head = { indexerHead: { block: string; blockTimestamp: string } }
    const a = await subscribe<Head>('subscription { indexerHead { block blockTimestamp } }')
    const first = (await a.next()).indexerHead
    expect(BigInt(first.block)).toBeGreaterThan(0n)
    // A second subscriber gets the same head at once, without waiting for the next block.
    const b = await subscribe<Head>('subscription { indexerHead { block } }')
    expect((await b.next()).indexerHead.block).toBe(first.block)
    await submit()
    const moved = (await a.next()).indexerHead
    expect(BigInt(moved.block)).toBeGreaterThan(BigInt(first.block))
    expect(BigInt(moved.blockTimestamp)).toBeGreaterThanOrEqual(BigInt(first.blockTimestamp))
    expect((await b.next()).indexerHead.block).toBe(moved.block)
    a.close()
    b.close()
  })

  test('jobUpdated: 200 subscribers of a job each get each change, read from Postgres once per change', async () => {
    const { jobId } = await submit()
    type Update = { jobUpdated: { id: string; status: string; commitDeadline: string | null } }
    const query = 'subscription ($id: BigInt!) { jobUpdated(id: $id) { id status commitDeadline } }'
    const subscribers = await Promise.all(Array.from({ length: 200 }, () => subscribe<Update>(query, { id: jobId.toString() })))
    for (const s of subscribers)
      expect((await s.next()).jobUpdated).toMatchObject({ id: jobId.toString(), status: 'OPEN', commitDeadline: null })
    const mark = statements.length
    const provider = system.accounts.providers[0].address
    const second = system.accounts.providers[1].address
    await market().write(system.accounts.matcher, 'assign', [jobId, [provider, second]])
    for (const s of subscribers) {
      const update = (await s.next()).jobUpdated
      expect(update.status).toBe('ASSIGNED')
      expect(BigInt(update.commitDeadline ?? 0)).toBeGreaterThan(0n)
    }
    // One read per head move while watched (a block or two), not one per subscriber.
    expect(jobReads(mark, jobId)).toBeGreaterThan(0)
    expect(jobReads(mark, jobId)).toBeLessThan(10)
    for (const s of subscribers) s.close()
  })

  test('jobAssignments: 100 agents of one provider get an assignment with its job, the job read once', async () => {
    const provider = system.accounts.providers[0].address
    type Assignment = { jobAssignments: { jobId: string; job: { id: string; status: string; units: string } } }
    const query = 'subscription ($p: Address!) { jobAssignments(provider: $p) { jobId job { id status units } } }'
    await pubsubTick()
    const { jobId } = await submit()
    // Subscribed once the response has begun: the subscription listens before it replays what the provider had.
    const subscribers = await Promise.all(Array.from({ length: 100 }, () => subscribe<Assignment>(query, { p: provider })))
    // Let each replay what the provider had (the other tests' jobs, read per subscriber) before the live one.
    await new Promise((r) => setTimeout(r, 1000))
    await market().write(system.accounts.matcher, 'assign', [jobId, [provider, system.accounts.providers[1].address]])
    await until(
      'the assignment indexed',
      async () => (await pool.query(`select 1 from "${viewsSchema}".assignment where job_id = $1`, [jobId.toString()])).rowCount === 2,
    )
    // Earlier assignments replayed first (the other tests' jobs): read up to this one.
    const replayedUpTo = async (s: (typeof subscribers)[number]) => {
      for (;;) {
        const event = (await s.next()).jobAssignments
        if (event.jobId === jobId.toString()) return event
      }
    }
    const mark = statements.length
    expect(await pubsubTick()).toBeGreaterThan(0)
    for (const s of subscribers) {
      const live = await replayedUpTo(s)
      expect(live).toMatchObject({ jobId: jobId.toString(), job: { id: jobId.toString(), units: '4', status: 'ASSIGNED' } })
    }
    expect(jobReads(mark, jobId)).toBe(1)
    for (const s of subscribers) s.close()
  })

  test('jobAssignments as the transports take it: once caught up, listened to; a live assignment and its job in one step', async () => {
    const provider = system.accounts.providers[1].address
    type Assignment = { jobAssignments: { jobId: string; job: { id: string; units: string } } }
    const enveloped = yoga.getEnveloped({})
    const stream = (await enveloped.subscribe({
      schema: enveloped.schema,
      document: enveloped.parse('subscription ($p: Address!) { jobAssignments(provider: $p) { jobId job { id units } } }'),
      variableValues: { p: provider },
      contextValue: await enveloped.contextFactory(),
    })) as AsyncGenerator<ExecutionResult<Assignment>>
    const assign = async () => {
      const { jobId } = await submit()
      await market().write(system.accounts.matcher, 'assign', [jobId, [system.accounts.providers[0].address, provider]])
      await until(
        'the assignment indexed',
        async () => (await pool.query(`select 1 from "${viewsSchema}".assignment where job_id = $1`, [jobId.toString()])).rowCount === 2,
      )
      return jobId.toString()
    }
    await pubsubTick()
    // The replay (the other tests' assignments), then the first live one: through next(), which waited for it.
    let first: string | undefined
    const reading = (async () => {
      for (;;) if ((await stream.next()).value?.data?.jobAssignments.jobId === first) return
    })()
    await new Promise((r) => setTimeout(r, 1000))
    first = await assign()
    expect(await pubsubTick()).toBeGreaterThan(0)
    await reading
    const listened: Assignment['jobAssignments'][] = []
    const listening = listenWhileLive<ExecutionResult<Assignment>>(stream, (result) => {
      listened.push((result.data as Assignment).jobAssignments)
      return true
    })
    expect(listening, 'caught up, the stream the transports get can be listened to').toBeDefined()
    const second = await assign()
    expect(await pubsubTick()).toBeGreaterThan(0)
    await until('the listener got it', () => listened.length > 0, 5_000)
    expect(listened).toEqual([{ jobId: second, job: { id: second, units: '4' } }])
    await stream.return(undefined)
    await listening
  })

  test('epochAdvanced: the epoch the controller closes, to every subscriber', async () => {
    type Advanced = { epochAdvanced: { id: string; fees: string } }
    const subscribers = await Promise.all(
      Array.from({ length: 20 }, () => subscribe<Advanced>('subscription { epochAdvanced { id fees } }')),
    )
    // Let the watcher note the epochs already closed: those are history, not news.
    await new Promise((r) => setTimeout(r, 300))
    await system.increaseTime(chain.deployment.params.emission.epochLength * 2n)
    const controller = chain.deployment.contracts.EmissionController.address
    await system.write(system.accounts.deployer, { address: controller, abi: emissionControllerAbi, functionName: 'advanceEpoch' })
    const lastClosed = await system.read<bigint>({ address: controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' })
    for (const s of subscribers) {
      // Catch-up may close more than one epoch: each comes in order, the last one the controller closed among them.
      let got = BigInt((await s.next()).epochAdvanced.id)
      while (got < lastClosed) got = BigInt((await s.next()).epochAdvanced.id)
      expect(got).toBe(lastClosed)
    }
    for (const s of subscribers) s.close()
  })
})

describe("transports: WebSocket and graphql-sse beside Yoga's SSE", () => {
  let server: Server
  let webSockets: ReturnType<typeof serveWebSockets>
  let port: number
  beforeAll(async () => {
    server = createServer(yoga)
    webSockets = serveWebSockets({ server, yoga })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await webSockets?.close()
    await new Promise<void>((resolve) => server?.close(() => resolve()))
  })

  /** The first `count` results of `subscribe`'s operation, through a client with graphql-ws's or graphql-sse's sink API. */
  const firstResults = <T>(
    client: {
      subscribe: (
        payload: { query: string },
        sink: { next: (v: T) => void; error: (e: unknown) => void; complete: () => void },
      ) => () => void
    },
    query: string,
    count: number,
  ) =>
    new Promise<T[]>((resolve, reject) => {
      const results: T[] = []
      const unsubscribe = client.subscribe(
        { query },
        {
          next: (value) => {
            results.push(value)
            if (results.length === count) {
              unsubscribe()
              resolve(results)
            }
          },
          error: reject,
          complete: () => resolve(results),
        },
      )
    })

  test('graphql-transport-ws: a query and a subscription over one socket, with the same limits as HTTP', async () => {
    const client = createWsClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 })
    try {
      type Head = { data?: { indexerHead: { block: string } } }
      const [head] = await firstResults<Head>(client, 'subscription { indexerHead { block } }', 1)
      expect(BigInt(head?.data?.indexerHead.block ?? 0)).toBeGreaterThan(0n)
      type Meta = { data?: { _meta: { block: string } } }
      const [meta] = await firstResults<Meta>(client, '{ _meta { block } }', 1)
      expect(BigInt(meta?.data?._meta.block ?? 0)).toBeGreaterThanOrEqual(BigInt(head?.data?.indexerHead.block ?? 1))
      // Validation and the query limits run over the socket as over HTTP.
      await expect(firstResults(client, '{ nope }', 1)).rejects.toSatisfy(
        (errors: unknown) =>
          Array.isArray(errors) && errors.some((e: { message?: string }) => /Cannot query field "nope"/.test(e.message ?? '')),
      )
      const nest = (n: number): string => (n === 0 ? 'id' : `job { assignments { ${nest(n - 1)} } }`)
      const deep = `{ jobs(first: 1) { edges { node { assignments { ${nest(6)} } } } } }`
      await expect(firstResults(client, deep, 1)).rejects.toSatisfy(
        (errors: unknown) => Array.isArray(errors) && errors.some((e: { message?: string }) => /depth.*12/i.test(e.message ?? '')),
      )
    } finally {
      await client.dispose()
    }
  })

  test('graphql-sse single-connection mode: two operations over one event stream', async () => {
    const client = createSseClient({ url: `http://127.0.0.1:${port}/graphql/stream`, singleConnection: true, retryAttempts: 0 })
    try {
      type Head = { data?: { indexerHead: { block: string } } }
      const [a, b] = await Promise.all([
        firstResults<Head>(client, 'subscription { indexerHead { block } }', 1),
        firstResults<{ data?: { _meta: { chainId: number } } }>(client, '{ _meta { chainId } }', 1),
      ])
      expect(BigInt(a[0]?.data?.indexerHead.block ?? 0)).toBeGreaterThan(0n)
      expect(b[0]?.data?._meta.chainId).toBe(chain.deployment.chainId)
    } finally {
      client.dispose()
    }
  })
})

describe('response cache', () => {
  const post = async (query: string) => {
    const response = await cached.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    })
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] }
  }
  const viewReads = (mark: number) => statements.slice(mark).filter((q) => q.sql.includes(`"${viewsSchema}".`)).length

  test('a repeated query of indexed data is answered without Postgres until the head moves, then afresh', async () => {
    const query = '{ jobs(first: 3) { totalCount edges { node { id status } } } }'
    // The watcher has read the head once the cache is in force.
    await until('a cached answer', async () => {
      await post(query)
      const mark = statements.length
      await post(query)
      return viewReads(mark) === 0
    })
    const before = (await post(query)).data as { jobs: { totalCount: number } }
    const mark = statements.length
    for (let i = 0; i < 20; i++) expect((await post(query)).data).toEqual(before)
    expect(viewReads(mark)).toBe(0)
    // A new job moves the head: the next answers are read again and show it.
    await submit()
    await until(
      'the new job counted',
      async () => ((await post(query)).data as { jobs: { totalCount: number } }).jobs.totalCount > before.jobs.totalCount,
    )
  })

  test('heartbeat fields, _meta and marketStats always run', async () => {
    for (const query of [
      '{ providers(first: 2) { edges { node { address live } } } }',
      '{ _meta { block } }',
      '{ marketStats { jobs } }',
    ]) {
      await post(query)
      const mark = statements.length
      await post(query)
      expect(viewReads(mark) + statements.slice(mark).filter((q) => q.sql.includes('heartbeat')).length).toBeGreaterThan(0)
    }
  })
})
