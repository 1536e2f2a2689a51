import { type Address, createPublicClient, createTestClient, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { challengeLedgerAbi, jobMarketAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { jobStatusName } from '../protocol/enums.ts'
import {
  jobsOfProvider,
  ownChallengeOf,
  settledNoShows,
  startGhostStack,
  untilHonestSettled,
  untilNoHonestInFlight,
} from './support/ghost.ts'
import { gqlData, waitFor } from './support/graphql.ts'

// A round that can't finish: its give-up timeout (issue 7, the provider who vanishes, seen from the issuer). A ghost
// provider is assigned its challenge job and never runs it; its job, reserved for it, waits Open for a deadline later
// than the round's give-up. At the give-up the issuer reveals the round with the ghost's job still live and
// unrecorded, so a round never hangs on one provider. The reveal frees the job's reservation, so it then settles as any
// gateway job does (another provider runs it, or it expires and is refunded), and nothing more is recorded for it.

const honestKeys = [devKeys[2], devKeys[3]] as const
const honest = honestKeys.map((k) => privateKeyToAccount(k).address)
const ghost = privateKeyToAccount(devKeys[7])
const deadlineSeconds = 900
const giveUpSeconds = 200

let stack: Stack
let setup: Awaited<ReturnType<typeof startGhostStack>> | undefined
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })
const warp = (seconds: number) => createTestClient({ mode: 'anvil', transport: http(stack.rpcUrl) }).increaseTime({ seconds })

beforeAll(async () => {
  setup = await startGhostStack({
    name: 'challenge-giveup',
    agentKeys: honestKeys,
    ghostKey: devKeys[7],
    challenges: { epochsPerRound: 1_000_000, minProviders: 3, deadlineSeconds, giveUpSeconds, spreadSeconds: 0 },
  })
  stack = setup.stack
}, 240_000)

afterAll(async () => {
  await setup?.stop()
}, 60_000)

const jobsOf = (provider: Address) => jobsOfProvider(stack.graphqlUrl, provider)

const ledger = () => stack.deployment.contracts.ChallengeLedger.address
const recordedProviders = async () =>
  (await client().getContractEvents({ address: ledger(), abi: challengeLedgerAbi, eventName: 'ChallengeRecorded', fromBlock: 0n })).map(
    (l) => l.args.provider?.toLowerCase(),
  )

test('a round whose job outlives its give-up is revealed with that job live and unrecorded, and the job still settles', async () => {
  const ghostJob = await waitFor('the ghost assigned its challenge', () => ownChallengeOf(stack.graphqlUrl, ghost.address), {
    timeoutMs: 120_000,
  })
  setup?.ghost.stop()
  // The honest answer at once; nothing of theirs may be in flight when time jumps.
  await untilHonestSettled(stack, honest, ghost.address)
  // Past the give-up, short of the ghost's deadline: its assignment expires (a no-show), its job waits Open for it.
  await warp(giveUpSeconds + 1)
  const revealed = await waitFor('the round revealed at its give-up', async () => {
    const logs = await client().getContractEvents({ address: ledger(), abi: challengeLedgerAbi, eventName: 'RoundRevealed', fromBlock: 0n })
    return logs.length ? logs : undefined
  })
  expect(revealed.map((l) => l.args.round)).toEqual([1n])
  // Still live in the block that revealed the round (read from the chain at that block, not raced against the index).
  const atReveal = (await client().readContract({
    address: stack.deployment.contracts.JobMarket.address,
    abi: jobMarketAbi,
    functionName: 'getJob',
    args: [BigInt(ghostJob.id)],
    blockNumber: revealed[0].blockNumber,
  })) as { status: number }
  expect(['OPEN', 'ASSIGNED']).toContain(jobStatusName(atReveal.status))
  expect(await recordedProviders()).not.toContain(ghost.address.toLowerCase())

  // Past the deadline the job has settled as any job of the gateway does: run by another provider once the reveal freed
  // it, or expired and refunded. Still nothing is recorded for it. The matcher hands a freed job on at its next block:
  // that run (an honest provider's) ends before time jumps, or the jump would shut out its reveal.
  await waitFor(
    'the freed ghost job handed on',
    async () => {
      const job = (await jobsOf(ghost.address)).find((j) => j.id === ghostJob.id)
      return job?.status !== 'OPEN' ? true : undefined
    },
    { timeoutMs: 10_000 },
  ).catch(() => undefined) // left Open (nobody took it): it expires at the deadline
  await untilNoHonestInFlight(stack, honest)
  await warp(deadlineSeconds)
  const settled = await waitFor('the ghost job settled', async () => {
    const job = (await jobsOf(ghost.address)).find((j) => j.id === ghostJob.id)
    const done = job?.status === 'COMPLETED' || (job?.status === 'EXPIRED' && job.payments.some((p) => p.kind === 'REFUND'))
    return done ? job : undefined
  })
  expect(settled.assignments.find((a) => a.provider.toLowerCase() === ghost.address.toLowerCase())?.outcome).toBe('NO_SHOW')
  expect(await recordedProviders()).not.toContain(ghost.address.toLowerCase())
  const { provider } = await gqlData<{ provider: { challengesFailed: number } }>(
    stack.graphqlUrl,
    'query($a: Address!) { provider(address: $a) { challengesFailed } }',
    { a: ghost.address },
  )
  // No challenge failure on record, as the round had ended; slashed once for each assignment it abandoned, as any
  // no-show is (its challenge, and any audit it was handed before it went silent).
  expect(provider.challengesFailed).toBe(0)
  expect((await settledNoShows(stack.graphqlUrl, ghost.address)).noShows).toBeGreaterThanOrEqual(1)
}, 300_000)
