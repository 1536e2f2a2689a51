import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Address, createPublicClient, createTestClient, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { challengeLedgerAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { startGhostProvider } from './support/ghost.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { startTestStack } from './support/stack.ts'

// A round that can't finish: its give-up timeout (issue 7, the provider who vanishes, seen from the issuer). A ghost
// provider is assigned its challenge job and never runs it; its job, reserved for it, waits Open for a deadline later
// than the round's give-up. At the give-up the issuer reveals the round with the ghost's job still live and
// unrecorded, so a round never hangs on one provider, and the seed is public while that job still waits: it then
// expires and is refunded, and nothing more is recorded for it.

const honestKeys = [devKeys[2], devKeys[3]] as const
const honest = honestKeys.map((k) => privateKeyToAccount(k).address)
const ghost = privateKeyToAccount(devKeys[7])
const deadlineSeconds = 900
const giveUpSeconds = 200

let stack: Stack
let database: TestDatabase
let dataDir: string
let ghostProvider: { stop: () => void } | undefined
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })
const warp = (seconds: number) => createTestClient({ mode: 'anvil', transport: http(stack.rpcUrl) }).increaseTime({ seconds })

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-challenge-giveup-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: honestKeys.map((privateKey) => ({ privateKey, pricePerUnit: parseEther('0.001') })),
    spareProviders: [devKeys[7]],
    // One round, once both agents and the ghost are live, its jobs sent at once.
    challenges: { epochsPerRound: 1_000_000, minProviders: 3, deadlineSeconds, giveUpSeconds, spreadSeconds: 0 },
  })
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
  payments: { kind: string }[]
}

const jobsOf = async (provider: Address) =>
  (
    await gqlData<{ jobs: { edges: { node: JobRow }[] } }>(
      stack.graphqlUrl,
      'query($p: Address!) { jobs(where: { provider: $p }) { edges { node { id status assignments { provider outcome round } payments { kind } } } } }',
      { p: provider },
    )
  ).jobs.edges.map((e) => e.node)

const ledger = () => stack.deployment.contracts.ChallengeLedger.address
const revealedRounds = async () =>
  (await client().getContractEvents({ address: ledger(), abi: challengeLedgerAbi, eventName: 'RoundRevealed', fromBlock: 0n })).map(
    (l) => l.args.round,
  )
const recordedProviders = async () =>
  (await client().getContractEvents({ address: ledger(), abi: challengeLedgerAbi, eventName: 'ChallengeRecorded', fromBlock: 0n })).map(
    (l) => l.args.provider?.toLowerCase(),
  )

test('a round whose job outlives its give-up is revealed with that job unrecorded, and the job still settles', async () => {
  const ghostJob = await waitFor('the ghost assigned its challenge', async () => (await jobsOf(ghost.address))[0], { timeoutMs: 120_000 })
  ghostProvider?.stop()
  // The honest answer at once; both reveal before time moves, so nothing of theirs is in flight across the jump.
  for (const p of honest)
    await waitFor(`${p}'s challenge revealed`, async () => {
      const own = (await jobsOf(p)).find((j) => j.assignments.some((a) => a.provider.toLowerCase() === p.toLowerCase() && a.round === 1))
      return own && !['OPEN', 'ASSIGNED', 'COMMITTED'].includes(own.status) ? own : undefined
    })
  // Past the give-up, short of the ghost's deadline: its assignment expires (a no-show), its job waits Open for it.
  await warp(giveUpSeconds + 1)
  const revealed = await waitFor('the round revealed at its give-up', async () => {
    const rounds = await revealedRounds()
    return rounds.length ? rounds : undefined
  })
  expect(revealed).toEqual([1n])
  const atReveal = (await jobsOf(ghost.address)).find((j) => j.id === ghostJob.id)
  expect(['OPEN', 'ASSIGNED']).toContain(atReveal?.status)
  expect(await recordedProviders()).not.toContain(ghost.address.toLowerCase())

  // Past the deadline: the job expires and is refunded like any job of the gateway; still nothing recorded for it.
  await warp(deadlineSeconds)
  const expired = await waitFor('the ghost job expired and refunded', async () => {
    const job = (await jobsOf(ghost.address)).find((j) => j.id === ghostJob.id)
    return job?.status === 'EXPIRED' && job.payments.some((p) => p.kind === 'REFUND') ? job : undefined
  })
  expect(expired.assignments.find((a) => a.provider.toLowerCase() === ghost.address.toLowerCase())?.outcome).toBe('NO_SHOW')
  expect(await recordedProviders()).not.toContain(ghost.address.toLowerCase())
  const { provider } = await gqlData<{ provider: { challengesFailed: number; slashCount: number } }>(
    stack.graphqlUrl,
    'query($a: Address!) { provider(address: $a) { challengesFailed slashCount } }',
    { a: ghost.address },
  )
  // Slashed once, as any no-show is; no challenge failure on record, as the round had ended.
  expect(provider).toEqual({ challengesFailed: 0, slashCount: 1 })
}, 300_000)
