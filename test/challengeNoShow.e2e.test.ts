import { type Address, createPublicClient, createTestClient, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { challengeLedgerAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { jobsOfProvider, ownChallengeOf, settledNoShows, startGhostStack, untilHonestSettled } from './support/ghost.ts'
import { gqlData, waitFor } from './support/graphql.ts'

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
let setup: Awaited<ReturnType<typeof startGhostStack>> | undefined
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })

beforeAll(async () => {
  setup = await startGhostStack({
    name: 'challenge-noshow',
    agentKeys: [honestKey, otherHonestKey],
    ghostKey: devKeys[7],
    challenges: { epochsPerRound: 1_000_000, minProviders: 3, deadlineSeconds },
  })
  stack = setup.stack
}, 240_000)

afterAll(async () => {
  await setup?.stop()
}, 60_000)

const jobsOf = (provider: Address) => jobsOfProvider(stack.graphqlUrl, provider)

test('a provider that vanishes with its challenge job is slashed as a no-show, its job refunded, its challenge failed', async () => {
  const ghostJob = await waitFor('the ghost assigned its challenge', () => ownChallengeOf(stack.graphqlUrl, ghost.address), {
    timeoutMs: 120_000,
  })
  setup?.ghost.stop()
  // The honest agents answer in seconds; the ghost never will. Nothing of theirs may be in flight when time jumps.
  await untilHonestSettled(stack, [honest, otherHonest], ghost.address)
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
  // Slashed once for each assignment it abandoned: its challenge, and any audit it was handed before it went silent.
  expect((await settledNoShows(stack.graphqlUrl, ghost.address)).noShows).toBeGreaterThanOrEqual(1)
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
