import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Address, createPublicClient, createTestClient, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { challengeLedgerAbi, jobMarketAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { startGhostProvider } from './support/ghost.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { startTestStack } from './support/stack.ts'

// A provider that vanishes in the middle of its challenge (issue 7, the provider who vanishes): live by its heartbeats
// when the round starts, it is assigned its challenge job and never runs it. Past the commit window the keeper expires
// its assignment (JobMarket slashes the no-show); the job, reserved for it alone, expires at its deadline and is
// refunded; the issuer records a failed challenge with no throughput and reveals the round. The honest agents'
// challenges in the same round pass, unhurt (two of them, so that a spot-checked honest job finds its auditor).

const honestKey = devKeys[2]
const otherHonestKey = devKeys[3]
const ghost = privateKeyToAccount(devKeys[7])
const honest = privateKeyToAccount(honestKey).address
const otherHonest = privateKeyToAccount(otherHonestKey).address
const issuer = privateKeyToAccount(devKeys[1]).address
const deadlineSeconds = 300

let stack: Stack
let database: TestDatabase
let dataDir: string
let ghostProvider: { stop: () => void } | undefined
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-challenge-noshow-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: [
      { privateKey: honestKey, pricePerUnit: parseEther('0.001') },
      { privateKey: otherHonestKey, pricePerUnit: parseEther('0.001') },
    ],
    spareProviders: [devKeys[7]],
    // One round, once the agents and the ghost are all live.
    challenges: { epochsPerRound: 1_000_000, minProviders: 3, deadlineSeconds },
  })
  // The ghost registers and stakes like any provider, and says it is alive.
  ghostProvider = await startGhostProvider(stack, ghost)
}, 240_000)

afterAll(async () => {
  ghostProvider?.stop()
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

type JobRow = {
  id: string
  status: string
  assignments: { provider: Address; outcome: string; round: number }[]
  payments: { kind: string; account: Address }[]
}

const jobsOf = async (provider: Address) =>
  (
    await gqlData<{ jobs: { edges: { node: JobRow }[] } }>(
      stack.graphqlUrl,
      `query($p: Address!) { jobs(where: { provider: $p }) { edges { node { id status assignments { provider outcome round } payments { kind account } } } } }`,
      { p: provider },
    )
  ).jobs.edges.map((e) => e.node)

test('a provider that vanishes with its challenge job is slashed as a no-show, its job refunded, its challenge failed', async () => {
  const ghostJob = await waitFor('the ghost assigned its challenge', async () => (await jobsOf(ghost.address))[0], { timeoutMs: 120_000 })
  ghostProvider?.stop()
  // The honest agents answer in seconds; the ghost never will. Nothing of theirs may be in flight when time jumps (its
  // commit window would pass): each result revealed, and a spot check, once block revealBlock + 1 decides it, run too.
  for (const p of [honest, otherHonest]) {
    const job = await waitFor(
      `${p}'s challenge revealed`,
      async () => {
        // Its own challenge: the job it was first assigned (an audit it ran for the other is a later round).
        const own = (await jobsOf(p)).find((j) => j.assignments.some((a) => a.provider.toLowerCase() === p.toLowerCase() && a.round === 1))
        return own && !['OPEN', 'ASSIGNED', 'COMMITTED'].includes(own.status) ? own : undefined
      },
      { timeoutMs: 60_000 },
    )
    const { revealBlock } = (await client().readContract({
      address: stack.deployment.contracts.JobMarket.address,
      abi: jobMarketAbi,
      functionName: 'getAudit',
      args: [BigInt(job.id)],
    })) as { revealBlock: bigint }
    await waitFor('the spot check decided', async () => ((await client().getBlockNumber()) > revealBlock + 1n ? true : undefined))
    const kind = await client().readContract({
      address: stack.deployment.contracts.JobMarket.address,
      abi: jobMarketAbi,
      functionName: 'spotCheckOf',
      args: [BigInt(job.id)],
    })
    if (kind !== 0)
      await waitFor(`${p}'s spot check run`, async () => {
        const audited = (await jobsOf(p)).find((j) => j.id === job.id)
        const auditor = audited?.assignments.find((a) => a.provider.toLowerCase() !== p.toLowerCase())
        return auditor && auditor.outcome !== 'PENDING' ? true : undefined
      })
  }
  // Past the ghost's commit window and its job's deadline at once: the keeper expires the assignment, then the job.
  await createTestClient({ mode: 'anvil', transport: http(stack.rpcUrl) }).increaseTime({ seconds: deadlineSeconds + 1 })

  const round = 1n
  const records = await waitFor(
    'the three challenges recorded',
    async () => {
      const logs = await client().getContractEvents({
        address: stack.deployment.contracts.ChallengeLedger.address,
        abi: challengeLedgerAbi,
        eventName: 'ChallengeRecorded',
        args: { round },
        fromBlock: 0n,
      })
      return logs.length >= 3 ? logs.map((l) => l.args) : undefined
    },
    { timeoutMs: 150_000, intervalMs: 1000 },
  )
  const byProvider = new Map(records.map((r) => [r.provider?.toLowerCase(), r]))
  expect(byProvider.get(ghost.address.toLowerCase())).toMatchObject({ jobId: BigInt(ghostJob.id), passed: false, unitsPerHour: 0n })
  expect(byProvider.get(honest.toLowerCase())).toMatchObject({ passed: true })
  expect(byProvider.get(otherHonest.toLowerCase())).toMatchObject({ passed: true })

  const settled = await waitFor('the ghost job indexed as expired', async () => {
    const job = (await jobsOf(ghost.address)).find((j) => j.id === ghostJob.id)
    return job?.status === 'EXPIRED' && job.payments.some((p) => p.kind === 'REFUND') ? job : undefined
  })
  expect(settled.assignments.find((a) => a.provider.toLowerCase() === ghost.address.toLowerCase())?.outcome).toBe('NO_SHOW')
  expect(settled.payments.filter((p) => p.kind === 'REFUND').map((p) => p.account.toLowerCase())).toEqual([issuer.toLowerCase()])
  const slashes = async (a: Address) =>
    (
      await gqlData<{ provider: { slashCount: number } }>(
        stack.graphqlUrl,
        'query($a: Address!) { provider(address: $a) { slashCount } }',
        { a },
      )
    ).provider.slashCount
  expect(await slashes(ghost.address)).toBe(1)
  expect(await slashes(honest)).toBe(0)
  expect(await slashes(otherHonest)).toBe(0)

  const revealed = await waitFor('the round revealed', async () => {
    const r = (await client().readContract({
      address: stack.deployment.contracts.ChallengeLedger.address,
      abi: challengeLedgerAbi,
      functionName: 'getRound',
      args: [round],
    })) as { revealed: boolean }
    return r.revealed ? r : undefined
  })
  expect(revealed.revealed).toBe(true)
}, 420_000)
