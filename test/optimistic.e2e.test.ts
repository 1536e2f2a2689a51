import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  maxUint256,
  parseEther,
  parseEventLogs,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { quoteJob } from '../client/quoteJob.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { submitJob } from '../client/submitJob.ts'
import { jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { Verification } from '../protocol/enums.ts'
import { decodeRevert } from '../protocol/revert.ts'
import { takeOf } from '../protocol/settlement.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { BPS } from '../protocol/units.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { startTestStack } from './support/stack.ts'

// Optimistic verification end to end: the whole stack (anvil with 1 s blocks, Ponder, the server with its matcher and
// keeper) and three honest agents. An optimistic job runs on one agent and settles when its challenge window closes
// (or after its audit, when the spot check picks it); a challenged one goes to a fresh agent's audit, which confirms
// it: the provider keeps its pay and gets half the bond.

const asks = [parseEther('0.001'), parseEther('0.002'), parseEther('0.003')]
const agentKeys = [devKeys[2], devKeys[3], devKeys[4]] as const
const agents = agentKeys.map((k) => privateKeyToAccount(k).address)
const requesterKey = devKeys[5]

/** The requester's key, signing its blob uploads for the stack's chain. */
const requesterCredentials = () => ({ account: privateKeyToAccount(requesterKey), chainId: stack.deployment.chainId })
const challenger = privateKeyToAccount(devKeys[6])
const rows = 4
const maxPricePerUnit = parseEther('0.01')

let stack: Stack
let database: TestDatabase
let dataDir: string
let modelHash: Hex
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })
const market = () => stack.deployment.contracts.JobMarket.address as Address
const P = () => stack.deployment.params.market

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-optimistic-e2e-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: agentKeys.map((privateKey, i) => ({ privateKey, pricePerUnit: asks[i] })),
    requesters: [requesterKey, devKeys[6]],
    proofWindow: 10,
  })
  modelHash = (
    await uploadBlob({
      serverUrl: stack.serverUrl,
      credentials: requesterCredentials(),
      bytes: buildMlp({ seed: 21, inputSize: 16, hiddenSize: 32, outputSize: 8 }),
    })
  ).sha256
}, 240_000)

afterAll(async () => {
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

async function submitOptimistic(seed: number) {
  const input = encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed, rows, inputSize: 16 }) })
  const { sha256: inputHash } = await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes: input })
  return submitJob({
    rpcUrl: stack.rpcUrl,
    deployment: stack.deployment,
    privateKey: requesterKey,
    modelHash,
    inputHash,
    units: BigInt(rows),
    maxPricePerUnit,
    redundancy: 1,
    verification: Verification.Optimistic,
  })
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
}
type OptimisticJobData = {
  status: string
  verification: string
  fees: string | null
  burned: string | null
  refunded: string | null
  disputedProviders: Address[]
  audit: AuditData | null
  assignments: { provider: Address; round: number; price: string; collateral: string; outcome: string; paid: string }[]
}
const jobQuery = /* GraphQL */ `
  query ($id: BigInt!) {
    job(id: $id) {
      status verification fees burned refunded disputedProviders
      audit { kind auditors challenger bond premium reimbursed bondToProvider bondBurned bondReturned }
      assignments { provider round price collateral outcome paid }
    }
  }`

async function waitForJob(jobId: bigint, what: string, accept: (job: OptimisticJobData) => boolean, timeoutMs = 120_000) {
  return waitFor(
    `job ${jobId}: ${what}`,
    async () => {
      const { job } = await gqlData<{ job: OptimisticJobData | null }>(stack.graphqlUrl, jobQuery, { id: jobId.toString() })
      return job && accept(job) ? job : undefined
    },
    { timeoutMs },
  )
}

const settledStatuses = ['COMPLETED', 'FAILED', 'FAILED_INVALID', 'EXPIRED']
const askOf = (provider: Address) => asks[agents.findIndex((a) => a.toLowerCase() === provider.toLowerCase())]

describe('an optimistic job run by agents', () => {
  test('runs on one agent, locking the optimistic collateral, and completes once its challenge window closed', async () => {
    const { jobId, escrow } = await submitOptimistic(31)
    const revealed = await waitForJob(jobId, 'revealed', (j) => j.status !== 'OPEN' && j.status !== 'ASSIGNED' && j.status !== 'COMMITTED')
    expect(revealed.verification).toBe('OPTIMISTIC')
    const [first] = revealed.assignments
    expect(revealed.assignments).toHaveLength(1)
    expect(BigInt(first.collateral)).toBe((askOf(first.provider) * BigInt(rows) * P().optimisticCollateralBps) / BPS)
    // Nobody challenges: the keeper settles the job when its 60 s window closes (skipped here), unless the spot check
    // picked it, in which case a second agent audits it first.
    const test = createTestClient({ mode: 'anvil', transport: http(stack.rpcUrl) })
    await test.increaseTime({ seconds: Number(P().challengeWindow) + 1 })
    await test.mine({ blocks: 1 })

    const job = await waitForJob(jobId, 'settled', (j) => settledStatuses.includes(j.status) && j.audit?.premium !== null)
    expect(job.status).toBe('COMPLETED')
    const pay = askOf(first.provider) * BigInt(rows)
    expect(job.assignments[0]).toMatchObject({ provider: first.provider, round: 1, outcome: 'AGREED', paid: pay.toString() })
    if (job.audit?.kind === 'NONE') {
      // Unaudited: one provider paid, the take burned, the premium into the audit fund, the rest (a whole second
      // execution's escrow among it) back to the requester.
      const premium = (pay * P().spotCheckBps) / BPS
      expect(job).toMatchObject({ fees: pay.toString(), burned: takeOf(pay, P()).toString() })
      expect(job.audit).toMatchObject({ premium: premium.toString(), reimbursed: '0', bondReturned: '0' })
      expect(BigInt(job.refunded ?? '0')).toBe(escrow - pay - takeOf(pay, P()) - premium)
    } else {
      // The spot check picked it (8 % of jobs): a fresh agent audited it and agreed, both were paid.
      expect(job.audit).toMatchObject({ kind: 'SPOT', auditors: 1, premium: '0' })
      expect(job.assignments.map((a) => [a.round, a.outcome])).toEqual([
        [1, 'AGREED'],
        [2, 'AGREED'],
      ])
    }
  }, 180_000)

  test('challenged, it goes to a fresh agent’s audit, which confirms it: the provider keeps its pay and half the bond', async () => {
    const wallet = createWalletClient({ account: challenger, transport: http(stack.rpcUrl) })
    const approve = await wallet.writeContract({
      chain: null,
      address: stack.deployment.contracts.TesseraToken.address,
      abi: tesseraTokenAbi,
      functionName: 'approve',
      args: [market(), maxUint256],
    })
    await client().waitForTransactionReceipt({ hash: approve })

    // Challenged while revealed; a job the spot check already sent to its audit (8 %) can't be, so try another.
    let challenged: { jobId: bigint; bond: bigint } | undefined
    for (let seed = 40; seed < 44 && !challenged; seed++) {
      const { jobId } = await submitOptimistic(seed)
      await waitForJob(jobId, 'revealed', (j) => j.status === 'REVEALED' || j.status === 'DISPUTED')
      try {
        const hash = await wallet.writeContract({
          chain: null,
          address: market(),
          abi: jobMarketAbi,
          functionName: 'challenge',
          args: [jobId],
        })
        const receipt = await client().waitForTransactionReceipt({ hash })
        const [event] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'Challenged' })
        challenged = { jobId, bond: event.args.bond }
      } catch (error) {
        if (decodeRevert(error)?.errorName !== 'NotChallengeable') throw error
      }
    }
    if (!challenged) throw new Error('every job was spot-checked before it could be challenged')
    const { jobId, bond } = challenged
    expect(bond).toBe((maxPricePerUnit * BigInt(rows) * P().challengeBondBps) / BPS)

    const job = await waitForJob(jobId, 'settled', (j) => settledStatuses.includes(j.status) && j.audit?.bondToProvider !== null)
    expect(job.status).toBe('COMPLETED')
    const [original, auditor] = job.assignments
    expect(job.assignments).toHaveLength(2)
    expect(original).toMatchObject({ round: 1, outcome: 'AGREED', paid: (askOf(original.provider) * BigInt(rows)).toString() })
    expect(auditor).toMatchObject({ round: 2, outcome: 'AGREED', paid: (askOf(auditor.provider) * BigInt(rows)).toString() })
    expect(auditor.provider).not.toBe(original.provider)
    expect(job.disputedProviders).toEqual([original.provider])
    expect(job.audit).toMatchObject({
      kind: 'CHALLENGE',
      auditors: 1,
      challenger: challenger.address,
      bond: bond.toString(),
      premium: '0',
      bondToProvider: (bond / 2n).toString(),
      bondBurned: (bond - bond / 2n).toString(),
      bondReturned: '0',
    })
    // Both runs were paid from the escrow, the deciding round (the audit) first, as JobMarket credits them.
    const { job: paid } = await gqlData<{ job: { payments: { account: Address; kind: string; amount: string }[] } }>(
      stack.graphqlUrl,
      `query ($id: BigInt!) { job(id: $id) { payments { account kind amount } } }`,
      { id: jobId.toString() },
    )
    expect(paid.payments.filter((p) => p.kind === 'FEE').map((p) => [p.account, p.amount])).toEqual([
      [auditor.provider, auditor.paid],
      [original.provider, original.paid],
    ])
    // The provider's half of the bond is a payment and part of its earnings; nothing comes back to the challenger.
    expect(paid.payments.filter((p) => p.kind.startsWith('BOND')).map((p) => [p.account, p.kind, p.amount])).toEqual([
      [original.provider, 'BOND_SHARE', (bond / 2n).toString()],
    ])
    const { provider } = await gqlData<{ provider: { earnings: { fees: string; bondShares: string; earnedTotal: string } } }>(
      stack.graphqlUrl,
      `query ($a: Address!) { provider(address: $a) { earnings { fees bondShares earnedTotal } } }`,
      { a: original.provider },
    )
    expect(BigInt(provider.earnings.bondShares)).toBe(bond / 2n)
    expect(BigInt(provider.earnings.earnedTotal)).toBeGreaterThanOrEqual(BigInt(provider.earnings.fees) + bond / 2n)
  }, 240_000)
})

describe('quote', () => {
  test('prices both modes from the live providers: optimistic costs one run plus the premium, redundant k runs', async () => {
    const units = BigInt(rows)
    // The cheapest live asks: one for the optimistic run, the two cheapest for k = 2.
    const oneRun = asks[0] * units
    const twoRuns = (asks[0] + asks[1]) * units
    // Once every provider is live and free again: a clean CI run once quoted the second-cheapest alone (fees 2× one
    // run) right after the tests above, the cheapest not eligible for that moment.
    const quote = await waitFor(
      'a quote from the cheapest providers',
      async () => {
        const answer = await quoteJob({ serverUrl: stack.serverUrl, units, maxPricePerUnit, redundancy: 2 })
        return answer.optimistic.fees === oneRun && answer.redundant.fees === twoRuns ? answer : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(quote.optimistic).toMatchObject({ reason: 'OK', providers: 1, fees: oneRun })
    expect(quote.optimistic.cost).toBe(oneRun + takeOf(oneRun, P()) + (oneRun * P().spotCheckBps) / BPS)
    expect(quote.redundant).toMatchObject({ reason: 'OK', providers: 2, fees: twoRuns, cost: twoRuns + takeOf(twoRuns, P()) })
    // Both escrow a second run's worth: optimistic holds it for an audit.
    expect(quote.optimistic.escrow).toBe(quote.redundant.escrow)
    expect(quote.check).toBeNull()

    // The CLI prints the same, its units read from an input file.
    const input = path.join(dataDir, 'quote-input.json')
    await writeFile(input, encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed: 5, rows, inputSize: 16 }) }))
    const repoRoot = path.resolve(import.meta.dirname, '..')
    const { stdout } = await promisify(execFile)(
      path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
      [path.join(repoRoot, 'cli', 'tessera.ts'), 'job', 'quote', '--input', input, '--server', stack.serverUrl],
      { cwd: repoRoot },
    )
    const printed = JSON.parse(stdout)
    expect(printed).toMatchObject({
      units: units.toString(),
      optimistic: { reason: 'OK', cost: quote.optimistic.cost?.toString() },
      redundant: { reason: 'OK', cost: quote.redundant.cost?.toString() },
    })
    // Bad input is refused by name before any request.
    const bad = await promisify(execFile)(
      path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
      [path.join(repoRoot, 'cli', 'tessera.ts'), 'job', 'quote', '--units', '-3', '--server', stack.serverUrl],
      { cwd: repoRoot },
    ).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    )
    expect(bad?.code).toBe(1)
    expect(bad?.stderr).toContain('--units must be a whole number from 1 to 9007199254740991, got "-3"')
  }, 60_000)
})
