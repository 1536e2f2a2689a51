import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import {
  type Abi,
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  keccak256,
  parseEther,
  toHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { deployAll } from '../contracts/deploy.ts'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { type Anvil, freePort, startAnvil } from '../devnet/startAnvil.ts'
import { inputHashOf } from '../devnet/testSystem.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { settleJob } from '../protocol/settlement.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { defined } from '../test/support/defined.ts'
import { waitFor } from '../test/support/graphql.ts'
import { disagreementOf, fingerprintOfLabel } from '../test/support/labelledOutputs.ts'
import { type RpcRecorder, startRpcRecorder } from '../test/support/rpcRecorder.ts'
import { ponderSchemaName } from './ponderSchemaName.ts'
import { dropOtherPonderSchemas, type StartIndexerReturnType, startIndexer } from './startIndexer.ts'
import { PonderStartError, startPonder } from './startPonder.ts'

// One real stack for the file: anvil, the four contracts, Postgres and `ponder start`. Providers register and stake
// before Ponder starts (backfill); every job happens after (live indexing). Rows are read from the views schema.

const viewsSchema = 'chain_test'
const [deployerKey, matcherKey, p2Key, p3Key, p4Key, requesterKey, p6Key] = devKeys
// p6: a fourth provider, so that a k=2 job's tie-break finds two that weren't in its first round.
const providerKeys = [p2Key, p3Key, p4Key, p6Key]
const addressOf = (key: Hex) => privateKeyToAccount(key).address.toLowerCase() as Address
const [p2, p3, p4, p6] = providerKeys.map(addressOf)
const requester = addressOf(requesterKey)
const stakeAmount = parseEther('1000')
const region = toHex('eu-west', { size: 32 })

let anvil: Anvil
let database: TestDatabase
let ponder: StartIndexerReturnType
let deployment: Deployment
let tmpDir: string
let deploymentPath: string
let sql: pg.Client
/** Ponder reaches anvil through it: what Ponder asks of the node. */
let recorder: RpcRecorder

function clients() {
  const chain = chainOf(31337, anvil.rpcUrl)
  const transport = http(anvil.rpcUrl)
  return {
    publicClient: createPublicClient({ chain, transport }),
    testClient: createTestClient({ chain, transport, mode: 'anvil' }),
    wallet: (key: Hex) => createWalletClient({ chain, transport, account: privateKeyToAccount(key) }),
  }
}

/** Sends one transaction and waits for a successful receipt. */
async function send(key: Hex, address: Address, abi: Abi, functionName: string, args: readonly unknown[] = []) {
  const { publicClient, wallet } = clients()
  const hash = await wallet(key).writeContract({ address, abi, functionName, args } as never)
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`${functionName} reverted: ${hash}`)
  return receipt
}

const addresses = () => ({
  token: deployment.contracts.TesseraToken.address,
  registry: deployment.contracts.ProviderRegistry.address,
  market: deployment.contracts.JobMarket.address,
  controller: deployment.contracts.EmissionController.address,
})

/** Polls a query on the views schema until `accept` holds for its rows (Ponder polls anvil every 200 ms). */
async function waitForRows<T extends pg.QueryResultRow>(
  query: string,
  params: unknown[],
  accept: (rows: T[]) => boolean,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { rows } = await sql.query<T>(query, params)
    if (accept(rows)) return rows
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for rows of: ${query} ${JSON.stringify(params)}; last: ${JSON.stringify(rows)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function waitForJobStatus(jobId: bigint, status: string) {
  const [row] = await waitForRows<Record<string, unknown>>(
    `select * from ${viewsSchema}.job where id = $1`,
    [jobId.toString()],
    (rows) => rows[0]?.status === status,
  )
  return row
}

/** The value of the first line of Ponder's `/metrics` that `select` picks (0 when none: a counter not yet counted). */
async function ponderMetric(select: (line: string) => boolean): Promise<number> {
  const line = (await (await fetch(new URL('/metrics', ponder.url))).text()).split('\n').find(select)
  return line ? Number(line.split(' ').at(-1)) : 0
}

async function now() {
  const block = await clients().publicClient.getBlock()
  return block.timestamp
}

async function skipTime(seconds: number | bigint) {
  const { testClient } = clients()
  await testClient.increaseTime({ seconds: Number(seconds) })
  await testClient.mine({ blocks: 1 })
}

async function submitJob(parameters: { redundancy: number; units?: bigint; maxPricePerUnit?: bigint; deadlineIn?: bigint }) {
  const { publicClient } = clients()
  const { market, token } = addresses()
  const units = parameters.units ?? 8n
  const maxPricePerUnit = parameters.maxPricePerUnit ?? parseEther('1')
  const spec = {
    modelHash: keccak256(toHex('model')),
    inputHash: keccak256(toHex(`input-${Math.random()}`)),
    units,
    maxPricePerUnit,
    minVramMiB: 8192,
    gpuModel: 0,
    regions: [region],
    redundancy: parameters.redundancy,
    verification: 0,
    deadline: (await now()) + (parameters.deadlineIn ?? 3600n),
    outputTolerance: 10,
  }
  const escrow = await publicClient.readContract({
    address: market,
    abi: jobMarketAbi,
    functionName: 'quoteEscrow',
    args: [maxPricePerUnit, units, parameters.redundancy],
  })
  await send(requesterKey, token, tesseraTokenAbi, 'approve', [market, escrow])
  const jobId = (await publicClient.readContract({ address: market, abi: jobMarketAbi, functionName: 'nextJobId' })) as bigint
  await send(requesterKey, market, jobMarketAbi, 'submitJob', [spec])
  return { jobId, spec, escrow }
}

const keyOf = (address: Address) => providerKeys[[p2, p3, p4, p6].indexOf(address)]

async function commit(jobId: bigint, provider: Address, fingerprint: Hex) {
  const outputHash = keccak256(toHex(`output-${fingerprint}`))
  const salt = keccak256(toHex(`salt-${jobId}-${provider}`))
  const commitment = commitmentOf({ jobId, provider, fingerprint, outputHash, salt })
  const { market } = addresses()
  const input = await inputHashOf({ publicClient: clients().publicClient, market }, jobId)
  await send(keyOf(provider), market, jobMarketAbi, 'commitResult', [jobId, input, commitment])
  return {
    reveal: () => send(keyOf(provider), addresses().market, jobMarketAbi, 'revealResult', [jobId, fingerprint, outputHash, salt]),
    commitment,
    outputHash,
  }
}

/** What the keeper does when results differ: proves two labelled outputs disagree, then lets the proof window pass. */
async function proveAndWait(jobId: bigint, a: readonly [Address, string], b: readonly [Address, string]) {
  const proof = disagreementOf(a[1], b[1])
  if (!proof) throw new Error(`${a[1]} and ${b[1]} agree`)
  await send(deployerKey, addresses().market, jobMarketAbi, 'proveDisagreement', [jobId, a[0], proof.a, b[0], proof.b])
  await skipTime(deployment.params.market.proofWindow + 1n)
}

/** Each provider's part in a job, by round and slot. */
async function roundsOf(jobId: bigint) {
  const { rows } = await sql.query(
    `select provider, round, outcome, paid from ${viewsSchema}.assignment where job_id = $1 order by round, slot`,
    [jobId.toString()],
  )
  return rows
}

/** The counters and collateral of `providers`, in that order. */
async function counters(providers: Address[]) {
  const { rows } = await sql.query<{
    address: Address
    jobs_completed: number
    jobs_failed: number
    slash_count: number
    slashed_total: string
    locked: string
  }>(
    `select address, jobs_completed, jobs_failed, slash_count, slashed_total, locked from ${viewsSchema}.provider where address = any($1)`,
    [providers],
  )
  return providers.map((p) =>
    defined(
      rows.find((r) => r.address === p),
      `the provider row of ${p}`,
    ),
  )
}

beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-indexer-'))
  anvil = await startAnvil()
  database = await createTestDatabase()
  deploymentPath = path.join(tmpDir, 'deployment.json')
  deployment = await deployAll({ rpcUrl: anvil.rpcUrl, deployerKey, matcher: privateKeyToAccount(matcherKey).address, out: deploymentPath })
  const { token, registry } = addresses()

  // Backfill part: funding, registration and stake happen before Ponder exists.
  for (const [i, key] of providerKeys.entries()) {
    await send(deployerKey, token, tesseraTokenAbi, 'transfer', [privateKeyToAccount(key).address, parseEther('10000')])
    await send(key, token, tesseraTokenAbi, 'approve', [registry, stakeAmount])
    const hardware = { gpuModel: 1, gpuCount: 2, vramMiB: 24576, cpuCores: 16, memoryMiB: 65536, benchmarkScore: 100 + i }
    await send(key, registry, providerRegistryAbi, 'register', [hardware, parseEther('0.5'), region, toHex(`pubkey-${i}`)])
    await send(key, registry, providerRegistryAbi, 'stake', [stakeAmount])
  }
  await send(deployerKey, token, tesseraTokenAbi, 'transfer', [privateKeyToAccount(requesterKey).address, parseEther('100000')])

  sql = new pg.Client({ connectionString: database.url })
  await sql.connect()
  // What an earlier devnet's indexer left in a dev database: pruned at start.
  await sql.query('create schema ponder_stale; create table ponder_stale.job (id int)')

  recorder = await startRpcRecorder(anvil.rpcUrl)
  const started = Date.now()
  ponder = await startIndexer({
    databaseUrl: database.url,
    rpcUrl: recorder.url,
    deploymentPath,
    viewsSchema,
    port: await freePort(),
    pruneOtherSchemas: true,
    log: process.env.TESSERA_TEST_VERBOSE ? (line) => console.log(`[ponder] ${line}`) : undefined,
  })
  console.log(`ponder ready in ${Date.now() - started} ms`)
})

afterAll(async () => {
  await sql?.end()
  await ponder?.stop()
  await recorder?.stop()
  await database?.drop()
  await anvil?.stop()
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true })
})

describe('indexer', () => {
  test('backfills registered, staked providers', async () => {
    const { rows } = await sql.query(`select * from ${viewsSchema}.provider order by address`)
    expect(rows.map((r) => r.address)).toEqual([p2, p3, p4, p6].sort())
    const row = rows.find((r) => r.address === p2)
    expect(row).toMatchObject({
      // uint32 columns are numeric (a decimal string through pg); uint16 ones integer.
      gpu_model: '1',
      gpu_count: 2,
      vram_mib: '24576',
      cpu_cores: 16,
      memory_mib: '65536',
      benchmark_score: '100',
      price_per_unit: parseEther('0.5').toString(),
      region,
      encryption_pub_key: toHex('pubkey-0'),
      registered: true,
      paused: false,
      stake: stakeAmount.toString(),
      locked: '0',
      pending_unstake: '0',
      jobs_completed: 0,
      slash_count: 0,
    })
    const stakes = await sql.query(`select * from ${viewsSchema}.stake_event where provider = $1`, [p2])
    expect(stakes.rows).toHaveLength(1)
    expect(stakes.rows[0]).toMatchObject({ kind: 'staked', amount: stakeAmount.toString(), job_id: null })
    expect(stakes.rows[0].tx_hash).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('a k=2 job: submit, assign, commit, reveal; the agreeing last reveal settles it', async () => {
    const { market } = addresses()
    const { jobId, spec, escrow } = await submitJob({ redundancy: 2 })
    const open = await waitForJobStatus(jobId, 'OPEN')
    expect(open).toMatchObject({
      requester,
      model_hash: spec.modelHash,
      input_hash: spec.inputHash,
      units: '8',
      max_price_per_unit: spec.maxPricePerUnit.toString(),
      min_vram_mib: '8192',
      gpu_model: '0',
      regions: [region],
      redundancy: 2,
      verification: 0,
      deadline: spec.deadline.toString(),
      output_tolerance: 10,
      escrow: escrow.toString(),
      round: 0,
      commit_deadline: null,
    })

    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p3]])
    const assigned = await waitForJobStatus(jobId, 'ASSIGNED')
    expect(assigned.round).toBe(1)
    expect(assigned.providers).toEqual([p2, p3])
    const assignments = await sql.query(`select * from ${viewsSchema}.assignment where job_id = $1 order by slot`, [jobId.toString()])
    expect(assignments.rows.map((r) => [r.id, r.provider, r.slot, r.round, r.outcome])).toEqual([
      [`${jobId}:${p2}`, p2, 0, 1, 'PENDING'],
      [`${jobId}:${p3}`, p3, 1, 1, 'PENDING'],
    ])
    expect(assignments.rows[0].price_per_unit).toBe(parseEther('0.5').toString())
    // Collateral follows the provider's own ask (collateralBps 100 %), not the job's max price.
    expect(assignments.rows[0].collateral).toBe((parseEther('0.5') * spec.units).toString())
    expect(assignments.rows[0].commit_deadline).toBe(assigned.commit_deadline)
    expect(assignments.rows.map((r) => r.settled_at)).toEqual([null, null])
    const locked = await sql.query(`select locked from ${viewsSchema}.provider where address = $1`, [p2])
    expect(locked.rows[0].locked).toBe((parseEther('0.5') * spec.units).toString())

    const fingerprint = keccak256(toHex('fingerprint-a'))
    const c2 = await commit(jobId, p2, fingerprint)
    const c3 = await commit(jobId, p3, fingerprint)
    const committed = await waitForJobStatus(jobId, 'COMMITTED')
    expect(committed.reveal_deadline).not.toBeNull()
    await c2.reveal()
    // The second reveal agrees: its transaction has JobRevealed, then the settlement's events.
    await c3.reveal()
    const completed = await waitForJobStatus(jobId, 'COMPLETED')
    const revealed = await sql.query(`select * from ${viewsSchema}.assignment where id = $1`, [`${jobId}:${p2}`])
    expect(revealed.rows[0]).toMatchObject({ commitment: c2.commitment, fingerprint, output_hash: c2.outputHash })
    const fees = 2n * parseEther('0.5') * spec.units
    const burned = (fees * 1000n) / 10_000n
    expect(completed).toMatchObject({
      fingerprint,
      fees: fees.toString(),
      burned: burned.toString(),
      refunded: (escrow - fees - burned).toString(),
    })
    expect(completed.finalized_at).not.toBeNull()

    const outcomes = await sql.query(
      `select provider, outcome, paid, settled_at from ${viewsSchema}.assignment where job_id = $1 order by slot`,
      [jobId.toString()],
    )
    const paid = (parseEther('0.5') * spec.units).toString()
    // Settled by the last reveal: stamped with its block's time, what reputation decays from.
    const settledAt = completed.finalized_at
    expect(outcomes.rows).toEqual([
      { provider: p2, outcome: 'AGREED', paid, settled_at: settledAt },
      { provider: p3, outcome: 'AGREED', paid, settled_at: settledAt },
    ])
    const payments = await sql.query(
      `select kind, account, amount from ${viewsSchema}.payment where job_id = $1 order by block_number, id`,
      [jobId.toString()],
    )
    expect(payments.rows.map((r) => r.kind).sort()).toEqual(['FEE', 'FEE', 'REFUND'])
    const burns = await sql.query(`select amount from ${viewsSchema}.fee_burn where job_id = $1`, [jobId.toString()])
    expect(burns.rows).toEqual([{ amount: burned.toString() }])
    const provider = await sql.query(`select * from ${viewsSchema}.provider where address = $1`, [p2])
    expect(provider.rows[0]).toMatchObject({ jobs_completed: 1, earned_total: paid, locked: '0' })
  })

  test('in realtime, Ponder loads the rows an event reads ahead of its block, not one query each (patches/ponder)', async () => {
    // Ponder 0.16.10 learns which rows each event reads from a sample of events, and loads them in one query per
    // block before its handlers run; but it sampled only backfilled events, so on a chain whose market starts after
    // the backfill every read of a live event was a query of its own (thousands a minute at 50 jobs/s, the index
    // falling behind). The patch samples live events too.
    const { market } = addresses()
    /** Ponder's reads of `assignment` rows that went to the database one at a time (its cache misses). */
    const misses = () =>
      ponderMetric(
        (l) => /^ponder_indexing_cache_requests_total\{/.test(l) && l.includes('table="assignment"') && l.includes('type="miss"'),
      )
    const assignAndCommit = async () => {
      const { jobId } = await submitJob({ redundancy: 2 })
      await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p3]])
      for (const p of [p2, p3]) await commit(jobId, p, keccak256(toHex(`prefetch-${jobId}`)))
      return jobId
    }
    // Enough live events of each kind for Ponder to have sampled them (one in ten): 12 of each.
    let last = 0n
    for (let i = 0; i < 6; i++) last = await assignAndCommit()
    await waitForJobStatus(last, 'COMMITTED')
    const before = await misses()
    for (let i = 0; i < 10; i++) last = await assignAndCommit()
    await waitForJobStatus(last, 'COMMITTED')
    // 40 reads of assignment rows (two JobAssigned and two ResultCommitted a job): without the patch, 40 misses.
    expect(await misses()).toBeLessThanOrEqual(before + 4)
  })

  test('Ponder polls the head without its transactions, and fetches each new block whole once (patches/ponder)', async () => {
    // Ponder 0.16.10 asked for the latest block with every transaction on each poll, ten times a second on the devnet:
    // at 50 jobs/s, a block of a few hundred transactions serialized by anvil and parsed by Ponder ten times over. The
    // patch polls the header; Ponder fetches a new head's transactions once, by hash, with its logs.
    const from = recorder.calls.length
    const { jobId } = await submitJob({ redundancy: 2 })
    const { publicClient } = clients()
    const { hash } = await publicClient.getBlock()
    await waitForJobStatus(jobId, 'OPEN')
    const calls = recorder.calls.slice(from)
    const polls = calls.filter((c) => c.method === 'eth_getBlockByNumber' && c.params[0] === 'latest')
    expect(polls.length).toBeGreaterThan(0)
    expect(polls.filter((c) => c.params[1] !== false)).toEqual([])
    const wholeBlock = calls.filter((c) => c.method === 'eth_getBlockByHash' && c.params[0] === hash)
    expect(wholeBlock).toEqual([{ method: 'eth_getBlockByHash', params: [hash, true], transport: 'http' }])
  })

  test('Ponder hears of a new head through its newHeads subscription, not only from its polls (patches/ponder)', async () => {
    // On the devnet Ponder subscribes over anvil's WebSocket (indexer/pollingInterval.ts) and polls beside it. Here
    // every poll answers the head as it was before the job below: only the subscription can tell Ponder of its block.
    expect(recorder.calls).toContainEqual({ method: 'eth_subscribe', params: ['newHeads'], transport: 'ws' })
    const reorgs = () => ponderMetric((l) => l.startsWith('ponder_realtime_reorg_total'))
    const reorgsBefore = await reorgs()
    await recorder.freezeHead()
    try {
      const { jobId } = await submitJob({ redundancy: 2 })
      await waitForJobStatus(jobId, 'OPEN')
      // The polls go on answering a head below the one the subscription brought: Ponder must not take that for a reorg
      // (it would drop the job's row, then index it again at the next block).
      const polls = recorder.calls.length
      await waitFor('five more polls', async () =>
        recorder.calls.slice(polls).filter((c) => c.method === 'eth_getBlockByNumber').length >= 5 ? true : undefined,
      )
      expect(await reorgs()).toBe(reorgsBefore)
      await waitForJobStatus(jobId, 'OPEN')
    } finally {
      recorder.thaw()
    }
  })

  test('a k=3 job with a dissenter: DISSENTED, slashed, share credited', async () => {
    const { market } = addresses()
    const { jobId, spec } = await submitJob({ redundancy: 3 })
    await waitForJobStatus(jobId, 'OPEN')
    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p3, p4]])
    const honest = fingerprintOfLabel('b')
    const reveals = [await commit(jobId, p2, honest), await commit(jobId, p3, honest), await commit(jobId, p4, fingerprintOfLabel('lie'))]
    for (const c of reveals) await c.reveal()
    await proveAndWait(jobId, [p2, 'b'], [p4, 'lie'])
    await send(deployerKey, market, jobMarketAbi, 'finalize', [jobId])
    await waitForJobStatus(jobId, 'COMPLETED')

    const outcomes = await sql.query(`select provider, outcome from ${viewsSchema}.assignment where job_id = $1 order by slot`, [
      jobId.toString(),
    ])
    expect(outcomes.rows).toEqual([
      { provider: p2, outcome: 'AGREED' },
      { provider: p3, outcome: 'AGREED' },
      { provider: p4, outcome: 'DISSENTED' },
    ])
    const collateral = parseEther('0.5') * spec.units // the liar's own ask × units
    const slashes = await sql.query(`select * from ${viewsSchema}.slash where job_id = $1`, [jobId.toString()])
    expect(slashes.rows).toHaveLength(1)
    expect(slashes.rows[0]).toMatchObject({
      provider: p4,
      amount: collateral.toString(),
      beneficiary: market.toLowerCase(),
      to_beneficiary: (collateral / 2n).toString(),
      burned: (collateral / 2n).toString(),
    })
    const shares = await sql.query(
      `select account, amount from ${viewsSchema}.payment where job_id = $1 and kind = 'SLASH_SHARE' order by account`,
      [jobId.toString()],
    )
    expect(shares.rows).toEqual([p2, p3].sort().map((account) => ({ account, amount: (collateral / 4n).toString() })))
    // The proof that made p4 a dissenter, as the keeper (here the test) sent it.
    const proofs = await sql.query(`select a, b from ${viewsSchema}.disagreement where job_id = $1`, [jobId.toString()])
    expect(proofs.rows).toEqual([{ a: p2, b: p4 }])
    const liar = await sql.query(`select * from ${viewsSchema}.provider where address = $1`, [p4])
    expect(liar.rows[0]).toMatchObject({
      stake: (stakeAmount - collateral).toString(),
      locked: '0',
      slashed_total: collateral.toString(),
      slash_count: 1,
      jobs_failed: 1,
      jobs_completed: 0,
    })
  })

  test('a no-show: expireAssignment marks NO_SHOW, reopens the job, a new round follows', async () => {
    const { market } = addresses()
    const { jobId } = await submitJob({ redundancy: 2 })
    await waitForJobStatus(jobId, 'OPEN')
    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p3]])
    await commit(jobId, p2, keccak256(toHex('fingerprint-c')))
    await skipTime(deployment.params.market.commitWindow + 1n)
    await send(deployerKey, market, jobMarketAbi, 'expireAssignment', [jobId])
    // The job was OPEN before the assignment too: wait for the round to be over.
    const [reopened] = await waitForRows(
      `select * from ${viewsSchema}.job where id = $1`,
      [jobId.toString()],
      (rows) => rows[0]?.round === 1 && rows[0]?.status === 'OPEN',
    )
    expect(reopened.commit_deadline).toBeNull()
    // JobMarket's openedAt moves to the reopen: the claim grace runs again from there.
    expect(BigInt(reopened.opened_at)).toBeGreaterThan(BigInt(reopened.submitted_at))
    const outcomes = await sql.query(
      `select provider, outcome, settled_at from ${viewsSchema}.assignment where job_id = $1 order by slot`,
      [jobId.toString()],
    )
    // Both settled by the expireAssignment transaction, which also slashed the no-show: stamped with its block's time.
    const slashed = await sql.query(`select timestamp from ${viewsSchema}.slash where job_id = $1 and provider = $2`, [
      jobId.toString(),
      p3,
    ])
    const settledAt = slashed.rows[0]?.timestamp
    expect(settledAt).toBeDefined()
    expect(outcomes.rows).toEqual([
      { provider: p2, outcome: 'RELEASED', settled_at: settledAt },
      { provider: p3, outcome: 'NO_SHOW', settled_at: settledAt },
    ])
    const noShow = await sql.query(`select no_show_count, slash_count from ${viewsSchema}.provider where address = $1`, [p3])
    expect(noShow.rows[0]).toEqual({ no_show_count: 1, slash_count: 1 })

    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p4]])
    const again = await waitForJobStatus(jobId, 'ASSIGNED')
    expect(again.round).toBe(2)
    expect(again.providers).toEqual([p2, p4])
    const rows = await sql.query(
      `select provider, round, outcome, settled_at from ${viewsSchema}.assignment where job_id = $1 order by provider`,
      [jobId.toString()],
    )
    // A new round unsettles a provider's row again; the no-show's stays as it settled.
    expect(rows.rows).toEqual(
      [
        { provider: p2, round: 2, outcome: 'PENDING', settled_at: null },
        { provider: p3, round: 1, outcome: 'NO_SHOW', settled_at: settledAt },
        { provider: p4, round: 2, outcome: 'PENDING', settled_at: null },
      ].sort((a, b) => a.provider.localeCompare(b.provider)),
    )
  })

  test('no majority: DISPUTED, then a tie-break by fresh providers settles both rounds', async () => {
    const { market } = addresses()
    const { jobId, spec, escrow } = await submitJob({ redundancy: 2 })
    await waitForJobStatus(jobId, 'OPEN')
    const before = await counters([p2, p3])
    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p3]])
    const honest = fingerprintOfLabel('d')
    const lie = fingerprintOfLabel('lie-d')
    for (const c of [await commit(jobId, p2, honest), await commit(jobId, p3, lie)]) await c.reveal()
    await proveAndWait(jobId, [p2, 'd'], [p3, 'lie-d'])
    await send(deployerKey, market, jobMarketAbi, 'finalize', [jobId])
    const disputed = await waitForJobStatus(jobId, 'DISPUTED')
    expect(disputed).toMatchObject({
      round: 1,
      providers: [],
      disputed_providers: [p2, p3],
      commit_deadline: null,
      reveal_deadline: null,
      fingerprint: null,
      finalized_at: null,
    })
    // The first round waits for the tie-break's verdict, its collateral still locked.
    expect(await roundsOf(jobId)).toEqual([
      { provider: p2, round: 1, outcome: 'PENDING', paid: '0' },
      { provider: p3, round: 1, outcome: 'PENDING', paid: '0' },
    ])
    const collateral = parseEther('0.5') * spec.units
    expect((await counters([p2, p3])).map((c) => BigInt(c.locked))).toEqual(before.map((c) => BigInt(c.locked) + collateral))

    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p4, p6]])
    const tieBreak = await waitForJobStatus(jobId, 'ASSIGNED')
    expect(tieBreak).toMatchObject({ round: 2, providers: [p4, p6], disputed_providers: [p2, p3] })
    for (const c of [await commit(jobId, p4, honest), await commit(jobId, p6, honest)]) await c.reveal()
    // The first round's proof still holds; its results differ, so the window must pass again.
    await skipTime(deployment.params.market.proofWindow + 1n)
    await send(deployerKey, market, jobMarketAbi, 'finalize', [jobId])
    const completed = await waitForJobStatus(jobId, 'COMPLETED')

    const slot = (provider: Address, fingerprint: Hex) => ({ provider, ask: parseEther('0.5'), collateral, fingerprint })
    const expected = settleJob({
      escrow,
      units: spec.units,
      slots: [slot(p4, honest), slot(p6, honest)],
      prior: [slot(p2, honest), slot(p3, lie)],
      params: deployment.params.market,
    })
    expect(expected.status).toBe('COMPLETED')
    expect(completed).toMatchObject({
      fingerprint: honest,
      fees: expected.fees.toString(),
      burned: expected.take.toString(),
      refunded: expected.refund.toString(),
      disputed_providers: [p2, p3],
    })
    // Both rounds settled by the tie-break's verdict; only its round is paid from the escrow.
    const fee = (parseEther('0.5') * spec.units).toString()
    expect(await roundsOf(jobId)).toEqual([
      { provider: p2, round: 1, outcome: 'AGREED', paid: '0' },
      { provider: p3, round: 1, outcome: 'DISSENTED', paid: '0' },
      { provider: p4, round: 2, outcome: 'AGREED', paid: fee },
      { provider: p6, round: 2, outcome: 'AGREED', paid: fee },
    ])
    const shares = await sql.query(
      `select account as provider, amount from ${viewsSchema}.payment where job_id = $1 and kind = 'SLASH_SHARE' order by account`,
      [jobId.toString()],
    )
    expect(shares.rows).toEqual(
      expected.shares
        .map((s) => ({ provider: s.provider, amount: s.amount.toString() }))
        .sort((a, b) => a.provider.localeCompare(b.provider)),
    )
    expect(shares.rows.map((r) => r.provider)).toEqual([p2, p4, p6].sort())
    const after = await counters([p2, p3])
    expect(after).toEqual([
      { ...before[0], jobs_completed: before[0].jobs_completed + 1 },
      {
        ...before[1],
        jobs_failed: before[1].jobs_failed + 1,
        slash_count: before[1].slash_count + 1,
        slashed_total: (BigInt(before[1].slashed_total) + collateral).toString(),
      },
    ])
  })

  test('a tie-break round that expires reopens the job to DISPUTED; expire ends it and releases the first round', async () => {
    const { market } = addresses()
    const { jobId, escrow } = await submitJob({ redundancy: 2, deadlineIn: 600n })
    await waitForJobStatus(jobId, 'OPEN')
    const before = await counters([p2, p3])
    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p2, p3]])
    for (const c of [await commit(jobId, p2, fingerprintOfLabel('e-2')), await commit(jobId, p3, fingerprintOfLabel('e-3'))])
      await c.reveal()
    await proveAndWait(jobId, [p2, 'e-2'], [p3, 'e-3'])
    await send(deployerKey, market, jobMarketAbi, 'finalize', [jobId])
    await waitForJobStatus(jobId, 'DISPUTED')

    await send(matcherKey, market, jobMarketAbi, 'assign', [jobId, [p4, p6]])
    await waitForJobStatus(jobId, 'ASSIGNED')
    await commit(jobId, p4, keccak256(toHex('e-4')))
    await skipTime(deployment.params.market.commitWindow + 1n)
    await send(deployerKey, market, jobMarketAbi, 'expireAssignment', [jobId])
    // DISPUTED before the tie-break's assignment too: wait for its round to be over.
    const [reopened] = await waitForRows(
      `select * from ${viewsSchema}.job where id = $1`,
      [jobId.toString()],
      (rows) => rows[0]?.round === 2 && rows[0]?.status === 'DISPUTED',
    )
    expect(reopened).toMatchObject({ commit_deadline: null, disputed_providers: [p2, p3], finalized_at: null })
    expect(await roundsOf(jobId)).toEqual([
      { provider: p2, round: 1, outcome: 'PENDING', paid: '0' },
      { provider: p3, round: 1, outcome: 'PENDING', paid: '0' },
      { provider: p4, round: 2, outcome: 'RELEASED', paid: '0' },
      { provider: p6, round: 2, outcome: 'NO_SHOW', paid: '0' },
    ])

    await skipTime(600)
    await send(deployerKey, market, jobMarketAbi, 'expire', [jobId])
    const expired = await waitForJobStatus(jobId, 'EXPIRED')
    expect(expired.refunded).toBe(escrow.toString())
    expect(expired.finalized_at).not.toBeNull()
    // Both revealed in the first round, so both are released without fault.
    expect((await roundsOf(jobId)).slice(0, 2)).toEqual([
      { provider: p2, round: 1, outcome: 'RELEASED', paid: '0' },
      { provider: p3, round: 1, outcome: 'RELEASED', paid: '0' },
    ])
    expect(await counters([p2, p3])).toEqual(before)
  })

  test('cancel: CANCELLED with a refund', async () => {
    const { jobId, escrow } = await submitJob({ redundancy: 2 })
    await waitForJobStatus(jobId, 'OPEN')
    await send(requesterKey, addresses().market, jobMarketAbi, 'cancel', [jobId])
    await waitForJobStatus(jobId, 'CANCELLED')
    const refunds = await sql.query(`select account, amount from ${viewsSchema}.payment where job_id = $1 and kind = 'REFUND'`, [
      jobId.toString(),
    ])
    expect(refunds.rows).toEqual([{ account: requester, amount: escrow.toString() }])
  })

  test('expire: an open job past its deadline is EXPIRED', async () => {
    // A deadline a minute past the last block: that block may be seconds old on a busy machine, and the submit's own
    // block (at the wall clock) past a deadline only 5 s after it (InvalidDeadline, seen in CI).
    const { jobId } = await submitJob({ redundancy: 2, deadlineIn: 60n })
    await waitForJobStatus(jobId, 'OPEN')
    await skipTime(70)
    await send(deployerKey, addresses().market, jobMarketAbi, 'expire', [jobId])
    const expired = await waitForJobStatus(jobId, 'EXPIRED')
    expect(expired.finalized_at).not.toBeNull()
  })

  test('claims: partial claimers while OPEN, a claimed round, partial claims released by assign and by expire', async () => {
    const { market } = addresses()
    const { claimGrace, commitWindow } = deployment.params.market
    const jobRow = async (jobId: bigint) =>
      (await sql.query(`select * from ${viewsSchema}.job where id = $1`, [jobId.toString()])).rows[0] as Record<string, unknown>
    const assigned = async (jobId: bigint) =>
      (await sql.query(`select provider from ${viewsSchema}.assignment where job_id = $1 order by slot`, [jobId.toString()])).rows.map(
        (r) => r.provider,
      )

    // Filled by claims: the k-th claim assigns it, and the round is a claimed one.
    const filled = await submitJob({ redundancy: 2 })
    const open = await waitForJobStatus(filled.jobId, 'OPEN')
    expect(open).toMatchObject({ claimers: [], claimed: false, opened_at: open.submitted_at })
    await skipTime(claimGrace)
    await send(p2Key, market, jobMarketAbi, 'claimJob', [filled.jobId])
    await waitForRows(
      `select claimers from ${viewsSchema}.job where id = $1`,
      [filled.jobId.toString()],
      (rows) => rows[0]?.claimers.length === 1,
    )
    const partly = await jobRow(filled.jobId)
    expect(partly).toMatchObject({ status: 'OPEN', claimers: [p2], claimed: false, round: 0 })
    // When the first claim was made: the matcher leaves the job to its claimers for a commit window after it.
    expect(BigInt(partly.first_claimed_at as string)).toBeGreaterThanOrEqual(BigInt(partly.opened_at as string) + claimGrace)
    expect(await assigned(filled.jobId)).toEqual([])
    await send(p3Key, market, jobMarketAbi, 'claimJob', [filled.jobId])
    expect(await waitForJobStatus(filled.jobId, 'ASSIGNED')).toMatchObject({
      claimers: [],
      first_claimed_at: null,
      claimed: true,
      round: 1,
      providers: [p2, p3],
    })
    expect(await assigned(filled.jobId)).toEqual([p2, p3])

    // A partial claim the matcher overrides a commit window later: released, the matcher's round is not a claimed one.
    const overridden = await submitJob({ redundancy: 2 })
    await waitForJobStatus(overridden.jobId, 'OPEN')
    await skipTime(claimGrace)
    await send(p4Key, market, jobMarketAbi, 'claimJob', [overridden.jobId])
    await waitForRows(`select claimers from ${viewsSchema}.job where id = $1`, [overridden.jobId.toString()], (rows) =>
      rows[0]?.claimers.includes(p4),
    )
    await skipTime(commitWindow + 1n)
    await send(matcherKey, market, jobMarketAbi, 'assign', [overridden.jobId, [p2, p6]])
    expect(await waitForJobStatus(overridden.jobId, 'ASSIGNED')).toMatchObject({
      claimers: [],
      first_claimed_at: null,
      claimed: false,
      providers: [p2, p6],
    })
    expect(await assigned(overridden.jobId)).toEqual([p2, p6])

    // A partial claim on a job that expires: released with it.
    const expiring = await submitJob({ redundancy: 2, deadlineIn: claimGrace + 30n })
    await waitForJobStatus(expiring.jobId, 'OPEN')
    const [lockedBefore] = await counters([p6])
    await skipTime(claimGrace)
    await send(p6Key, market, jobMarketAbi, 'claimJob', [expiring.jobId])
    await waitForRows(`select claimers from ${viewsSchema}.job where id = $1`, [expiring.jobId.toString()], (rows) =>
      rows[0]?.claimers.includes(p6),
    )
    await skipTime(60)
    await send(deployerKey, market, jobMarketAbi, 'expire', [expiring.jobId])
    expect(await waitForJobStatus(expiring.jobId, 'EXPIRED')).toMatchObject({ claimers: [], first_claimed_at: null, claimed: false })
    expect(await assigned(expiring.jobId)).toEqual([])
    const [released] = await counters([p6])
    expect(released.locked).toBe(lockedBefore.locked)
  })

  test('epochs, reward claims and withdrawals', async () => {
    const { controller, market } = addresses()
    const { publicClient } = clients()
    await skipTime(deployment.params.emission.epochLength * 2n)
    await send(deployerKey, controller, emissionControllerAbi, 'advanceEpoch')
    const lastClosed = await publicClient.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'lastClosedEpoch' })
    const epochs = await waitForRows(`select * from ${viewsSchema}.epoch order by id`, [], (rows) => rows.length === Number(lastClosed) + 1)
    expect(epochs.map((e) => e.id)).toEqual(epochs.map((_, i) => String(i)))
    expect(epochs.reduce((sum, e) => sum + BigInt(e.fees), 0n)).toBeGreaterThan(0n)
    expect(epochs.every((e) => e.claimed === '0' && typeof e.limiter === 'number')).toBe(true)

    // Claim p2's reward from the epoch its jobs paid fees in.
    const feeEpoch = epochs.find((e) => BigInt(e.fees) > 0n)
    if (!feeEpoch) throw new Error('no epoch recorded a fee')
    const paidEpoch = BigInt(feeEpoch.id)
    const [usage, availability] = await publicClient.readContract({
      address: controller,
      abi: emissionControllerAbi,
      functionName: 'claimable',
      args: [paidEpoch, p2],
    })
    expect(usage).toBeGreaterThan(0n)
    await send(p2Key, controller, emissionControllerAbi, 'claim', [paidEpoch])
    const [claim] = await waitForRows(`select * from ${viewsSchema}.reward_claim`, [], (rows) => rows.length === 1)
    expect(claim).toMatchObject({
      epoch: paidEpoch.toString(),
      provider: p2,
      usage: usage.toString(),
      availability: availability.toString(),
    })
    const [claimedEpoch] = await waitForRows(
      `select claimed from ${viewsSchema}.epoch where id = $1`,
      [paidEpoch.toString()],
      (rows) => rows[0]?.claimed !== '0',
    )
    expect(claimedEpoch.claimed).toBe((usage + availability).toString())

    const owed = await publicClient.readContract({ address: market, abi: jobMarketAbi, functionName: 'owed', args: [p2] })
    await send(p2Key, market, jobMarketAbi, 'withdraw')
    const [withdrawal] = await waitForRows(
      `select * from ${viewsSchema}.payment where kind = 'WITHDRAWAL'`,
      [],
      (rows) => rows.length === 1,
    )
    expect(withdrawal).toMatchObject({ account: p2, amount: owed.toString(), job_id: null })
  })

  test('unstake, and provider stake numbers match the chain', async () => {
    const { registry } = addresses()
    const { publicClient } = clients()
    await send(p4Key, registry, providerRegistryAbi, 'requestUnstake', [parseEther('100')])
    await send(p4Key, registry, providerRegistryAbi, 'pause')
    await waitForRows(`select * from ${viewsSchema}.provider where address = $1`, [p4], (rows) => rows[0]?.paused === true)
    for (const address of [p2, p3, p4, p6]) {
      const onChain = await publicClient.readContract({
        address: registry,
        abi: providerRegistryAbi,
        functionName: 'getProvider',
        args: [address],
      })
      const { rows } = await sql.query(
        `select stake, locked, pending_unstake, unstake_available_at, paused from ${viewsSchema}.provider where address = $1`,
        [address],
      )
      expect(rows[0]).toEqual({
        stake: onChain.stake.toString(),
        locked: onChain.locked.toString(),
        pending_unstake: onChain.pendingUnstake.toString(),
        unstake_available_at: onChain.unstakeAvailableAt.toString(),
        paused: onChain.paused,
      })
    }
    const { rows } = await sql.query(
      `select kind, amount from ${viewsSchema}.stake_event where provider = $1 and kind = 'unstake_requested'`,
      [p4],
    )
    expect(rows).toEqual([{ kind: 'unstake_requested', amount: parseEther('100').toString() }])
  })

  test('ponderSchemaName: stable for one chain and deployment', async () => {
    const name = await ponderSchemaName({ rpcUrl: anvil.rpcUrl, deploymentPath })
    expect(name).toMatch(/^ponder_[0-9a-f]{16}$/)
    expect(await ponderSchemaName({ rpcUrl: anvil.rpcUrl, deploymentPath })).toBe(name)
    expect(ponder.schema).toBe(name)
  })

  test('startIndexer pruned the other ponder_* schemas; dropOtherPonderSchemas keeps its own and ponder_sync', async () => {
    expect(ponder.prunedSchemas).toEqual(['ponder_stale'])
    await sql.query('create schema ponder_old_a; create schema ponder_old_b; create schema ponderish')
    expect(await dropOtherPonderSchemas({ databaseUrl: database.url, keep: ponder.schema })).toEqual(['ponder_old_a', 'ponder_old_b'])
    const { rows } = await sql.query(`select nspname from pg_namespace where nspname like 'ponder%'`)
    expect(rows.map((r) => r.nspname).sort()).toEqual([ponder.schema, 'ponder_sync', 'ponderish'].sort())
    const jobs = await sql.query(`select count(*)::int as n from ${viewsSchema}.job`)
    expect(jobs.rows[0].n).toBeGreaterThan(0)
  })

  test("startPonder rejects with Ponder's last lines when Ponder exits", async () => {
    const failure = startPonder({
      databaseUrl: database.url,
      rpcUrl: anvil.rpcUrl,
      chainId: 31337,
      deploymentPath: path.join(tmpDir, 'missing.json'),
      schema: 'ponder_broken',
      viewsSchema: 'chain_broken',
      port: await freePort(),
    })
    await expect(failure).rejects.toBeInstanceOf(PonderStartError)
    await expect(failure).rejects.toThrow(/Cannot read the deployment file .*missing\.json/)
  })
})
