import type { Kysely } from 'kysely'
import pino from 'pino'
import {
  createWalletClient,
  decodeFunctionData,
  type Hex,
  http,
  keccak256,
  maxUint256,
  type PrivateKeyAccount,
  type PublicClient,
  type TransactionReceipt,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { jobBatcherAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { type JobSpecArgs, registerProvider, type TestSystem } from '../../devnet/testSystem.ts'
import { buildOutputTree } from '../../protocol/outputTree.ts'
import { AuditKind, spotCheckOf } from '../../protocol/spotCheck.ts'
import { encodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { BPS, TSR } from '../../protocol/units.ts'
import { waitFor } from '../../test/support/graphql.ts'
import { jobMarketOf, marketEvents, type RoundResult, runMarketRound, submitOptimisticJob } from '../../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../../test/support/stack.ts'
import { createDb } from '../db/createDb.ts'
import type { Database, Views } from '../db/database.ts'
import { createMetrics } from '../metrics.ts'
import type { BatchCall } from './batches.ts'
import { createDisagreementProver } from './disagreementProver.ts'
import { createKeeper } from './keeper.ts'
import type { AssignMeta } from './matcher.ts'
import { createTransactionSender, type TransactionRequest } from './transactionSender.ts'

// The keeper on real indexed data: anvil + contracts, Ponder into Postgres, and the keeper with its transaction sender
// and disagreement prover, ticked by hand at the chain's latest block. The test plays requester, matcher and providers.
// An optimistic job must be finalized exactly when JobMarket lets it: never while its spot check is undecided, at once
// when the spot check (or the audit threshold) selects it, else only after its challenge window; and its audit round
// is proven and finalized like any contested round.

const viewsSchema = 'chain_keeper_test'
const CENT = TSR / 100n
const asks = [CENT, (CENT * 12n) / 10n, (CENT * 15n) / 10n, (CENT * 11n) / 10n] as const
/** A fourth provider, so an escalated audit finds two judges that are neither the original nor the auditor. */
const judge = privateKeyToAccount(devKeys[7])
/** Jobs worth 100 TSR or more are always audited here (the devnet's 10,000 TSR would need a rich requester). */
const auditThreshold = 100n * TSR

let chain: IndexedTestChain
let system: TestSystem
let market: ReturnType<typeof jobMarketOf>
let db: Kysely<Database>
let views: Views
let metrics: ReturnType<typeof createMetrics>
let keeper: ReturnType<typeof createKeeper>
/** A prover as the keeper's, on a sender that only records what it is asked to send (nothing reaches the chain). */
let probe: { prover: ReturnType<typeof createDisagreementProver>; asked: string[] }
/** The keys of the transactions the keeper sent, in order. */
const sent: string[] = []
/** Output blobs by output hash, as the blob store would serve them to the prover. */
const blobs = new Map<Hex, Uint8Array>()

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-keeper-',
    viewsSchema,
    params: { market: { auditThreshold } },
    prepare: async (s) => {
      for (const [i, p] of [...s.accounts.providers, judge].entries()) await registerProvider(s, p, { pricePerUnit: asks[i] })
      const [requester] = s.accounts.requesters
      await s.write(s.accounts.deployer, {
        address: s.token,
        abi: tesseraTokenAbi,
        functionName: 'transfer',
        args: [requester.address, 10_000n * TSR],
      })
      await s.write(requester, { address: s.token, abi: tesseraTokenAbi, functionName: 'approve', args: [s.market, maxUint256] })
    },
  })
  system = chain.system
  market = jobMarketOf(system)
  db = createDb({ databaseUrl: chain.database.url }).db
  views = db.withSchema(viewsSchema)
  metrics = createMetrics()
  const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
  const publicClient = system.publicClient as PublicClient
  const walletClient = createWalletClient({ chain: system.chain, transport: http(system.rpcUrl), account: system.accounts.matcher })
  const sender = createTransactionSender<AssignMeta>({ publicClient, walletClient, log, metrics, confirmations: 1 })
  const recording: typeof sender = {
    ...sender,
    async send(request) {
      const hash = await sender.send(request)
      if (hash) {
        const receipt = await publicClient.waitForTransactionReceipt({ hash })
        if (receipt.status !== 'success') throw new Error(`${request.key} reverted in ${hash}`)
        const failed = request.batch?.failed(receipt) ?? []
        if (failed.length) throw new Error(`${request.key}: calls reverted in ${hash}: ${JSON.stringify(failed)}`)
        sent.push(...(await keysSent(request, hash)))
      }
      return hash
    },
  }
  const readBlob = async (sha256: Hex) => blobs.get(sha256)
  const prover = createDisagreementProver({ views, publicClient, deployment: chain.deployment, sender: recording, readBlob, log })
  keeper = createKeeper({ views, publicClient, deployment: chain.deployment, sender: recording, log, prover })
  const asked: string[] = []
  const dry: typeof sender = {
    ...sender,
    async send(request) {
      asked.push(request.key)
      return undefined
    },
  }
  probe = { prover: createDisagreementProver({ views, publicClient, deployment: chain.deployment, sender: dry, readBlob, log }), asked }
}, 240_000)

afterAll(async () => {
  await db?.destroy()
  await chain?.stop()
})

/** The keys of the calls `hash` made: a batch's that its simulation kept (read back from the transaction's input). */
async function keysSent(request: TransactionRequest<AssignMeta>, hash: Hex): Promise<string[]> {
  if (!request.batch) return [request.key]
  const { input } = await system.publicClient.getTransaction({ hash })
  const [jobIds] = decodeFunctionData({ abi: jobBatcherAbi, data: input }).args as readonly [readonly bigint[]]
  return request.batch.calls.filter(({ call }) => jobIds.includes((call as BatchCall).jobId)).map((c) => c.key)
}

const P = () => chain.deployment.params.market
const _events = marketEvents

/**
 * One keeper pass at the chain's latest block, as the leader runs it; returns the keys it sent, but for `advanceEpoch`
 * (30 s epochs end while the test runs, and the time it skips ends more).
 */
async function tick(): Promise<string[]> {
  const before = sent.length
  const block = await system.publicClient.getBlock({ blockTag: 'latest' })
  await keeper.tick(block.timestamp, block.number)
  return sent.slice(before).filter((key) => !key.startsWith('advanceEpoch:'))
}

/** Finalize transactions that simulation refused (a revert the keeper would have logged and retried). */
async function refusedFinalizes(): Promise<number> {
  const { values } = await metrics.leaderTransactions.get()
  return values.filter((v) => v.labels.action === 'finalize' && v.labels.outcome === 'failed').reduce((n, v) => n + v.value, 0)
}

/** A 16-value output under the test specs' tolerance (16 bits): its blob (stored for the prover), hash and fingerprint. */
function output(seed: number): { fingerprint: Hex; outputHash: Hex } {
  const data = Float32Array.from({ length: 16 }, (_, i) => Math.sin(seed * 100 + i) * 4)
  const blob = encodeTensorBlob({ dims: [1, 16], data })
  const outputHash = keccak256(blob)
  blobs.set(outputHash, blob)
  return { fingerprint: buildOutputTree(data, 16).fingerprint, outputHash }
}
const truth = output(1)
const lie = output(2)

/** The matcher's assign and the providers' commits and reveals; returns the last reveal's receipt. */
async function runRound(jobId: bigint, who: PrivateKeyAccount[], results: RoundResult[]): Promise<TransactionReceipt> {
  return (await runMarketRound(system, jobId, who, results)) as TransactionReceipt
}

async function submitOptimistic(overrides: Partial<JobSpecArgs> = {}): Promise<bigint> {
  return (await submitOptimisticJob(system, system.accounts.requesters[0], overrides)).jobId
}

/** The indexed job row, once `accept` holds for it. */
async function indexed(
  jobId: bigint,
  what: string,
  accept: (row: { status: string; redundancy: number; disputedProviders: string[] }) => boolean,
) {
  return waitFor(
    `job ${jobId}: ${what}`,
    async () => {
      const row = await views.selectFrom('job').selectAll().where('id', '=', jobId.toString()).executeTakeFirst()
      return row && accept(row) ? row : undefined
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
}

async function auditOf(jobId: bigint) {
  return waitFor(`the audit of job ${jobId}`, async () =>
    views.selectFrom('audit').selectAll().where('jobId', '=', jobId.toString()).executeTakeFirst(),
  )
}

/**
 * An optimistic job revealed by provider 0 and indexed, with the keeper ticked at its reveal block and the next: it
 * must send nothing while block `revealBlock + 1`, whose hash decides the spot check, is not yet behind the head.
 */
async function revealedJob(overrides: Partial<JobSpecArgs> = {}) {
  const jobId = await submitOptimistic(overrides)
  const reveal = await runRound(jobId, [system.accounts.providers[0]], [truth])
  await indexed(jobId, 'revealed', (row) => row.status === 'REVEALED')
  expect(await tick()).toEqual([])
  await system.testClient.mine({ blocks: 1 })
  expect(await tick()).toEqual([])
  await system.testClient.mine({ blocks: 1 })
  const seed = (await system.publicClient.getBlock({ blockNumber: reveal.blockNumber + 1n })).hash
  return { jobId, spotCheck: spotCheckOf({ seed, jobId, spotCheckBps: P().spotCheckBps }) }
}

describe('the keeper finalizes optimistic jobs when JobMarket lets it', () => {
  test('an unselected job is left alone through its challenge window, then settled with its premium', async () => {
    let unselected: bigint | undefined
    for (let tries = 0; tries < 20 && unselected === undefined; tries++) {
      const { jobId, spotCheck } = await revealedJob()
      if (spotCheck === AuditKind.Spot) {
        // Picked by the block's hash: audited at once, like a threshold job below.
        expect(await tick()).toEqual([`finalize:${jobId}:1`])
        expect(await auditOf(jobId)).toMatchObject({ kind: AuditKind.Spot, auditors: 1 })
        continue
      }
      unselected = jobId
    }
    if (unselected === undefined) throw new Error('no unselected job in 20 tries')
    const jobId = unselected
    // Decided, not selected, the challenge window open (until revealDeadline + challengeWindow): finalize would revert
    // ChallengeWindowOpen.
    expect(await tick()).toEqual([])
    const { revealDeadline } = await market.read<{ revealDeadline: bigint }>('getJob', [jobId])
    const closesAt = revealDeadline + P().challengeWindow
    await system.increaseTime(closesAt - (await system.now()) - 3n)
    expect(await system.now()).toBeLessThanOrEqual(closesAt)
    expect(await tick()).toEqual([])
    await system.increaseTime(4n)
    expect(await tick()).toEqual([`finalize:${jobId}:1`])
    await indexed(jobId, 'completed', (row) => row.status === 'COMPLETED')
    expect(await auditOf(jobId)).toMatchObject({ kind: AuditKind.None, premium: String((asks[0] * 100n * P().spotCheckBps) / BPS) })
    expect(await refusedFinalizes()).toBe(0)
  })

  test('a job worth the audit threshold goes to its audit at once; the auditor is proven against the original, escalated, judged', async () => {
    const { jobId } = await revealedJob({ units: 100n, maxPricePerUnit: auditThreshold / 100n })
    expect(await market.read('spotCheckOf', [jobId])).toBe(AuditKind.Threshold)
    // Block revealBlock + 2 exists: finalize starts the audit, long before the challenge window would close.
    expect(await tick()).toEqual([`finalize:${jobId}:1`])
    const audit = await indexed(jobId, 'sent to its audit', (row) => row.status === 'DISPUTED')
    const [original, auditor] = system.accounts.providers
    expect(audit).toMatchObject({ redundancy: 1, disputedProviders: [original.address.toLowerCase()] })
    expect(await auditOf(jobId)).toMatchObject({ kind: AuditKind.Threshold, auditors: 1 })

    // The auditor reveals another output: the prover proves it apart from the original's, the keeper waits out the
    // proof window, then finalize escalates to two judges.
    await runRound(jobId, [auditor], [lie])
    await indexed(jobId, 'audited', (row) => row.status === 'REVEALED')
    expect(await tick()).toEqual([`proveDisagreement:${jobId}:${[truth.fingerprint, lie.fingerprint].sort().join(':')}`])
    const proofs = await waitFor('the disagreement indexed', async () => {
      const rows = await views.selectFrom('disagreement').select(['a', 'b']).where('jobId', '=', jobId.toString()).execute()
      return rows.length ? rows : undefined
    })
    expect(proofs.flatMap((p) => [p.a, p.b]).sort()).toEqual([original.address, auditor.address].map((a) => a.toLowerCase()).sort())
    expect(await tick()).toEqual([])
    await system.increaseTime(P().proofWindow + 1n)
    // The audit round's finalize (round 2), not held up by the first round's.
    expect(await tick()).toEqual([`finalize:${jobId}:2`])
    const escalated = await indexed(jobId, 'escalated', (row) => row.status === 'DISPUTED' && row.redundancy === 2)
    expect(escalated.disputedProviders).toEqual([original.address, auditor.address].map((a) => a.toLowerCase()))
    expect(await auditOf(jobId)).toMatchObject({ kind: AuditKind.Threshold, auditors: 2 })
    // Waiting for its judges: nothing to send (and the prover forgets what it sent while the job was contested).
    expect(await tick()).toEqual([])

    // The judges side with the original; the auditor lied. The two were proven apart in the audit round: nothing
    // more to prove (the same two fingerprints), the keeper just waits out the tie-break's proof window.
    await runRound(jobId, [system.accounts.providers[2], judge], [truth, truth])
    await indexed(jobId, 'judged', (row) => row.status === 'REVEALED')
    expect(await tick()).toEqual([])
    // A prover that never saw the audit round (a new leader, say) asks for nothing either: the pair is proven on chain.
    expect(await probe.prover.tick(await system.now())).toBe(0)
    expect(probe.asked).toEqual([])
    await system.increaseTime(P().proofWindow + 1n)
    expect(await tick()).toEqual([`finalize:${jobId}:3`])
    await indexed(jobId, 'completed', (row) => row.status === 'COMPLETED')
    const outcomes = await views
      .selectFrom('assignment')
      .select(['provider', 'outcome'])
      .where('jobId', '=', jobId.toString())
      .orderBy('round')
      .orderBy('slot')
      .execute()
    expect(outcomes.map((o) => o.outcome)).toEqual(['AGREED', 'DISSENTED', 'AGREED', 'AGREED'])
    expect(await auditOf(jobId)).toMatchObject({ kind: AuditKind.Threshold, premium: '0', reimbursed: '0' })
    expect(await refusedFinalizes()).toBe(0)
  })
})
