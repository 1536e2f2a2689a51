import path from 'node:path'
import pino from 'pino'
import { type Address, type Hex, keccak256, toHex } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sendHeartbeat as sendSignedHeartbeat } from '../client/serverClient.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { freePort } from '../devnet/startAnvil.ts'
import { fund, inputHashOf, registerProvider, type TestSystem } from '../devnet/testSystem.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'
import { gqlData } from '../test/support/graphql.ts'
import { approveAndSubmitJob, sendHeartbeat, uploadRunnableJob } from '../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../test/support/stack.ts'
import { ServerConfigError } from './serverConfigError.ts'
import { type StartServerReturnType, startServer } from './startServer.ts'

// The whole path through real indexed data: anvil + contracts, Ponder into Postgres, and this
// server with its leader. Two providers heartbeat; a third, cheaper one does not (so liveness is
// what keeps it out). A k=2 job gets matched, assigned on chain, indexed, and streamed to each
// live provider's jobAssignments subscription exactly once.

const viewsSchema = 'chain_server_test'
let chain: IndexedTestChain
let system: TestSystem
let server: StartServerReturnType

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-server-e2e-',
    viewsSchema,
    prepare: async (system) => {
      const [p2, p3, p4] = system.accounts.providers
      await registerProvider(system, p2, { pricePerUnit: TSR / 100n })
      await registerProvider(system, p3, { pricePerUnit: TSR / 50n })
      await registerProvider(system, p4, { pricePerUnit: TSR / 1000n })
      await fund(system, system.accounts.requesters[0].address, 1000n * TSR)
    },
  })
  system = chain.system
  server = await startServer({
    databaseUrl: chain.database.url,
    viewsSchema,
    rpcUrl: system.rpcUrl,
    deployment: chain.deployment,
    serverKey: devKeys[1],
    port: 0,
    dataDir: path.join(chain.tmpDir, 'data'),
    log: pino({ level: process.env.TESSERA_TEST_VERBOSE ? 'debug' : 'silent' }),
  })
}, 240_000)

afterAll(async () => {
  stopping = true
  await server?.stop()
  await chain?.stop()
})

/** A connection as the queries below select it. */
type Connection<Node> = { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Node }[] }

const gql = <T>(query: string, variables?: Record<string, unknown>): Promise<T> => gqlData<T>(`${server.url}/graphql`, query, variables)

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

type Delivered = {
  cursor: string
  jobId: string
  provider: string
  slot: number
  pricePerUnit: string
  collateral: string
  job: { id: string; units: string; redundancy: number }
}

/** Opens `jobAssignments` over SSE (real HTTP) and collects every event until `close()`. */
const failures: Error[] = []
let stopping = false

function subscribe(provider: Address, after?: string) {
  const events: Delivered[] = []
  const controller = new AbortController()
  const query = `subscription($p: Address!, $after: String) { jobAssignments(provider: $p, after: $after) {
    cursor jobId provider slot pricePerUnit collateral commitDeadline
    job { id modelHash inputHash units outputTolerance redundancy deadline } } }`
  const done = (async () => {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query, variables: { p: provider, after } }),
      signal: controller.signal,
    })
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, i)
        buffer = buffer.slice(i + 2)
        const data = frame
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('')
        if (!frame.startsWith('event: next') || !data) continue
        const payload = JSON.parse(data) as { data?: { jobAssignments: Delivered }; errors?: unknown }
        if (payload.errors || !payload.data) throw new Error(`subscription error: ${JSON.stringify(payload.errors)}`)
        events.push(payload.data.jobAssignments)
      }
    }
  })().catch((error: Error) => {
    // Aborting (close) or the server stopping ends the stream; anything else is a failure to report.
    if (!controller.signal.aborted && !stopping) failures.push(error)
  })
  const close = async () => {
    controller.abort()
    await done
  }
  return { events, close }
}

const heartbeat = (account: PrivateKeyAccount) => sendHeartbeat(`${server.url}/graphql`, account)

async function submitJob(redundancy: number, deadline?: bigint) {
  // The matcher only assigns jobs a provider could run: a real model and an input that fits it.
  const spec = {
    ...(await uploadRunnableJob(server.url, system.accounts.requesters[0])),
    minVramMiB: 8192,
    regions: [encodeRegion('eu')],
    redundancy,
    deadline,
  }
  const { jobId, escrow } = await approveAndSubmitJob(system, system.accounts.requesters[0], spec)
  return { jobId, escrow }
}

/** Each of `results` commits its fingerprint to job `jobId`, then each reveals it. */
async function commitAndReveal(jobId: bigint, results: { account: PrivateKeyAccount; fingerprint: Hex }[]) {
  const opened = results.map(({ account, fingerprint }) => ({
    account,
    args: [jobId, fingerprint, keccak256(toHex(`output-${account.address}`)), keccak256(toHex(`salt-${account.address}`))] as const,
  }))
  const input = await inputHashOf(system, jobId)
  for (const { account, args } of opened) {
    const [, fingerprint, outputHash, salt] = args
    const commitment = commitmentOf({ jobId, provider: account.address, fingerprint, outputHash, salt })
    await system.write(account, {
      address: system.market,
      abi: jobMarketAbi,
      functionName: 'commitResult',
      args: [jobId, input, commitment],
    })
  }
  for (const { account, args } of opened)
    await system.write(account, { address: system.market, abi: jobMarketAbi, functionName: 'revealResult', args })
}

/**
 * How many assigns the leader's simulation refused so far (reverts it never sent): whole transactions (`failed`) and
 * calls left out of a batch (`refused`). Read from the leader's thread at each `/metrics`.
 */
async function refusedAssigns(): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  const lines = metrics.matchAll(/^tessera_server_leader_transactions_total\{action="assign",outcome="(?:failed|refused)"\} (\d+)$/gm)
  return [...lines].reduce((sum, line) => sum + Number(line[1]), 0)
}

describe('server on real indexed data', () => {
  test("the leader's thread leads, and its metrics reach the server's /metrics", async () => {
    await waitFor('tessera_server_leader 1 on /metrics', async () =>
      /^tessera_server_leader 1$/m.test(await (await fetch(`${server.url}/metrics`)).text()) ? true : undefined,
    )
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    // Summed with the server thread's own metrics, each once: the process's default metrics aren't doubled.
    expect(metrics.match(/^# TYPE tessera_server_leader gauge$/gm)).toHaveLength(1)
    expect(metrics.match(/^tessera_server_process_start_time_seconds \d+$/gm)).toHaveLength(1)
    expect(metrics).toMatch(/^tessera_server_leader_paused 0$/m)
  })

  test('ready, meta and providers come from the views schema', async () => {
    expect((await fetch(`${server.url}/ready`)).status).toBe(200)
    const data = await gql<{
      _meta: { block: string; lagBlocks: number; chainId: number }
      providers: Connection<{ address: Address; stake: string; live: boolean }>
    }>(`{ _meta { block lagBlocks chainId } providers(first: 10) { totalCount edges { node { address stake live } } } }`)
    expect(data._meta.chainId).toBe(31337)
    expect(BigInt(data._meta.block)).toBeGreaterThan(0n)
    expect(data.providers.totalCount).toBe(3)
    expect(data.providers.edges.map((e) => e.node.address)).toContain(system.accounts.providers[0].address)
    expect(data.providers.edges[0].node.stake).toBe((1000n * TSR).toString())
  })

  test('a k=2 job is matched to the two live providers and streamed to each exactly once', async () => {
    const [p2, p3, p4] = system.accounts.providers
    const s2 = subscribe(p2.address)
    const s3 = subscribe(p3.address)
    const s4 = subscribe(p4.address)
    await heartbeat(p2)
    await heartbeat(p3)
    const live = await gql<{ provider: { live: boolean } }>(`query($a: Address!) { provider(address: $a) { live lastHeartbeatAt } }`, {
      a: p2.address,
    })
    expect(live.provider.live).toBe(true)
    // The agent's client reports the models it holds warm, signed; the API serves them as the matcher reads them.
    const warm = [`0x${'ab'.repeat(32)}`, `0x${'0c'.repeat(32)}`] as const
    const sign = (message: string) => p2.signMessage({ message })
    // A second later than the heartbeat above: the server keeps only a newer signed timestamp.
    await sendSignedHeartbeat({
      serverUrl: server.url,
      chainId: system.deployment.chainId,
      provider: p2.address,
      sign,
      models: warm,
      now: () => Date.now() + 1000,
    })
    const reported = await gql<{ provider: { warmModels: string[] } }>(`query($a: Address!) { provider(address: $a) { warmModels } }`, {
      a: p2.address,
    })
    expect(reported.provider.warmModels).toEqual([warm[1], warm[0]])

    const quote = (max: bigint, k: number) =>
      gql<{ quote: { reason: string } }>(
        `query($s: QuoteInput!) { quote(spec: $s) { reason eligibleProviders pricePerUnit fees escrow collateralPerSlot } }`,
        {
          s: { units: '4', maxPricePerUnit: max.toString(), redundancy: k, minVramMiB: 8192, regions: [encodeRegion('eu')] },
        },
      ).then((d) => d.quote)
    expect(await quote(TSR / 10n, 2)).toEqual({
      reason: 'OK',
      eligibleProviders: 2,
      pricePerUnit: (TSR / 50n).toString(),
      fees: ((TSR / 100n) * 4n + (TSR / 50n) * 4n).toString(),
      escrow: (((TSR / 10n) * 8n * 11n) / 10n).toString(),
      collateralPerSlot: ((TSR / 10n) * 4n).toString(),
    })
    expect((await quote(TSR / 200n, 2)).reason).toBe('MAX_PRICE_TOO_LOW')
    expect((await quote(TSR / 10n, 3)).reason).toBe('TOO_FEW_LIVE_PROVIDERS')
    expect((await quote(TSR / 10n, 4)).reason).toBe('NOT_ENOUGH_PROVIDERS')

    const { jobId } = await submitJob(2)
    const id = jobId.toString()
    const [e2, e3] = await Promise.all(
      [s2, s3].map((s) => waitFor('the assignment on the subscription', async () => s.events.find((e) => e.jobId === id))),
    )
    expect(e2.provider).toBe(p2.address)
    expect(e3.provider).toBe(p3.address)
    expect(new Set([e2.slot, e3.slot])).toEqual(new Set([0, 1]))
    expect(e2.pricePerUnit).toBe((TSR / 100n).toString())
    expect(e2.collateral).toBe(((TSR / 100n) * 4n).toString()) // its own ask × units, not the max price
    expect(e2.job).toMatchObject({ id, units: '4', redundancy: 2 })

    const assigned = await waitFor('jobs(where: {status: ASSIGNED})', async () => {
      const d = await gql<{ jobs: Connection<{ id: string; assignments: { provider: Address }[] }> }>(
        `{ jobs(where: { status: ASSIGNED }) {
          totalCount edges { cursor node { id status assignments { provider slot price collateral outcome } } } } }`,
      )
      return d.jobs.totalCount > 0 ? d.jobs : undefined
    })
    expect(assigned.totalCount).toBe(1)
    expect(assigned.edges[0].node.id).toBe(id)
    expect(assigned.edges[0].node.assignments.map((a) => a.provider).sort()).toEqual([p2.address, p3.address].sort())

    // Nothing more arrives: once per (job, provider), and nothing for the provider with no heartbeat.
    await new Promise((r) => setTimeout(r, 2000))
    expect(s2.events.filter((e) => e.jobId === id)).toHaveLength(1)
    expect(s3.events.filter((e) => e.jobId === id)).toHaveLength(1)
    expect(s4.events).toEqual([])
    await Promise.all([s2.close(), s3.close(), s4.close()])

    // A new subscription replays from Postgres: everything without `after`, nothing after the last cursor.
    const replay = subscribe(p2.address)
    const resumed = subscribe(p2.address, e2.cursor)
    await waitFor('the replay', async () => (replay.events.length ? true : undefined))
    await new Promise((r) => setTimeout(r, 1000))
    expect(replay.events.map((e) => e.jobId)).toEqual([id])
    expect(replay.events[0]?.cursor).toBe(e2.cursor)
    expect(resumed.events).toEqual([])
    await Promise.all([replay.close(), resumed.close()])
    expect(failures).toEqual([])
    // Closed streams end their subscriptions on the server (no leaked listeners).
    await waitFor(
      'subscriptions to end',
      async () => {
        const metrics = await (await fetch(`${server.url}/metrics`)).text()
        return /^tessera_server_subscriptions_active 0$/m.test(metrics) ? true : undefined
      },
      10_000,
    )
  })

  test('a replica on another bus than the running one refuses to start, and leaves nothing running', async () => {
    const port = await freePort()
    const refused = startServer({
      databaseUrl: chain.database.url,
      viewsSchema,
      rpcUrl: system.rpcUrl,
      deployment: system.deployment,
      port,
      dataDir: path.join(chain.tmpDir, 'refused'),
      // A closed port: the refusal comes before any Redis is tried.
      redisUrl: 'redis://127.0.0.1:1',
      log: pino({ level: 'silent' }),
    })
    await expect(refused).rejects.toThrow(ServerConfigError)
    await expect(refused).rejects.toThrow(/Postgres LISTEN\/NOTIFY \(no REDIS_URL\).*Give every replica the same REDIS_URL, or none/)
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow()
    expect((await fetch(`${server.url}/ready`)).status).toBe(200)
  })

  test('a query as heavy as the limits allow runs on the query thread, answers as the request thread would, keeps its errors', async () => {
    const offloaded = async () => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      return Number(/^tessera_server_graphql_offloaded_total (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN)
    }
    const page = (first: number) =>
      `{ jobs(first: ${first}) { totalCount edges { cursor node { id status requester units assignments { provider slot outcome } } } } }`
    const before = await offloaded()
    const light = await gql(page(20))
    expect(await offloaded()).toBe(before)
    const heavy = await gql(page(1000))
    expect(await offloaded()).toBe(before + 1)
    expect(heavy).toEqual(light)
    // A user's mistake keeps its message and code from the query thread.
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ jobs(first: 1000, before: "x") { edges { node { id assignments { provider } } } } }' }),
    })
    const body = (await response.json()) as { errors: { message: string; extensions?: { code?: string } }[] }
    expect(body.errors[0]).toMatchObject({
      message: 'only forward pagination is supported: use first and after',
      extensions: { code: 'BAD_USER_INPUT' },
    })
    expect(await offloaded()).toBe(before + 2)
  })

  test('jobs connection pages with opaque cursors and filters by provider', async () => {
    const p2 = system.accounts.providers[0]
    const all = await gql<{ jobs: Connection<{ id: string }> }>(
      `{ jobs(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
    )
    expect(all.jobs.totalCount).toBe(1)
    expect(all.jobs.pageInfo.hasNextPage).toBe(false)
    const next = await gql<{ jobs: Connection<{ id: string }> }>(
      `query($c: String) { jobs(first: 1, after: $c) { edges { node { id } } } }`,
      { c: all.jobs.pageInfo.endCursor },
    )
    expect(next.jobs.edges).toEqual([])
    const mine = await gql<{ jobs: Connection<never> }>(
      `query($p: Address!) { jobs(where: { provider: $p, status_in: [ASSIGNED, OPEN] }) { totalCount } }`,
      {
        p: p2.address,
      },
    )
    expect(mine.jobs.totalCount).toBe(1)
    const bySubmit = await gql<{ jobs: Connection<{ id: string; requester: Address }> }>(
      `{ jobs(orderBy: SUBMITTED_AT, orderDirection: asc, where: { requester: "${system.accounts.requesters[0].address.toLowerCase()}" }) {
        totalCount edges { node { id requester } } } }`,
    )
    expect(bySubmit.jobs.edges[0].node.requester).toBe(system.accounts.requesters[0].address)

    // Keyset paging on a non-unique order column: cheapest first, one per page, three pages.
    const seen: string[] = []
    let after: string | null = null
    for (let page = 0; page < 4; page++) {
      const d: { providers: Connection<{ address: Address }> } = await gql(
        `query($a: String) { providers(first: 1, after: $a, orderBy: PRICE_PER_UNIT) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { address pricePerUnit } } } }`,
        { a: after },
      )
      seen.push(...d.providers.edges.map((e) => e.node.address))
      if (!d.providers.pageInfo.hasNextPage) break
      after = d.providers.pageInfo.endCursor
    }
    const [a2, a3, a4] = system.accounts.providers
    expect(seen).toEqual([a4.address, a2.address, a3.address])
    await expect(gql(`{ providers(first: 1001) { totalCount } }`)).rejects.toThrow(/first must be between 0 and 1000/)
    await expect(gql(`{ jobs(after: "bogus") { totalCount } }`)).rejects.toThrow(/invalid cursor/)
    const stats = await gql<{ marketStats: Record<string, unknown> }>(
      `{ marketStats { jobs providers liveProviders jobsByStatus { status count } } }`,
    )
    expect(stats.marketStats).toMatchObject({ jobs: 1, providers: 3, liveProviders: 2 })
    // The one job, in the bucket of its submission time; the last bucket holds the indexed head's time.
    const rate = await gql<{
      marketStats: { submissions: { start: string; seconds: number; jobs: number }[] }
      job: { submittedAt: string }
      _meta: { blockTimestamp: string }
    }>(
      `{ marketStats { submissions(bucketSeconds: 3600, buckets: 48) { start seconds jobs } } job(id: 1) { submittedAt } _meta { blockTimestamp } }`,
    )
    const buckets = rate.marketStats.submissions
    expect(buckets).toHaveLength(48)
    expect(buckets.every((b, i) => b.seconds === 3600 && (i === 0 || BigInt(b.start) === BigInt(buckets[i - 1]?.start ?? 0) + 3600n))).toBe(
      true,
    )
    const last = buckets[47] as { start: string }
    const head = BigInt(rate._meta.blockTimestamp)
    expect(BigInt(last.start) <= head && head < BigInt(last.start) + 3600n).toBe(true)
    const submitted = BigInt(rate.job.submittedAt)
    expect(buckets.filter((b) => b.jobs > 0)).toEqual([{ start: (submitted - (submitted % 3600n)).toString(), seconds: 3600, jobs: 1 }])
    await expect(gql('{ marketStats { submissions(buckets: 1001) { jobs } } }')).rejects.toThrow('buckets must be from 1 to 1000, got 1001')
    await expect(gql('{ marketStats { submissions(bucketSeconds: 0) { jobs } } }')).rejects.toThrow(
      'bucketSeconds must be from 1 to 86400, got 0',
    )
  })

  test('the keeper finalizes a revealed job and advances the epoch; emissionsVsUsage reads them', async () => {
    const [p2, p3] = system.accounts.providers
    const jobId = 1n
    const fingerprint = keccak256(toHex('the-answer'))
    await commitAndReveal(jobId, [
      { account: p2, fingerprint },
      { account: p3, fingerprint },
    ])
    // Nobody calls finalize but the keeper.
    const completed = await waitFor('the keeper to finalize job 1', async () => {
      const d = await gql<{
        job: { status: string; fees: string; burned: string; fingerprint: string; assignments: { outcome: string; settledAt: string }[] }
      }>(`{ job(id: "1") { status fees burned fingerprint assignments { provider outcome paid settledAt } payments { kind amount } } }`)
      return d.job.status === 'COMPLETED' ? d.job : undefined
    })
    expect(completed.fingerprint).toBe(fingerprint)
    expect(completed.assignments.map((a) => a.outcome)).toEqual(['AGREED', 'AGREED'])
    for (const a of completed.assignments) expect(BigInt(a.settledAt)).toBeLessThanOrEqual(await system.now())

    // Reputation: the two who agreed rise above a newcomer's 0.5 by one decayed agreed job; p4, never assigned, stays there.
    type Reputation = {
      reputation: number
      reputationDetail: { score: number; good: number; bad: number; halfLifeSeconds: number; at: string }
    }
    const reputations = await gql<{ providers: Connection<Reputation & { address: Address }> }>(
      `{ providers(first: 10) { edges { node { address reputation reputationDetail { score good bad halfLifeSeconds at } } } } }`,
    )
    const byAddress = new Map(reputations.providers.edges.map((e) => [e.node.address, e.node]))
    const settled = await system.now()
    for (const agreed of [p2, p3]) {
      const { reputation, reputationDetail } = byAddress.get(agreed.address) ?? expect.fail(`no ${agreed.address}`)
      expect(reputationDetail).toMatchObject({ bad: 0, halfLifeSeconds: 7 * 24 * 60 * 60 })
      // Settled moments ago (chain time): the one outcome weighs all but nothing less than 1.
      expect(BigInt(reputationDetail.at)).toBeLessThanOrEqual(settled)
      expect(reputationDetail.good).toBeGreaterThan(0.999)
      expect(reputationDetail.good).toBeLessThanOrEqual(1)
      expect(reputation).toBe(reputationDetail.score)
      expect(reputation).toBeCloseTo((reputationDetail.good + 2) / (reputationDetail.good + 4), 12)
    }
    expect(byAddress.get(system.accounts.providers[2].address)).toMatchObject({ reputation: 0.5, reputationDetail: { good: 0, bad: 0 } })
    const fees = (TSR / 100n) * 4n + (TSR / 50n) * 4n
    expect(completed.fees).toBe(fees.toString())
    expect(completed.burned).toBe((fees / 10n).toString())

    // Pass the epoch boundary; the keeper closes every ended epoch.
    await system.increaseTime(31)
    const withFees = await waitFor('the keeper to advance the epoch', async () => {
      const d = await gql<{ epochs: Connection<{ id: string; fees: string }> }>(
        `{ epochs(first: 100) { totalCount edges { node { id fees usageEmission availabilityEmission limiter } } } }`,
      )
      return d.epochs.edges.find((e) => BigInt(e.node.fees) > 0n)?.node
    })
    expect(withFees.fees).toBe(fees.toString())

    type Point = { epoch: string; emitted: string; usageEmission: string; availabilityEmission: string; coverage: number | null }
    const { emissionsVsUsage } = await gql<{
      emissionsVsUsage: { coverageTarget: number; totals: { fees: string; burned: string }; points: Point[] }
    }>(
      `query($f: BigInt!, $t: BigInt!) { emissionsVsUsage(from: $f, to: $t) {
      from to coverageTarget totals { fees burned emitted coverage }
      points { epoch fees burned jobFees jobsCompleted usageEmission availabilityEmission emitted coverage subsidyShare
        feeEma utilisation phi cap limiter } } }`,
      { f: '0', t: withFees.id },
    )
    const point = emissionsVsUsage.points.find((p) => p.epoch === withFees.id)
    if (!point) throw new Error(`no point for epoch ${withFees.id}`)
    expect(point).toMatchObject({ fees: fees.toString(), burned: (fees / 10n).toString(), jobFees: fees.toString(), jobsCompleted: 1 })
    expect(BigInt(point.emitted)).toBe(BigInt(point.usageEmission) + BigInt(point.availabilityEmission))
    if (BigInt(point.emitted) > 0n) expect(point.coverage).toBeCloseTo(Number(fees / 10n) / Number(point.emitted), 6)
    expect(emissionsVsUsage.coverageTarget).toBeCloseTo(10 / 3, 9) // τ / κ = 0.10 / 0.03
    expect(emissionsVsUsage.totals.fees).toBe(fees.toString())
    expect(emissionsVsUsage.totals.burned).toBe((fees / 10n).toString())
  })
  test('a dispute: DISPUTED at finalize, never matched back to its first round, expired by the keeper past its deadline', async () => {
    const [p2, p3, p4] = system.accounts.providers
    await heartbeat(p2)
    await heartbeat(p3)
    const { jobId, escrow } = await submitJob(2, (await system.now()) + 600n)
    const id = jobId.toString()
    type JobView = {
      status: string
      round: number
      disputedProviders: Address[]
      refunded: string | null
      assignments: { provider: Address; round: number; outcome: string }[]
    }
    const read = async () =>
      (
        await gql<{ job: JobView | null }>(
          `query($id: BigInt!) { job(id: $id) { status round disputedProviders refunded assignments { provider round outcome } } }`,
          { id },
        )
      ).job
    const reached = (status: string, by: string) =>
      waitFor(`${by} to make job ${id} ${status}`, async () => {
        const job = await read()
        return job?.status === status ? job : undefined
      })
    await reached('ASSIGNED', 'the matcher')
    await commitAndReveal(jobId, [
      { account: p2, fingerprint: keccak256(toHex('one answer')) },
      { account: p3, fingerprint: keccak256(toHex('another')) },
    ])
    // Outputs nobody can open (no blob behind either fingerprint): the keeper asks both providers to open one element,
    // in the first half of the proof window. Neither answers, so neither agrees with anyone.
    await waitFor('the keeper to ask both for an opening', async () => {
      const logs = await system.publicClient.getContractEvents({
        address: system.market,
        abi: jobMarketAbi,
        eventName: 'OpeningRequested',
        args: { jobId },
        fromBlock: 0n,
      })
      return logs.length === 2 ? logs : undefined
    })
    await system.increaseTime(system.deployment.params.market.proofWindow + 1n)
    // Nobody calls finalize but the keeper: no majority, the deadline ahead, so a tie-break is due.
    const disputed = await reached('DISPUTED', "the keeper's finalize")
    expect(disputed.disputedProviders).toEqual([p2.address, p3.address])
    expect(disputed.assignments.map((a) => [a.provider, a.round, a.outcome])).toEqual([
      [p2.address, 1, 'PENDING'],
      [p3.address, 1, 'PENDING'],
    ])

    // The cheapest live providers are its first round and p4 alone is fresh: the matcher must not even try.
    const refusedBefore = await refusedAssigns()
    await heartbeat(p2)
    await heartbeat(p3)
    await heartbeat(p4)
    await new Promise((r) => setTimeout(r, 3000))
    expect(await refusedAssigns()).toBe(refusedBefore)
    expect(await read()).toMatchObject({ status: 'DISPUTED', round: 1 })

    await system.increaseTime(601)
    const expired = await reached('EXPIRED', "the keeper's expire")
    expect(expired.refunded).toBe(escrow.toString())
    expect(expired.assignments.map((a) => a.outcome)).toEqual(['RELEASED', 'RELEASED'])
  })

  test('a partly claimed job is left to its claimer for a commit window, then the matcher assigns it and releases the claim', async () => {
    const [p2, p3, p4] = system.accounts.providers
    // A fourth provider, never live until it has claimed: with a k=4 job, at most three others live (p4's heartbeat of
    // the last test may still count), the matcher can't place the job before the claim, nor race it between the claim's
    // block and its indexing (CI once saw that refused assign when p4 was the claimer of a k=3 job).
    const p5 = privateKeyToAccount(devKeys[7])
    await registerProvider(system, p5, { pricePerUnit: TSR / 100n })
    const { claimGrace, commitWindow } = system.deployment.params.market
    await heartbeat(p2)
    await heartbeat(p3)
    const { jobId } = await submitJob(4, (await system.now()) + 3_600n)
    const id = jobId.toString()
    type JobView = { status: string; claimers: Address[]; claimed: boolean }
    const read = async () =>
      (await gql<{ job: JobView | null }>(`query($id: BigInt!) { job(id: $id) { status claimers claimed } }`, { id })).job
    await system.increaseTime(claimGrace)
    await system.write(p5, { address: system.market, abi: jobMarketAbi, functionName: 'claimJob', args: [jobId] })
    await waitFor(`p5's claim of job ${id} to be indexed`, async () => ((await read())?.claimers.length === 1 ? true : undefined))

    // Four live providers now, but p5 holds a slot: for a commit window the matcher must not even try (assign would
    // revert JobPartlyClaimed).
    const refusedBefore = await refusedAssigns()
    for (const p of [p2, p3, p4, p5]) await heartbeat(p)
    await new Promise((r) => setTimeout(r, 3000))
    expect(await refusedAssigns()).toBe(refusedBefore)
    expect(await read()).toMatchObject({ status: 'OPEN', claimers: [p5.address], claimed: false })

    // A commit window later the claim no longer holds it: the matcher assigns, releasing the claim first.
    await system.increaseTime(commitWindow + 1n)
    for (const p of [p2, p3, p4, p5]) await heartbeat(p)
    const assigned = await waitFor(`the matcher to assign job ${id}`, async () => {
      const job = await read()
      return job?.status === 'ASSIGNED' ? job : undefined
    })
    expect(assigned).toMatchObject({ claimers: [], claimed: false })
  })
})
