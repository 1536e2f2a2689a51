import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import pino from 'pino'
import { type Address, createWalletClient, type Hex, http, type PublicClient } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { challengeLedgerAbi, jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { registerProvider, type TestSystem } from '../../devnet/testSystem.ts'
import { challengeDelayOf, challengeJobOf, challengeSeedOf } from '../../protocol/challengeJobs.ts'
import { TSR } from '../../protocol/units.ts'
import { waitFor } from '../../test/support/graphql.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../../test/support/stack.ts'
import { createDb } from '../db/createDb.ts'
import type { Database, Views } from '../db/database.ts'
import { upsertHeartbeat } from '../db/heartbeats.ts'
import { indexedBlock } from '../db/indexedBlock.ts'
import { migrateToLatest } from '../db/migrateToLatest.ts'
import { type ChallengeIssuerOptions, createChallengeIssuer } from './challengeIssuer.ts'
import type { AssignMeta } from './matcher.ts'
import { createAllowance } from './transact.ts'
import { createTransactionSender } from './transactionSender.ts'

// The challenge issuer restarted while the index trails the chain, on real indexed data: anvil + contracts, Ponder into
// Postgres, and issuers ticked by hand at the chain's latest time, each on a sender of its own as a restarted leader's
// would be. Ponder is held (SIGSTOP) across the restart, so the new issuer can't tell from the index whether a target
// due while no leader ran was sent. It must neither send it again nor leave its provider out while it can still tell:
// the target waits undecided, its input reserved, and is decided once the index holds everything the issuer sent:
// followed as the job the index shows, or sent late (test/challengeJobs.e2e.test.ts forces that one on the whole
// stack). An index that never catches up before the round's give-up leaves the target out, and the round is revealed.

const viewsSchema = 'chain_issuer_restore_test'
const giveUpSeconds = 300
/** Two providers, so a round has two targets. */
const providerCount = 2

let chain: IndexedTestChain
let system: TestSystem
let db: Kysely<Database>
let views: Views
let issuer: Address
let providers: Address[]
/** Every record the issuers logged, parsed. */
const logged: Record<string, unknown>[] = []
const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
let beats = 0n

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-issuer-restore-',
    viewsSchema,
    prepare: async (s) => {
      for (const p of s.accounts.providers.slice(0, providerCount)) await registerProvider(s, p)
      // The issuer (the matcher's key holds ISSUER_ROLE) escrows its challenge jobs: it needs TSR.
      await s.write(s.accounts.deployer, {
        address: s.token,
        abi: tesseraTokenAbi,
        functionName: 'transfer',
        args: [s.accounts.matcher.address, 100n * TSR],
      })
    },
  })
  system = chain.system
  issuer = system.accounts.matcher.address
  providers = system.accounts.providers.slice(0, providerCount).map((p) => p.address)
  db = createDb({ databaseUrl: chain.database.url }).db
  await migrateToLatest(db)
  views = db.withSchema(viewsSchema)
}, 240_000)

afterAll(async () => {
  chain?.ponder.process.kill('SIGCONT')
  await db?.destroy()
  await chain?.stop()
})

/** An issuer as the leader creates it, on a sender of its own: what a leader (re)started at this moment runs. */
function startIssuer(options: ChallengeIssuerOptions) {
  const publicClient = system.publicClient as PublicClient
  const account = system.accounts.matcher
  const walletClient = createWalletClient({ chain: system.chain, transport: http(system.rpcUrl), account })
  const sender = createTransactionSender<AssignMeta>({ publicClient, walletClient, log, confirmations: 1 })
  const blobs = new Map<string, Uint8Array>()
  return createChallengeIssuer({
    db,
    views,
    deployment: chain.deployment,
    publicClient,
    sender,
    issuer,
    readBlob: async (sha256) => blobs.get(sha256.toLowerCase()),
    writeBlob: async (bytes) => void blobs.set(`0x${createHash('sha256').update(bytes).digest('hex')}`, bytes),
    log,
    seedOf,
    allowance: createAllowance({ sender, publicClient, token: system.token, owner: issuer, spender: system.market }),
    now: () => Date.now() / 1000,
    options: { minProviders: providerCount, giveUpSeconds, deadlineSeconds: 600, ...options },
  })
}
type Issuer = ReturnType<typeof startIssuer>

/** Fresh heartbeats of every provider (server time), so each is live for the next tick. */
async function beat(): Promise<void> {
  for (const provider of providers)
    await upsertHeartbeat(db, { provider, timestamp: ++beats, signature: '0x', lastSeen: new Date(), models: [] })
}

/** One pass of `issuer` at the chain's latest time, its providers live, as the leader ticks it. */
async function tick(of: Issuer): Promise<void> {
  await beat()
  await of.tick((await system.publicClient.getBlock({ blockTag: 'latest' })).timestamp)
}

async function indexAtHead(): Promise<void> {
  await waitFor(
    'the index at the head',
    async () => {
      const head = await system.publicClient.getBlockNumber({ cacheTime: 0 })
      const indexed = await indexedBlock(views)
      return indexed && indexed.blockNumber >= head ? true : undefined
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
}

/**
 * Holds Ponder (SIGSTOP) until the returned function lets it go on (once; later calls do nothing): the index trails
 * every block mined meanwhile.
 */
function holdIndexer(): () => void {
  chain.ponder.process.kill('SIGSTOP')
  let held = true
  return () => {
    if (held) chain.ponder.process.kill('SIGCONT')
    held = false
  }
}

const getRound = async (round: bigint) =>
  (await system.publicClient.readContract({
    address: chain.deployment.contracts.ChallengeLedger.address,
    abi: challengeLedgerAbi,
    functionName: 'getRound',
    args: [round],
  })) as { committedAt: bigint; revealed: boolean }

const lastRound = async () =>
  (await system.publicClient.readContract({
    address: chain.deployment.contracts.ChallengeLedger.address,
    abi: challengeLedgerAbi,
    functionName: 'lastRound',
  })) as bigint

/** The inputs of the issuer's jobs on chain (read from the chain's logs, not the index) submitted in `round`'s time. */
async function inputsSentIn(round: bigint): Promise<Hex[]> {
  const { committedAt } = await getRound(round)
  const logs = await system.publicClient.getContractEvents({
    address: system.market,
    abi: jobMarketAbi,
    eventName: 'JobSubmitted',
    args: { requester: issuer },
    fromBlock: 0n,
  })
  const inputs: Hex[] = []
  for (const l of logs) {
    const { timestamp } = await system.publicClient.getBlock({ blockNumber: l.blockNumber })
    if (timestamp >= committedAt) inputs.push((l.args.spec as { inputHash: Hex }).inputHash.toLowerCase() as Hex)
  }
  return inputs.sort()
}

/** `round`'s secret seed, derived from the issuer's key as the issuer derives it. */
const seedOf = (round: bigint) =>
  challengeSeedOf({
    chainId: chain.deployment.chainId,
    ledger: chain.deployment.contracts.ChallengeLedger.address,
    round,
    sign: (message) => system.accounts.matcher.signMessage({ message }),
  })

/** Each provider's challenge input in `round`, as the issuer derives it from the round's seed. */
async function inputsOf(round: bigint): Promise<Map<Address, Hex>> {
  const seed = await seedOf(round)
  return new Map(providers.map((provider) => [provider, challengeJobOf({ seed, round, provider }).inputHash.toLowerCase() as Hex]))
}

/** The records `message` logged since `since` (the index in {@link logged}). */
const loggedAfter = (since: number, message: string) => logged.slice(since).filter((r) => r.msg === message)

/** Ticks `first` until round `round` is committed and all its targets are sent (spread 0: due at the commit). */
async function commitAndSend(first: Issuer, round: bigint): Promise<Hex[]> {
  return waitFor(
    `round ${round} committed and its jobs sent`,
    async () => {
      await tick(first)
      if ((await lastRound()) !== round) return undefined
      const sent = await inputsSentIn(round)
      return sent.length === providerCount ? sent : undefined
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
}

/**
 * A leader's issuer (one round every `epochsPerRound` epochs) commits round `round` and sends its jobs, then dies; a new
 * one, for that round only, takes its first pass. Returns the inputs sent, the new issuer, and where its logs start.
 */
async function restartAfterSending(round: bigint, epochsPerRound: number) {
  const first = startIssuer({ epochsPerRound, spreadSeconds: 0 })
  const sent = await commitAndSend(first, round)
  await first.close()
  const second = startIssuer({ epochsPerRound: 1_000_000, spreadSeconds: 0 })
  const since = logged.length
  await tick(second)
  return { sent, second, since }
}

describe('a restarted issuer while the index trails', () => {
  test('targets still undecided at the give-up are left out, their inputs freed, and the round is revealed', async () => {
    await beat()
    await indexAtHead()
    const release = holdIndexer()
    try {
      // The leader dies with both jobs mined, none indexed; a new one takes over.
      const { sent, second, since } = await restartAfterSending(1n, 1_000_000)
      expect(loggedAfter(since, 'challenge round restored')).toMatchObject([{ round: '1', jobs: 0, pending: 0, undecided: 2 }])
      const inputs = await inputsOf(1n)
      // Reserved for their providers meanwhile, as any of the round's jobs: sent or not, only that provider may run it.
      for (const [provider, inputHash] of inputs) expect(second.reservedFor({ requester: issuer, inputHash })).toBe(provider.toLowerCase())
      expect([...inputs.values()].sort()).toEqual(sent)
      // Undecided, the round waits: nothing sent again, nothing revealed.
      await tick(second)
      expect(await inputsSentIn(1n)).toEqual(sent)
      expect((await getRound(1n)).revealed).toBe(false)
      // The round's give-up passes and the index still trails.
      await system.increaseTime(giveUpSeconds)
      await tick(second)
      const [leftOut] = loggedAfter(
        since,
        'challenge targets left out: the index never held every job the issuer sent before the round gave up',
      )
      expect((leftOut?.providers as string[] | undefined)?.map((p) => p.toLowerCase()).sort()).toEqual(
        providers.map((p) => p.toLowerCase()).sort(),
      )
      expect((await getRound(1n)).revealed).toBe(true)
      for (const inputHash of inputs.values()) expect(second.reservedFor({ requester: issuer, inputHash })).toBeUndefined()
      expect(await inputsSentIn(1n)).toEqual(sent)
      await second.close()
    } finally {
      release()
    }
  }, 120_000)

  test('a target whose job was mined before the restart but not yet indexed is followed as that job once indexed, never sent again', async () => {
    await beat()
    await indexAtHead()
    // Round 1 is revealed; the next starts an emission epoch after it.
    await system.increaseTime(chain.deployment.params.emission.epochLength)
    const release = holdIndexer()
    try {
      const { sent, second, since } = await restartAfterSending(2n, 1)
      expect(loggedAfter(since, 'challenge round restored')).toMatchObject([{ round: '2', jobs: 0, pending: 0, undecided: 2 }])
      release()
      await indexAtHead()
      await tick(second)
      expect(loggedAfter(since, 'challenge round: due targets decided')).toMatchObject([{ round: '2', found: 2, late: 0 }])
      await tick(second)
      expect(await inputsSentIn(2n)).toEqual(sent)
      for (const [provider, inputHash] of await inputsOf(2n))
        expect(second.reservedFor({ requester: issuer, inputHash })).toBe(provider.toLowerCase())
      expect((await getRound(2n)).revealed).toBe(false)
      await second.close()
    } finally {
      release()
    }
  }, 120_000)

  test('a target due while no leader ran, and never sent, is sent late once the index shows it was not', async () => {
    await beat()
    await indexAtHead()
    // Round 2 ends at its give-up (its jobs are never run here); round 3 starts an epoch later.
    await system.increaseTime(giveUpSeconds)
    const spreadSeconds = 120
    const first = startIssuer({ epochsPerRound: 1, spreadSeconds })
    await waitFor(
      'round 3 committed',
      async () => {
        await tick(first)
        return (await lastRound()) === 3n ? true : undefined
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    await first.close()
    const { committedAt } = await getRound(3n)
    const seed = await seedOf(3n)
    const dueAt = providers.map(
      (provider) => committedAt + challengeDelayOf({ seed, round: 3n, provider, spreadSeconds: BigInt(spreadSeconds) }),
    )
    const sentBefore = await inputsSentIn(3n)
    expect(sentBefore.length, 'targets sent before the leader died').toBeLessThan(providerCount)
    // No leader while every target falls due; then one comes back with the index trailing.
    await system.increaseTime(spreadSeconds + 1)
    const now = await system.now()
    for (const at of dueAt) expect(now).toBeGreaterThan(at)
    const release = holdIndexer()
    try {
      const second = startIssuer({ epochsPerRound: 1_000_000, spreadSeconds })
      const since = logged.length
      await tick(second)
      const [restored] = loggedAfter(since, 'challenge round restored')
      expect(restored).toMatchObject({ round: '3', undecided: providerCount - sentBefore.length })
      expect(await inputsSentIn(3n)).toEqual(sentBefore)
      release()
      await indexAtHead()
      await tick(second)
      expect(loggedAfter(since, 'challenge round: due targets decided')).toMatchObject([
        { round: '3', found: 0, late: providerCount - sentBefore.length },
      ])
      // Each provider now has exactly one job in the round.
      expect(await inputsSentIn(3n)).toEqual([...(await inputsOf(3n)).values()].sort())
      await second.close()
    } finally {
      release()
    }
  }, 120_000)
})
