import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Address, createPublicClient, type Hex, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { depositToGateway, readGatewayAccount, submitViaGateway, waitForGatewayDeposit, waitForGatewayJob } from '../client/gateway.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { type JobAssignment, subscribeJobAssignments } from '../client/subscribeJobAssignments.ts'
import { challengeLedgerAbi, jobMarketAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { challengeDelayOf, challengeSeedOf, verifyChallengeJob } from '../protocol/challengeJobs.ts'
import { Verification } from '../protocol/enums.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { loggedSince } from './support/logTail.ts'
import { startTestStack } from './support/stack.ts'

// Known-answer challenge jobs end to end (issue 7): the whole stack with the leader's challenge issuer on, three honest
// agents and one that alters every output. One round: every provider gets a job derived from a committed seed, run like
// any optimistic job at its own ask; the honest pass, the cheater's result is challenged and its auditors' verdict
// slashes it; every job is recorded on ChallengeLedger and, after the reveal, re-derives from the seed. The server dies
// and comes back in the middle of the round, which its new leader finishes from what the chain and the index hold.

const honestKeys = [devKeys[2], devKeys[3], devKeys[4]] as const
const cheaterKey = devKeys[5]
const requesterKey = devKeys[6]
const asks = [parseEther('0.001'), parseEther('0.002'), parseEther('0.003'), parseEther('0.0015')]
const honest = honestKeys.map((k) => privateKeyToAccount(k).address)
const cheater = privateKeyToAccount(cheaterKey).address
const issuer = privateKeyToAccount(devKeys[1]).address

let stack: Stack
let database: TestDatabase
let dataDir: string
const spreadSeconds = 20
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })
const ledger = () => stack.deployment.contracts.ChallengeLedger.address as Address
const market = () => stack.deployment.contracts.JobMarket.address as Address

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-challenges-e2e-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: [
      ...honestKeys.map((privateKey, i) => ({ privateKey, pricePerUnit: asks[i] })),
      { privateKey: cheaterKey, pricePerUnit: asks[3], lie: 1 },
    ],
    requesters: [requesterKey],
    proofWindow: 10,
    // One round, once all four agents are live.
    // Its jobs spread over 20 s after the commit, each at a delay the seed hides.
    challenges: { epochsPerRound: 1_000_000, minProviders: 4, deadlineSeconds: 600, spreadSeconds },
  })
}, 240_000)

afterAll(async () => {
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

type Recorded = { round: bigint; jobId: bigint; provider: Address; passed: boolean; unitsPerHour: bigint }

async function recordsOf(round: bigint): Promise<Recorded[]> {
  const logs = await client().getContractEvents({
    address: ledger(),
    abi: challengeLedgerAbi,
    eventName: 'ChallengeRecorded',
    args: { round },
    fromBlock: 0n,
  })
  return logs.map((l) => l.args as Recorded)
}

async function revealedSeed(round: bigint): Promise<Hex | undefined> {
  const logs = await client().getContractEvents({
    address: ledger(),
    abi: challengeLedgerAbi,
    eventName: 'RoundRevealed',
    args: { round },
    fromBlock: 0n,
  })
  return logs[0]?.args.seed as Hex | undefined
}

const slashCountOf = async (address: Address) =>
  (
    await gqlData<{ provider: { slashCount: number } | null }>(
      stack.graphqlUrl,
      'query($a: Address!) { provider(address: $a) { slashCount } }',
      { a: address },
    )
  ).provider?.slashCount ?? 0

/** The assignments `provider`'s agent has been sent, replayed from the start of the feed, as the agent receives them. */
async function assignmentsSentTo(provider: Address, want: (a: JobAssignment[]) => boolean): Promise<JobAssignment[]> {
  const controller = new AbortController()
  const seen: JobAssignment[] = []
  const timer = setTimeout(() => controller.abort(), 60_000)
  try {
    for await (const a of subscribeJobAssignments({
      serverUrl: stack.serverUrl,
      provider,
      cursor: () => undefined,
      signal: controller.signal,
    })) {
      seen.push(a)
      if (want(seen)) break
    }
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return seen
}

/** Every key path of a value: what "the same shape" compares. */
const shapeOf = (value: unknown, prefix = ''): string[] =>
  value && typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...shapeOf(v, `${prefix}${k}.`)]) : []

describe('a challenge round', () => {
  let round: bigint
  let records: Recorded[]

  test('every active provider gets a job; the honest pass and the cheater fails and is recorded so', async () => {
    round = await waitFor(
      'a committed round',
      async () => {
        const r = (await client().readContract({ address: ledger(), abi: challengeLedgerAbi, functionName: 'lastRound' })) as bigint
        return r > 0n ? r : undefined
      },
      { timeoutMs: 120_000 },
    )
    // The server (its leader, with the issuer's state in memory) dies once the round's first job is submitted, and stays
    // down until the next target's delay has passed: that target's time comes while no leader runs. Then it comes back,
    // and the new leader must rebuild the round from the ledger and the index (the jobs sent, the targets not yet due,
    // and the one due while it was down, which the index shows was never sent), and finish it.
    await waitFor(
      "the round's first job submitted",
      async () => {
        const { jobs } = await gqlData<{ jobs: { totalCount: number } }>(
          stack.graphqlUrl,
          'query($r: Address!) { jobs(where: { requester: $r }) { totalCount } }',
          { r: issuer },
        )
        return jobs.totalCount >= 1 ? true : undefined
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const before = (await client().readContract({
      address: ledger(),
      abi: challengeLedgerAbi,
      functionName: 'getRound',
      args: [round],
    })) as {
      revealed: boolean
      committedAt: bigint
    }
    expect(before.revealed).toBe(false)
    expect((await recordsOf(round)).length).toBeLessThan(4)
    // The seed the leader derives from the issuer's key, so the test knows each provider's delay.
    const issuerAccount = privateKeyToAccount(devKeys[1])
    const sign = (message: string) => issuerAccount.signMessage({ message })
    const seed = await challengeSeedOf({ chainId: stack.deployment.chainId, ledger: ledger(), round, sign })
    const chainTime = async () => (await client().getBlock({ blockTag: 'latest' })).timestamp
    const now = await chainTime()
    const dueAts = [...honest, cheater]
      .map((provider) => before.committedAt + challengeDelayOf({ seed, round, provider, spreadSeconds: BigInt(spreadSeconds) }))
      .filter((at) => at > now)
    expect(dueAts.length, 'targets not yet due when the first job was seen').toBeGreaterThan(0)
    const [nextDue] = dueAts.sort((a, b) => Number(a - b))
    // And when it comes back the index trails the chain (Ponder held, SIGSTOP, while the new leader rebuilds the round):
    // it can't yet tell whether the job due while it was down was sent. It must wait until it can, and then send it, not
    // leave that provider out of the round.
    const restartedAt = Date.now()
    let release: (() => void) | undefined
    try {
      await stack.restartServer(async () => {
        await waitFor('the next target due', async () => ((await chainTime()) > nextDue ? true : undefined), {
          timeoutMs: 60_000,
          intervalMs: 200,
        })
        release = stack.holdIndexer()
      })
      const [restored] = await waitFor('the new leader rebuilt the round', async () => {
        const restores = loggedSince('challenge round restored', restartedAt)
        return restores.length ? restores : undefined
      })
      expect(restored?.undecided, 'targets due while no leader ran, undecided while the index trails').toBeGreaterThanOrEqual(1)
    } finally {
      release?.()
    }

    records = await waitFor(
      'four recorded challenges',
      async () => {
        const r = await recordsOf(round)
        return r.length >= 4 ? r : undefined
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    )
    const byProvider = new Map(records.map((r) => [r.provider.toLowerCase(), r]))
    for (const p of honest) {
      expect(byProvider.get(p.toLowerCase())?.passed, `honest ${p}`).toBe(true)
      expect(byProvider.get(p.toLowerCase())?.unitsPerHour ?? 0n).toBeGreaterThan(0n)
    }
    expect(byProvider.get(cheater.toLowerCase())?.passed).toBe(false)
    expect(byProvider.get(cheater.toLowerCase())?.unitsPerHour).toBe(0n)
    // Each job went to its own provider at that provider's ask, as a normal job does; the max price is the highest ask,
    // so that cheaper providers can audit it.
    for (const r of records) {
      const job = (await client().readContract({ address: market(), abi: jobMarketAbi, functionName: 'getJob', args: [r.jobId] })) as {
        requester: Address
        spec: { maxPricePerUnit: bigint; verification: number }
      }
      expect(job.requester.toLowerCase()).toBe(issuer.toLowerCase())
      expect(job.spec.verification).toBe(Verification.Optimistic)
      expect(job.spec.maxPricePerUnit).toBe(parseEther('0.003'))
      const { job: indexed } = await gqlData<{ job: { assignments: { provider: Address; round: number; price: string }[] } | null }>(
        stack.graphqlUrl,
        'query($id: BigInt!) { job(id: $id) { assignments { provider round price } } }',
        { id: r.jobId.toString() },
      )
      const own = indexed?.assignments.find((a) => a.provider.toLowerCase() === r.provider.toLowerCase())
      const i = [...honest, cheater].findIndex((p) => p.toLowerCase() === r.provider.toLowerCase())
      expect(own?.price).toBe(asks[i].toString())
    }
  }, 420_000)

  test('the cheater is slashed by its audit, the honest are not', async () => {
    await waitFor('the cheater slashed', async () => ((await slashCountOf(cheater)) > 0 ? true : undefined), { timeoutMs: 60_000 })
    for (const p of honest) expect(await slashCountOf(p)).toBe(0)
    const cheaterJob = records.find((r) => r.provider.toLowerCase() === cheater.toLowerCase())?.jobId as bigint
    const { job } = await gqlData<{ job: { status: string; audit: { kind: string; challenger: Address | null } | null } | null }>(
      stack.graphqlUrl,
      'query($id: BigInt!) { job(id: $id) { status audit { kind challenger } } }',
      { id: cheaterJob.toString() },
    )
    expect(job?.audit?.kind).toBe('CHALLENGE')
    expect(job?.audit?.challenger?.toLowerCase()).toBe(issuer.toLowerCase())
  }, 120_000)

  test('after the reveal, every recorded job re-derives from the seed; a job of another provider does not', async () => {
    const seed = await waitFor('the round revealed', () => revealedSeed(round), { timeoutMs: 60_000 })
    const committed = (await client().readContract({
      address: ledger(),
      abi: challengeLedgerAbi,
      functionName: 'getRound',
      args: [round],
    })) as {
      seedHash: Hex
      revealed: boolean
      committedAt: bigint
    }
    expect(committed.revealed).toBe(true)
    for (const r of records) {
      const { spec, openedAt } = (await client().readContract({
        address: market(),
        abi: jobMarketAbi,
        functionName: 'getJob',
        args: [r.jobId],
      })) as {
        spec: { modelHash: Hex; inputHash: Hex; units: bigint; outputTolerance: number }
        openedAt: bigint
      }
      // Sent no earlier than its secret delay after the commit: the round's jobs don't arrive in step with it.
      const delay = challengeDelayOf({ seed, round, provider: r.provider, spreadSeconds: BigInt(spreadSeconds) })
      expect(
        openedAt >= committed.committedAt + delay,
        `${r.provider}: opened ${openedAt}, commit ${committed.committedAt} + ${delay}`,
      ).toBe(true)
      expect(verifyChallengeJob({ seed, seedHash: committed.seedHash, round, provider: r.provider, job: spec })).toEqual({ valid: true })
      const other = records.find((o) => o.provider !== r.provider)?.provider as Address
      expect(verifyChallengeJob({ seed, seedHash: committed.seedHash, round, provider: other, job: spec }).valid).toBe(false)
    }
  }, 120_000)

  test("an agent receives a challenge job in the same shape as a paid gateway job's, and on chain both have one requester", async () => {
    // A paid job from an ordinary requester, after the round.
    const rows = 3
    const credentials = { account: privateKeyToAccount(requesterKey), chainId: stack.deployment.chainId }
    const model = await uploadBlob({
      serverUrl: stack.serverUrl,
      bytes: buildMlp({ seed: 11, inputSize: 16, hiddenSize: 16, outputSize: 4 }),
      credentials,
    })
    const input = await uploadBlob({
      serverUrl: stack.serverUrl,
      bytes: encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed: 4242, rows, inputSize: 16 }) }),
      credentials,
    })
    // Through the job gateway, as the demo and the CLI submit by default.
    const gateway = { serverUrl: stack.serverUrl, deployment: stack.deployment, privateKey: requesterKey }
    const { deposited } = await readGatewayAccount(gateway)
    await depositToGateway({ ...gateway, rpcUrl: stack.rpcUrl, amount: parseEther('1') })
    await waitForGatewayDeposit({ ...gateway, deposited: deposited + parseEther('1') })
    const request = await submitViaGateway({
      ...gateway,
      rpcUrl: stack.rpcUrl,
      modelHash: model.sha256,
      inputHash: input.sha256,
      units: BigInt(rows),
      maxPricePerUnit: parseEther('0.01'),
      redundancy: 1,
      verification: Verification.Optimistic,
    })
    const { jobId: paidJob } = await waitForGatewayJob({ serverUrl: stack.serverUrl, id: request.id })
    const paidProvider = await waitFor('the paid job assigned', async () => {
      const { job } = await gqlData<{ job: { assignments: { provider: Address }[] } | null }>(
        stack.graphqlUrl,
        'query($id: BigInt!) { job(id: $id) { assignments { provider } } }',
        { id: paidJob.toString() },
      )
      return job?.assignments[0]?.provider
    })
    const challengeJob = records.find((r) => r.provider.toLowerCase() === paidProvider.toLowerCase())?.jobId as bigint
    const sent = await assignmentsSentTo(paidProvider, (seen) =>
      [paidJob, challengeJob].every((id) => seen.some((a) => a.jobId === String(id) && !a.retracted)),
    )
    const paid = sent.find((a) => a.jobId === String(paidJob)) as JobAssignment
    const challenge = sent.find((a) => a.jobId === String(challengeJob)) as JobAssignment
    // The same fields, and nothing in them names the issuer: a challenge's model is a catalogue MLP like any job's, its
    // input a tensor blob of a few rows, its price the provider's own ask.
    expect(shapeOf(challenge).sort()).toEqual(shapeOf(paid).sort())
    expect(JSON.stringify(challenge).toLowerCase()).not.toContain(issuer.slice(2).toLowerCase())
    // And on chain both have the same requester: the gateway's key, which is the issuer's.
    const requesterOf = async (id: bigint) =>
      (
        (await client().readContract({ address: market(), abi: jobMarketAbi, functionName: 'getJob', args: [id] })) as {
          requester: Address
        }
      ).requester
    expect(await requesterOf(paidJob)).toBe(await requesterOf(challengeJob))
  }, 180_000)
})
