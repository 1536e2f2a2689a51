import path from 'node:path'
import type { Kysely } from 'kysely'
import { type Address, maxUint256, type PrivateKeyAccount } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { registerProvider, sampleJobSpec, type TestSystem } from '../devnet/testSystem.ts'
import { escrowOf, takeOf } from '../protocol/settlement.ts'
import { AuditKind } from '../protocol/spotCheck.ts'
import { BPS, TSR } from '../protocol/units.ts'
import { createYoga } from '../server/createYoga.ts'
import { createDb } from '../server/db/createDb.ts'
import type { Database } from '../server/db/database.ts'
import { migrateToLatest } from '../server/db/migrateToLatest.ts'
import { type Fetch, gql, gqlData, waitFor } from '../test/support/graphql.ts'
import { disagreementOf } from '../test/support/labelledOutputs.ts'
import { jobMarketOf, labelledResult, marketEvents, runMarketRound, sendHeartbeat, submitOptimisticJob } from '../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../test/support/stack.ts'

// Optimistic verification as the indexer records it and the server serves it: anvil + contracts, Ponder into Postgres,
// and the GraphQL API in process (yoga.fetch). The test plays matcher, providers, challenger and keeper with direct
// contract calls, so every event is one it chose: an unaudited job paying its premium, then a challenged liar
// through its audit and the two-judge tie-break that escalation brings.

const viewsSchema = 'chain_optimistic_test'
const CENT = TSR / 100n
const asks = [CENT, (CENT * 12n) / 10n, (CENT * 15n) / 10n, (CENT * 11n) / 10n] as const

let chain: IndexedTestChain
let system: TestSystem
let market: ReturnType<typeof jobMarketOf>
let db: Kysely<Database>
let fetchFn: Fetch
let cast: PrivateKeyAccount[]
let requester: PrivateKeyAccount
let challenger: PrivateKeyAccount
const graphqlUrl = 'http://localhost/graphql'

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-optimistic-',
    viewsSchema,
    prepare: async (s) => {
      const providers = [...s.accounts.providers, privateKeyToAccount(devKeys[7])]
      for (const [i, p] of providers.entries()) await registerProvider(s, p, { pricePerUnit: asks[i] })
      for (const r of s.accounts.requesters) {
        await s.write(s.accounts.deployer, {
          address: s.token,
          abi: tesseraTokenAbi,
          functionName: 'transfer',
          args: [r.address, 1000n * TSR],
        })
        await s.write(r, { address: s.token, abi: tesseraTokenAbi, functionName: 'approve', args: [s.market, maxUint256] })
      }
    },
  })
  system = chain.system
  market = jobMarketOf(system)
  cast = [...system.accounts.providers, privateKeyToAccount(devKeys[7])]
  ;[requester, challenger] = system.accounts.requesters
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
const events = marketEvents

const submitOptimistic = () => submitOptimisticJob(system, requester)

/** The matcher assigns `who`, who commit and reveal the labelled outputs: what agents do. */
async function runRound(jobId: bigint, who: PrivateKeyAccount[], labels: string[]): Promise<void> {
  await runMarketRound(system, jobId, who, labels.map(labelledResult))
}

/** What the keeper does when results differ: proves the two outputs apart, then lets the proof window pass. */
async function proveApart(jobId: bigint, a: [PrivateKeyAccount, string], b: [PrivateKeyAccount, string]): Promise<void> {
  const proof = disagreementOf(a[1], b[1])
  if (!proof) throw new Error(`${a[1]} and ${b[1]} agree`)
  await market.write(challenger, 'proveDisagreement', [jobId, a[0].address, proof.a, b[0].address, proof.b])
  await system.increaseTime(P().proofWindow + 1n)
}

type AuditData = {
  kind: string
  auditors: number
  challenger: Address | null
  bond: string
  premium: string | null
  reimbursed: string | null
  bondToProvider: string | null
  bondBurned: string | null
  bondReturned: string | null
  settledAt: string | null
}
type OptimisticJobData = {
  status: string
  verification: string
  redundancy: number
  deadline: string
  disputedProviders: Address[]
  audit: AuditData | null
  assignments: { provider: Address; round: number; outcome: string }[]
}
const jobQuery = `query ($id: BigInt!) { job(id: $id) {
  status verification redundancy deadline disputedProviders
  audit { kind auditors challenger bond premium reimbursed bondToProvider bondBurned bondReturned settledAt }
  assignments { provider round outcome } } }`

/** The job as GraphQL serves it, once `accept` holds for it (the indexer follows the chain within a second or so). */
async function jobOnceIndexed(jobId: bigint, what: string, accept: (job: OptimisticJobData) => boolean): Promise<OptimisticJobData> {
  return waitFor(
    `job ${jobId}: ${what}`,
    async () => {
      const { job } = await gqlData<{ job: OptimisticJobData | null }>(graphqlUrl, jobQuery, { id: jobId.toString() }, fetchFn)
      return job && accept(job) ? job : undefined
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )
}

const unsettled = { premium: null, reimbursed: null, bondToProvider: null, bondBurned: null, bondReturned: null, settledAt: null }
let unauditedJob: bigint
let premiumPaid: bigint

describe('optimistic jobs, indexed and served', () => {
  test('a redundant job has no audit; an optimistic one is unaudited (NONE) until it settles, then shows its premium', async () => {
    const redundant = await market.write(requester, 'submitJob', [await sampleJobSpec(system)])
    const redundantId = events(redundant, 'JobSubmitted')[0].args.jobId as bigint
    expect(await jobOnceIndexed(redundantId, 'submitted', () => true)).toMatchObject({ verification: 'REDUNDANT', audit: null })

    // Optimistic jobs until one the spot check leaves alone (8 % are picked).
    let jobId = 0n
    for (let tries = 0; tries < 40 && !jobId; tries++) {
      const job = await submitOptimistic()
      await runRound(job.jobId, [cast[0]], ['truth'])
      await system.testClient.mine({ blocks: 2 })
      if ((await market.read<number>('spotCheckOf', [job.jobId])) === AuditKind.None) jobId = job.jobId
    }
    expect(jobId).not.toBe(0n)
    const revealed = await jobOnceIndexed(jobId, 'revealed', (j) => j.status === 'REVEALED')
    expect(revealed).toMatchObject({
      verification: 'OPTIMISTIC',
      redundancy: 1,
      audit: { kind: 'NONE', auditors: 0, challenger: null, bond: '0', ...unsettled },
    })

    await system.increaseTime(P().challengeWindow + 1n)
    const receipt = await market.write(system.accounts.deployer, 'finalize', [jobId])
    const settled = events(receipt, 'AuditSettled')[0].args
    const pay = asks[0] * 100n
    premiumPaid = (pay * P().spotCheckBps) / BPS
    expect(settled).toMatchObject({ premium: premiumPaid, reimbursed: 0n })
    const job = await jobOnceIndexed(jobId, 'completed', (j) => j.status === 'COMPLETED')
    expect(job.audit).toMatchObject({
      kind: 'NONE',
      premium: premiumPaid.toString(),
      reimbursed: '0',
      bondToProvider: '0',
      bondBurned: '0',
      bondReturned: '0',
    })
    expect(job.audit?.settledAt).not.toBeNull()
    expect(job.assignments).toEqual([{ provider: cast[0].address, round: 1, outcome: 'AGREED' }])
    unauditedJob = jobId
  })

  test('a challenged liar: the audit, its escalation to two judges and the verdict, indexed step by step', async () => {
    const fundBefore = await market.read<bigint>('auditFund')
    expect(fundBefore).toBe(premiumPaid)
    const { jobId, spec } = await submitOptimistic()
    await runRound(jobId, [cast[0]], ['lie'])
    const challenged = await market.write(challenger, 'challenge', [jobId])
    const bond = (spec.maxPricePerUnit * spec.units * P().challengeBondBps) / BPS
    const started = events(challenged, 'AuditStarted')[0].args
    expect(started).toMatchObject({ kind: AuditKind.Challenge, auditors: 1 })

    // The audit: the original provider set aside, one fresh auditor wanted, the deadline the event gave.
    const audit = await jobOnceIndexed(jobId, 'sent to its audit', (j) => j.status === 'DISPUTED')
    expect(audit).toMatchObject({
      redundancy: 1,
      deadline: String(started.deadline),
      disputedProviders: [cast[0].address],
      audit: { kind: 'CHALLENGE', auditors: 1, challenger: challenger.address, bond: bond.toString(), ...unsettled },
    })

    // The auditor disagrees, proven: escalation to two judges, the auditor set aside beside the original.
    await runRound(jobId, [cast[1]], ['truth'])
    await proveApart(jobId, [cast[0], 'lie'], [cast[1], 'truth'])
    const escalation = await market.write(system.accounts.deployer, 'finalize', [jobId])
    const escalated = events(escalation, 'AuditStarted')[0].args
    expect(escalated).toMatchObject({ kind: AuditKind.Challenge, auditors: 2 })
    const tieBreak = await jobOnceIndexed(jobId, 'escalated', (j) => j.status === 'DISPUTED' && j.redundancy === 2)
    expect(tieBreak).toMatchObject({
      deadline: String(escalated.deadline),
      disputedProviders: [cast[0].address, cast[1].address],
      audit: { kind: 'CHALLENGE', auditors: 2, ...unsettled },
    })

    // Two judges side with the auditor: the liar is slashed, the challenger gets its bond back, the fund reimburses.
    await runRound(jobId, [cast[2], cast[3]], ['truth', 'truth'])
    await system.increaseTime(P().proofWindow + 1n)
    const verdict = await market.write(system.accounts.deployer, 'finalize', [jobId])
    const settled = events(verdict, 'AuditSettled')[0].args
    const fees = (asks[2] + asks[3]) * spec.units
    // The judges' fees and take are more than the one premium in the fund: it pays back all it holds.
    expect(fees + takeOf(fees, P())).toBeGreaterThan(fundBefore)
    const reimbursed = fundBefore
    expect(settled).toMatchObject({ premium: 0n, reimbursed, toProvider: 0n, bondBurned: 0n, bondReturned: bond })
    const job = await jobOnceIndexed(jobId, 'completed', (j) => j.status === 'COMPLETED')
    expect(job.audit).toMatchObject({
      kind: 'CHALLENGE',
      auditors: 2,
      challenger: challenger.address,
      bond: bond.toString(),
      premium: '0',
      reimbursed: reimbursed.toString(),
      bondToProvider: '0',
      bondBurned: '0',
      bondReturned: bond.toString(),
    })
    // The returned bond is the challenger's payment, not a provider's earning.
    const { job: paid } = await gqlData<{ job: { payments: { account: Address; kind: string; amount: string }[] } }>(
      graphqlUrl,
      `query ($id: BigInt!) { job(id: $id) { payments { account kind amount } } }`,
      { id: jobId.toString() },
      fetchFn,
    )
    expect(paid.payments.filter((p) => p.kind.startsWith('BOND')).map((p) => [p.account, p.kind, p.amount])).toEqual([
      [challenger.address, 'BOND_RETURN', bond.toString()],
    ])
    expect(job.assignments.map((a) => [a.provider, a.round, a.outcome])).toEqual([
      [cast[0].address, 1, 'DISSENTED'],
      [cast[1].address, 2, 'AGREED'],
      [cast[2].address, 3, 'AGREED'],
      [cast[3].address, 3, 'AGREED'],
    ])

    // What analysts count: audits by kind, escalations, and the fund as the chain holds it.
    type Stats = { marketStats: { audits: Record<string, unknown> } }
    const { marketStats } = await gqlData<Stats>(
      graphqlUrl,
      `{ marketStats { audits { byKind { kind count } escalated premiums reimbursed bondsToProviders bondsBurned bondsReturned fund } } }`,
      undefined,
      fetchFn,
    )
    expect(marketStats.audits).toEqual({
      byKind: [
        { kind: 'NONE', count: 1 },
        { kind: 'SPOT', count: 0 },
        { kind: 'THRESHOLD', count: 0 },
        { kind: 'CHALLENGE', count: 1 },
      ],
      escalated: 1,
      premiums: premiumPaid.toString(),
      reimbursed: reimbursed.toString(),
      bondsToProviders: '0',
      bondsBurned: '0',
      bondsReturned: bond.toString(),
      fund: (await market.read<bigint>('auditFund')).toString(),
    })
    type Ids = { jobs: { edges: { node: { id: string } }[] } }
    const ids = async (where: Record<string, unknown>) =>
      (
        await gqlData<Ids>(
          graphqlUrl,
          'query($w: JobWhere) { jobs(where: $w, first: 100) { edges { node { id } } } }',
          { w: where },
          fetchFn,
        )
      ).jobs.edges.map((e) => e.node.id)
    expect(await ids({ auditKind: 'CHALLENGE' })).toEqual([jobId.toString()])
    const unaudited = await ids({ auditKind: 'NONE' })
    expect(unaudited).toContain(unauditedJob.toString())
    expect(unaudited).not.toContain(jobId.toString())
    expect(await ids({ verification: 'OPTIMISTIC', status: 'COMPLETED' })).toEqual([jobId, unauditedJob].map(String))
  })

  test('quote prices a spec both ways and refuses an optimistic one with a redundancy other than 1', async () => {
    for (const p of cast) await sendHeartbeat(graphqlUrl, p, fetchFn)
    const mode = 'reason providers eligibleProviders pricePerUnit fees escrow cost collateralPerSlot'
    const quote = (spec: Record<string, unknown>) =>
      gql<{ quote: Record<string, unknown> }>(
        graphqlUrl,
        `query($s: QuoteInput!) { quote(spec: $s) { ${mode} redundant { ${mode} } optimistic { ${mode} } } }`,
        { s: { units: '100', maxPricePerUnit: (2n * CENT).toString(), ...spec } },
        fetchFn,
      )
    const size = { maxPricePerUnit: 2n * CENT, units: 100n }
    const take = (fees: bigint) => takeOf(fees, P())
    const optimisticFees = asks[0] * 100n
    const optimistic = {
      reason: 'OK',
      providers: 1,
      eligibleProviders: 4,
      pricePerUnit: asks[0].toString(),
      fees: optimisticFees.toString(),
      escrow: escrowOf({ ...size, redundancy: 1, verification: 'OPTIMISTIC' }, P()).toString(),
      cost: (optimisticFees + take(optimisticFees) + (optimisticFees * P().spotCheckBps) / BPS).toString(),
      collateralPerSlot: ((2n * CENT * 100n * P().optimisticCollateralBps) / BPS).toString(),
    }
    const redundantFees = (asks[0] + asks[3]) * 100n
    const redundant = {
      reason: 'OK',
      providers: 2,
      eligibleProviders: 4,
      pricePerUnit: asks[3].toString(),
      fees: redundantFees.toString(),
      escrow: escrowOf({ ...size, redundancy: 2 }, P()).toString(),
      cost: (redundantFees + take(redundantFees)).toString(),
      collateralPerSlot: ((2n * CENT * 100n * P().collateralBps) / BPS).toString(),
    }
    const asOptimistic = await quote({ redundancy: 1, verification: 'OPTIMISTIC' })
    expect(asOptimistic.errors).toBeUndefined()
    expect(asOptimistic.data?.quote).toEqual({ ...optimistic, redundant, optimistic })
    // Without `verification` a spec is redundant, as submitJob's default is.
    expect((await quote({ redundancy: 2 })).data?.quote).toEqual({ ...redundant, redundant, optimistic })

    const refused = await quote({ redundancy: 2, verification: 'OPTIMISTIC' })
    expect(refused.data).toBeNull()
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringContaining('spec.redundancy must be 1 for an Optimistic job'),
      extensions: { code: 'BAD_USER_INPUT' },
    })
  })
})
