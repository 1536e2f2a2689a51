import path from 'node:path'
import type { Kysely } from 'kysely'
import { type Address, encodeAbiParameters, type Hex, keccak256, maxUint256, type PrivateKeyAccount, parseEventLogs, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { challengeLedgerAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { registerProvider, type TestSystem } from '../devnet/testSystem.ts'
import { AuditKind } from '../protocol/spotCheck.ts'
import { TSR } from '../protocol/units.ts'
import { createYoga } from '../server/createYoga.ts'
import { createDb } from '../server/db/createDb.ts'
import type { Database } from '../server/db/database.ts'
import { migrateToLatest } from '../server/db/migrateToLatest.ts'
import { type Fetch, gqlData, waitFor } from '../test/support/graphql.ts'
import { disagreementOf } from '../test/support/labelledOutputs.ts'
import { jobMarketOf, labelledResult, runMarketRound, submitOptimisticJob } from '../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../test/support/stack.ts'

// Known-answer challenge jobs as the indexer records them and the server serves them: anvil + contracts, Ponder into
// Postgres, and the GraphQL API in process. The test plays the issuer (the matcher's key holds ISSUER_ROLE), providers
// and keeper with direct contract calls: a round committed, one optimistic challenge answered right and settled
// unaudited, one answered wrong, challenged by the issuer and overturned by its audit, both recorded, the seed revealed.

const viewsSchema = 'chain_challenges_test'
const CENT = TSR / 100n
const maxUint64 = 2n ** 64n - 1n

let chain: IndexedTestChain
let system: TestSystem
let market: ReturnType<typeof jobMarketOf>
let db: Kysely<Database>
let fetchFn: Fetch
let cast: PrivateKeyAccount[]
let issuer: PrivateKeyAccount
let ledger: Address
const graphqlUrl = 'http://localhost/graphql'

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-challenges-',
    viewsSchema,
    prepare: async (s) => {
      const providers = [...s.accounts.providers, privateKeyToAccount(devKeys[7])]
      for (const p of providers) await registerProvider(s, p, { pricePerUnit: CENT })
      // The issuer submits its challenge jobs and posts the bond of a challenge: it needs TSR and JobMarket's allowance.
      const { deployer, matcher } = s.accounts
      await s.write(deployer, { address: s.token, abi: tesseraTokenAbi, functionName: 'transfer', args: [matcher.address, 1000n * TSR] })
      await s.write(matcher, { address: s.token, abi: tesseraTokenAbi, functionName: 'approve', args: [s.market, maxUint256] })
    },
  })
  system = chain.system
  market = jobMarketOf(system)
  cast = [...system.accounts.providers, privateKeyToAccount(devKeys[7])]
  issuer = system.accounts.matcher
  ledger = chain.deployment.contracts.ChallengeLedger.address
  db = createDb({ databaseUrl: chain.database.url }).db
  await migrateToLatest(db)
  const { yoga } = createYoga({ db, viewsSchema, deployment: chain.deployment, dataDir: path.join(chain.tmpDir, 'data') })
  fetchFn = (url, init) => yoga.fetch(url, init)
}, 240_000)

afterAll(async () => {
  await db?.destroy()
  await chain?.stop()
})

const P = () => chain.deployment.params.market
const seedOf = (label: string): Hex => keccak256(toHex(`seed:${label}`))
const seedHashOf = (seed: Hex) => keccak256(encodeAbiParameters([{ type: 'bytes32' }], [seed]))

const writeLedger = (functionName: string, args: readonly unknown[]) =>
  system.write(issuer, { address: ledger, abi: challengeLedgerAbi, functionName, args })

function ledgerEvent(receipt: Awaited<ReturnType<typeof writeLedger>>, eventName: string): Record<string, unknown> {
  return (
    parseEventLogs({ abi: challengeLedgerAbi, logs: receipt.logs, eventName: eventName as never })[0] as { args: Record<string, unknown> }
  ).args
}

/** A GraphQL query's data, once `accept` holds for it (the indexer follows the chain within a second or so). */
async function onceIndexed<T>(what: string, query: string, variables: Record<string, unknown>, accept: (data: T) => boolean): Promise<T> {
  return waitFor(
    what,
    async () => {
      const data = await gqlData<T>(graphqlUrl, query, variables, fetchFn)
      return accept(data) ? data : undefined
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )
}

type ChallengeData = {
  round: string
  jobId: string
  provider: Address
  passed: boolean
  unitsPerHour: string
  timestamp: string
  txHash: Hex
}
type ProviderChallengeData = {
  challengesPassed: number
  challengesFailed: number
  attestedCapacity: string
  lastChallengedAt: string | null
  reputationDetail: { score: number; good: number; bad: number }
  challenges: ChallengeData[]
  stake: string
  locked: string
  pendingUnstake: string
  slashCount: number
}
const providerQuery = `query ($a: Address!) { provider(address: $a) {
  challengesPassed challengesFailed attestedCapacity lastChallengedAt reputationDetail { score good bad }
  stake locked pendingUnstake slashCount challenges(first: 10) { round jobId provider passed unitsPerHour timestamp txHash } } }`
const providerOnceIndexed = (who: PrivateKeyAccount, what: string, accept: (p: ProviderChallengeData) => boolean) =>
  onceIndexed<{ provider: ProviderChallengeData | null }>(
    what,
    providerQuery,
    { a: who.address },
    (d) => !!d.provider && accept(d.provider),
  ).then((d) => d.provider as ProviderChallengeData)

type JobChallengeData = { status: string; challenge: { round: string; passed: boolean; unitsPerHour: string } | null }
const jobQuery = 'query ($id: BigInt!) { job(id: $id) { status challenge { round passed unitsPerHour } } }'
const jobOnceIndexed = (jobId: bigint, what: string, accept: (j: JobChallengeData) => boolean) =>
  onceIndexed<{ job: JobChallengeData | null }>(
    `job ${jobId}: ${what}`,
    jobQuery,
    { id: jobId.toString() },
    (d) => !!d.job && accept(d.job),
  ).then((d) => d.job as JobChallengeData)

type RoundData = {
  round: string
  seedHash: Hex
  seed: Hex | null
  committedAt: string
  revealedAt: string | null
  recorded: number
  passed: number
  failed: number
}
type RoundsData = {
  challengeRounds: { edges: { cursor: string; node: RoundData }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }
}
const roundsQuery = `query ($first: Int, $after: String, $dir: OrderDirection) { challengeRounds(first: $first, after: $after, orderDirection: $dir) {
  edges { cursor node { round seedHash seed committedAt revealedAt recorded passed failed } } pageInfo { hasNextPage endCursor } } }`
const rounds = (variables: Record<string, unknown> = {}) => gqlData<RoundsData>(graphqlUrl, roundsQuery, variables, fetchFn)

const round1Seed = seedOf('round 1')
let passedJob: bigint
let committedAt: bigint

describe('challenge jobs, indexed and served', () => {
  test('a committed round is served with its seed hash, no seed and no records', async () => {
    const receipt = await writeLedger('commitRound', [seedHashOf(round1Seed)])
    expect(ledgerEvent(receipt, 'RoundCommitted')).toEqual({ round: 1n, seedHash: seedHashOf(round1Seed) })
    committedAt = (await system.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp
    const { challengeRounds } = await onceIndexed<RoundsData>(
      'round 1 committed',
      roundsQuery,
      {},
      (d) => d.challengeRounds.edges.length > 0,
    )
    expect(challengeRounds.edges.map((e) => e.node)).toEqual([
      {
        round: '1',
        seedHash: seedHashOf(round1Seed),
        seed: null,
        committedAt: committedAt.toString(),
        revealedAt: null,
        recorded: 0,
        passed: 0,
        failed: 0,
      },
    ])
    // Never challenged: no counts, no capacity attested, a newcomer's reputation.
    expect(await providerOnceIndexed(cast[0], 'registered', () => true)).toMatchObject({
      challengesPassed: 0,
      challengesFailed: 0,
      attestedCapacity: '0',
      lastChallengedAt: null,
      reputationDetail: { score: 0.5, good: 0, bad: 0 },
      challenges: [],
      slashCount: 0,
    })
  })

  test('a challenge answered right: not a challenge until recorded, then counted, its capacity attested, its evidence counted once', async () => {
    // Optimistic jobs until one the spot check leaves alone (8 % are picked): it settles after its challenge window.
    for (let tries = 0; tries < 40 && !passedJob; tries++) {
      const { jobId } = await submitOptimisticJob(system, issuer)
      await runMarketRound(system, jobId, [cast[0]], [labelledResult('truth')])
      await system.testClient.mine({ blocks: 2 })
      if ((await market.read<number>('spotCheckOf', [jobId])) === AuditKind.None) passedJob = jobId
    }
    expect(passedJob).toBeDefined()
    await system.increaseTime(P().challengeWindow + 1n)
    await market.write(system.accounts.deployer, 'finalize', [passedJob])
    // Settled, but nothing on chain says it was a challenge yet.
    expect(await jobOnceIndexed(passedJob, 'completed', (j) => j.status === 'COMPLETED')).toEqual({ status: 'COMPLETED', challenge: null })
    const before = await providerOnceIndexed(cast[0], 'its job agreed', (p) => p.reputationDetail.good > 0)

    // At the type's maximum: a uint64 of units per hour is stored and served whole.
    const receipt = await writeLedger('record', [1n, passedJob, cast[0].address, true, maxUint64])
    expect(ledgerEvent(receipt, 'ChallengeRecorded')).toEqual({
      round: 1n,
      jobId: passedJob,
      provider: cast[0].address,
      passed: true,
      unitsPerHour: maxUint64,
    })
    const recordedAt = (await system.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp
    const after = await providerOnceIndexed(cast[0], 'challenge passed', (p) => p.challengesPassed === 1)
    expect(after).toMatchObject({
      challengesPassed: 1,
      challengesFailed: 0,
      attestedCapacity: maxUint64.toString(),
      lastChallengedAt: recordedAt.toString(),
      challenges: [
        {
          round: '1',
          jobId: passedJob.toString(),
          provider: cast[0].address,
          passed: true,
          unitsPerHour: maxUint64.toString(),
          timestamp: recordedAt.toString(),
          txHash: receipt.transactionHash,
        },
      ],
    })
    // A passed challenge is an agreement's worth of good evidence, counted once: the record stands for the job's
    // agreement, which counted before it was known to be a challenge.
    expect(before.reputationDetail.good).toBeCloseTo(1, 2)
    expect(after.reputationDetail.good).toBeCloseTo(1, 2)
    expect(after.reputationDetail.bad).toBe(before.reputationDetail.bad)
    expect(await jobOnceIndexed(passedJob, 'recorded', (j) => j.challenge !== null)).toEqual({
      status: 'COMPLETED',
      challenge: { round: '1', passed: true, unitsPerHour: maxUint64.toString() },
    })
  })

  test('a challenge answered wrong: overturned by its audit, recorded as failed, the capacity withdrawn, its evidence counted once', async () => {
    const { jobId } = await submitOptimisticJob(system, issuer)
    await runMarketRound(system, jobId, [cast[0]], [labelledResult('lie')])
    // The issuer knows the answer: it challenges the wrong one, and fresh providers audit it.
    await market.write(issuer, 'challenge', [jobId])
    await runMarketRound(system, jobId, [cast[1]], [labelledResult('truth')])
    const proof = disagreementOf('lie', 'truth')
    if (!proof) throw new Error('lie and truth agree')
    await market.write(issuer, 'proveDisagreement', [jobId, cast[0].address, proof.a, cast[1].address, proof.b])
    await system.increaseTime(P().proofWindow + 1n)
    await market.write(system.accounts.deployer, 'finalize', [jobId])
    // Still live (the tie-break of two judges): the ledger refuses to record it, and GraphQL calls it no challenge.
    await expect(writeLedger('record', [1n, jobId, cast[0].address, false, 0n])).rejects.toThrow(/JobNotSettled/)
    expect(await jobOnceIndexed(jobId, 'escalated', (j) => j.status === 'DISPUTED')).toEqual({ status: 'DISPUTED', challenge: null })
    await runMarketRound(system, jobId, [cast[2], cast[3]], [labelledResult('truth'), labelledResult('truth')])
    await system.increaseTime(P().proofWindow + 1n)
    await market.write(system.accounts.deployer, 'finalize', [jobId])
    await jobOnceIndexed(jobId, 'completed', (j) => j.status === 'COMPLETED')
    const before = await providerOnceIndexed(cast[0], 'its lie dissented', (p) => p.reputationDetail.bad > 0)

    const receipt = await writeLedger('record', [1n, jobId, cast[0].address, false, 1200n])
    const recordedAt = (await system.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp
    const after = await providerOnceIndexed(cast[0], 'challenge failed', (p) => p.challengesFailed === 1)
    // The audit confirmed the failure: the stake beyond the locked collateral is burned, one more slash, and the mirror
    // matches the registry.
    const onChain = await system.read<{ stake: bigint; locked: bigint; pendingUnstake: bigint }>({
      address: system.registry,
      abi: providerRegistryAbi,
      functionName: 'getProvider',
      args: [cast[0].address],
    })
    expect(onChain.stake).toBe(onChain.locked)
    expect(after).toMatchObject({
      challengesPassed: 1,
      challengesFailed: 1,
      // A failed challenge attests nothing, whatever throughput it showed, until the provider passes again.
      attestedCapacity: '0',
      lastChallengedAt: recordedAt.toString(),
      stake: onChain.stake.toString(),
      locked: onChain.locked.toString(),
      pendingUnstake: '0',
      slashCount: before.slashCount + 1,
    })
    expect(BigInt(before.stake)).toBeGreaterThan(onChain.stake)
    // Newest first.
    expect(after.challenges.map((c) => [c.jobId, c.passed, c.unitsPerHour, c.txHash])).toEqual([
      [jobId.toString(), false, '1200', receipt.transactionHash],
      [passedJob.toString(), true, maxUint64.toString(), expect.any(String)],
    ])
    expect(
      (
        await gqlData<{ provider: { challenges: unknown[] } }>(
          graphqlUrl,
          providerQuery.replace('first: 10', 'first: 1'),
          { a: cast[0].address },
          fetchFn,
        )
      ).provider.challenges,
    ).toHaveLength(1)
    // A failed challenge is a dissent's worth of bad evidence (fresh: weight ~2), counted once: the record stands for
    // the job's dissent.
    expect(before.reputationDetail.bad).toBeCloseTo(2, 2)
    expect(after.reputationDetail.bad).toBeCloseTo(2, 2)
    expect(after.reputationDetail.score).toBeLessThan(0.5)
    expect(await jobOnceIndexed(jobId, 'recorded', (j) => j.challenge !== null)).toEqual({
      status: 'COMPLETED',
      challenge: { round: '1', passed: false, unitsPerHour: '1200' },
    })
    // The auditor and judges ran it as a paid job: not challenged themselves.
    const auditor = await providerOnceIndexed(cast[1], 'auditor', () => true)
    expect(auditor).toMatchObject({
      challengesPassed: 0,
      challengesFailed: 0,
      attestedCapacity: '0',
      lastChallengedAt: null,
      challenges: [],
    })
  })

  test('the revealed round shows its seed and counts; rounds page newest first', async () => {
    // A wrong seed is refused; the right one reveals the round.
    await expect(writeLedger('revealRound', [1n, seedOf('wrong')])).rejects.toThrow(/SeedMismatch/)
    const revealed = await writeLedger('revealRound', [1n, round1Seed])
    expect(ledgerEvent(revealed, 'RoundRevealed')).toEqual({ round: 1n, seed: round1Seed })
    const revealedAt = (await system.publicClient.getBlock({ blockNumber: revealed.blockNumber })).timestamp
    const round2Seed = seedOf('round 2')
    await writeLedger('commitRound', [seedHashOf(round2Seed)])

    const { challengeRounds } = await onceIndexed<RoundsData>(
      'round 1 revealed, round 2 committed',
      roundsQuery,
      {},
      (d) => d.challengeRounds.edges.length === 2 && d.challengeRounds.edges[1].node.seed !== null,
    )
    const [second, first] = challengeRounds.edges.map((e) => e.node)
    expect(first).toEqual({
      round: '1',
      seedHash: seedHashOf(round1Seed),
      seed: round1Seed,
      committedAt: committedAt.toString(),
      revealedAt: revealedAt.toString(),
      recorded: 2,
      passed: 1,
      failed: 1,
    })
    expect(second).toMatchObject({ round: '2', seedHash: seedHashOf(round2Seed), seed: null, revealedAt: null, recorded: 0 })
    // The seed is what its hash committed to.
    expect(seedHashOf(first.seed as Hex)).toBe(first.seedHash)

    const page1 = (await rounds({ first: 1 })).challengeRounds
    expect(page1.edges.map((e) => e.node.round)).toEqual(['2'])
    expect(page1.pageInfo.hasNextPage).toBe(true)
    const page2 = (await rounds({ first: 1, after: page1.pageInfo.endCursor })).challengeRounds
    expect(page2.edges.map((e) => e.node.round)).toEqual(['1'])
    expect(page2.pageInfo.hasNextPage).toBe(false)
    expect((await rounds({ dir: 'asc' })).challengeRounds.edges.map((e) => e.node.round)).toEqual(['1', '2'])

    // The tables as the views schema holds them: numbers as pg's decimal strings, addresses lower-case.
    const views = db.withSchema(viewsSchema)
    const records = await views.selectFrom('challengeRecord').selectAll().orderBy('blockNumber').execute()
    expect(records.map(({ round, jobId, provider, passed, unitsPerHour }) => ({ round, jobId, provider, passed, unitsPerHour }))).toEqual([
      {
        round: '1',
        jobId: passedJob.toString(),
        provider: cast[0].address.toLowerCase(),
        passed: true,
        unitsPerHour: maxUint64.toString(),
      },
      { round: '1', jobId: (passedJob + 1n).toString(), provider: cast[0].address.toLowerCase(), passed: false, unitsPerHour: '1200' },
    ])
    for (const r of records)
      expect(r).toMatchObject({ id: expect.any(String), logIndex: expect.any(Number), txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) })
    const roundRows = await views.selectFrom('challengeRound').selectAll().orderBy('round').execute()
    expect(roundRows.map(({ round, seed, recorded, passed, failed }) => ({ round, seed, recorded, passed, failed }))).toEqual([
      { round: '1', seed: round1Seed, recorded: 2, passed: 1, failed: 1 },
      { round: '2', seed: null, recorded: 0, passed: 0, failed: 0 },
    ])
    const providerRow = await views
      .selectFrom('provider')
      .selectAll()
      .where('address', '=', cast[0].address.toLowerCase() as Address)
      .executeTakeFirstOrThrow()
    expect(providerRow).toMatchObject({
      challengesPassed: 1,
      challengesFailed: 1,
      attestedCapacity: '0',
      lastChallengedAt: records[1].timestamp,
    })
  })
})
