import path from 'node:path'
import pino from 'pino'
import { createWalletClient, encodeFunctionData, type Hex, http, keccak256 } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { type JobAssignment, subscribeJobAssignments } from '../../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../../contracts/generated/index.ts'
import { fund, registerProvider, type TestSystem } from '../../devnet/testSystem.ts'
import { TSR } from '../../protocol/units.ts'
import { gqlData, waitFor } from '../../test/support/graphql.ts'
import { approveAndSubmitJob } from '../../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../../test/support/stack.ts'
import { decodeAssignmentCursor, digestAssignmentsBetween, endOfBlock } from '../db/assignments.ts'
import { createDb } from '../db/createDb.ts'
import { digestPublishedAssignments } from '../db/publishedAssignments.ts'
import { type StartServerReturnType, startServer } from '../startServer.ts'

// The change feed across a chain reorganisation, on real indexed data: anvil + contracts, Ponder into Postgres, and a
// server without a key (its leader runs the change feed only; the test plays the matcher). A provider's agent, as far
// as assignments go, follows `jobAssignments` through the client. A reorganisation orphans the block of the `assign`:
// Ponder rolls its row back and the subscriber gets the assignment again with `retracted: true`. Another one mines
// the same `assign` again two blocks earlier: the subscriber gets it, though it is before the position it had.

const viewsSchema = 'chain_feed_reorg_test'
const log = pino({ level: process.env.TESSERA_TEST_VERBOSE ? 'debug' : 'silent' })
let chain: IndexedTestChain
let system: TestSystem
let server: StartServerReturnType

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-feed-reorg-',
    viewsSchema,
    prepare: async (system) => {
      for (const p of system.accounts.providers.slice(0, 2)) await registerProvider(system, p, { pricePerUnit: TSR / 100n })
      await fund(system, system.accounts.requesters[0].address, 1000n * TSR)
    },
  })
  system = chain.system
  server = await startServer({
    databaseUrl: chain.database.url,
    viewsSchema,
    rpcUrl: system.rpcUrl,
    deployment: chain.deployment,
    port: 0,
    dataDir: path.join(chain.tmpDir, 'data'),
    log,
  })
}, 240_000)

afterAll(async () => {
  await server?.stop()
  await chain?.stop()
})

/** `anvil_reorg`: replaces the last `depth` blocks with as many new ones, holding `transactions` (raw, by block offset). */
const reorg = (depth: number, transactions: [Hex, number][] = []) =>
  system.testClient.request({ method: 'anvil_reorg', params: [depth, transactions] } as never)

/** Follows a provider's `jobAssignments` through the client, from `cursor`, collecting what comes until `stop()`. */
function follow(cursor?: string) {
  const provider = system.accounts.providers[0].address
  const controller = new AbortController()
  const received: JobAssignment[] = []
  const reading = (async () => {
    for await (const a of subscribeJobAssignments({ serverUrl: server.url, provider, cursor: () => cursor, signal: controller.signal }))
      received.push(a)
  })()
  return {
    received,
    /** Waits for an event that `match` accepts. */
    next: (what: string, match: (a: JobAssignment) => boolean) =>
      waitFor(what, async () => received.find(match), { timeoutMs: 30_000, intervalMs: 100 }),
    async stop() {
      controller.abort()
      await reading
    },
  }
}

test('a reorganisation that orphans an assign retracts it; the same assign mined again earlier is delivered again', async () => {
  const { matcher, requesters, providers } = system.accounts
  const subscriber = follow()
  try {
    const { jobId } = await approveAndSubmitJob(system, requesters[0], {
      modelHash: `0x${'11'.repeat(32)}`,
      inputHash: `0x${'22'.repeat(32)}`,
    })
    const id = jobId.toString()
    // Two empty blocks between the job and its assignment, for the assign to move back into.
    await system.testClient.mine({ blocks: 2 })
    const wallet = createWalletClient({ account: matcher, chain: system.chain, transport: http(system.rpcUrl) })
    const request = await wallet.prepareTransactionRequest({
      to: system.market,
      data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'assign', args: [jobId, [providers[0].address, providers[1].address]] }),
    })
    const assign = await wallet.signTransaction(request)
    const { blockNumber: assignedIn } = await system.publicClient.waitForTransactionReceipt({
      hash: await wallet.sendRawTransaction({ serializedTransaction: assign }),
    })

    const first = await subscriber.next('the assignment', (a) => a.jobId === id)
    expect(first.retracted).toBe(false)
    // What the feed published and what is indexed digest alike (each tick compares them so, and reads the window's
    // rows only when they differ): the same keys, hashed from the same text in both tables.
    const { db, pool } = createDb({ databaseUrl: chain.database.url, max: 1 })
    try {
      const through = endOfBlock(await system.publicClient.getBlockNumber({ cacheTime: 0 }))
      const feeds = await db.selectFrom('app.publishedAssignment').select('feed').distinct().execute()
      expect(feeds).toHaveLength(1)
      const published = await digestPublishedAssignments(db, { feed: feeds[0].feed, through })
      expect(published.count).toBe(2)
      expect(await digestAssignmentsBetween(db.withSchema(viewsSchema), { through })).toEqual(published)
      // Without the subscriber's assignment (and whatever precedes it), the window digests otherwise.
      const after = decodeAssignmentCursor(first.cursor)
      const fewer = await digestAssignmentsBetween(db.withSchema(viewsSchema), { after, through })
      expect(fewer.count).toBeLessThan(2)
      expect(fewer.hashSum).not.toBe(published.hashSum)
    } finally {
      await pool.end()
    }

    // The assign's block and the two empty ones before it are orphaned, for empty blocks.
    await reorg(3)
    const retraction = await subscriber.next('the retraction', (a) => a.jobId === id && a.retracted)
    expect(retraction).toMatchObject({ commitDeadline: first.commitDeadline, slot: first.slot, provider: first.provider })
    expect(retraction.cursor).not.toBe(first.cursor)

    // One block more, indexed before the next reorganisation: Ponder fetches each new block's logs by its hash, and a
    // block replaced between its fetch and its logs' fetch leaves Ponder retrying an unknown hash for good.
    await system.testClient.mine({ blocks: 1 })
    const head = await system.publicClient.getBlockNumber({ cacheTime: 0 })
    await waitFor(
      'the indexer past the reorganisation',
      async () => {
        const { _meta } = await gqlData<{ _meta: { block: string | null } }>(`${server.url}/graphql`, '{ _meta { block } }')
        return _meta.block !== null && BigInt(_meta.block) >= head ? true : undefined
      },
      { timeoutMs: 20_000 },
    )

    // The same assign mined again, two blocks before where it was.
    await reorg(4, [[assign, 0]])
    const { blockNumber: reassignedIn } = await system.publicClient.getTransactionReceipt({ hash: keccak256(assign) })
    expect(reassignedIn).toBeLessThan(assignedIn)
    const again = await subscriber.next('the assignment again', (a) => a.jobId === id && !a.retracted && a.cursor !== first.cursor)
    await new Promise((r) => setTimeout(r, 1000))
    expect(subscriber.received.filter((a) => a.jobId === id).map((a) => a.retracted)).toEqual([false, true, false])

    // Resuming from the retraction's cursor replays what replaced it, and nothing of what it replaced.
    const resumed = follow(retraction.cursor)
    try {
      await resumed.next('the replay', (a) => a.jobId === id)
      await new Promise((r) => setTimeout(r, 500))
      expect(resumed.received.map((a) => [a.jobId, a.cursor, a.retracted])).toEqual([[id, again.cursor, false]])
    } finally {
      await resumed.stop()
    }
  } finally {
    await subscriber.stop()
  }
})
