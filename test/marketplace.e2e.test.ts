import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Address, createPublicClient, decodeFunctionData, type Hex, http, keccak256, parseEther, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { submitJob } from '../client/submitJob.ts'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { advanceEpochs, claimable, type EmissionState, type RecordedEvent } from '../economics/emissionLaw.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import { settleJob, takeOf } from '../protocol/settlement.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { defined } from './support/defined.ts'
import { gql, gqlData, type JobData, type ProviderData, waitFor } from './support/graphql.ts'
import { startTestAgent, startTestStack } from './support/stack.ts'

// One stack serves every scenario: three agents asking 1, 2 and 3 mTSR per unit; the dearest one lies.
// The matcher picks the cheapest providers, so k=2 jobs go to the two honest agents and k=3 jobs to all three.
const asks = [parseEther('0.001'), parseEther('0.002'), parseEther('0.003')]
const agentKeys = [devKeys[2], devKeys[3], devKeys[4]] as const
const [honest1, honest2, liar] = agentKeys.map((k) => privateKeyToAccount(k).address.toLowerCase() as Address)
const requesterKey = devKeys[5]

/** The requester's key, signing its blob uploads for the stack's chain. */
const requesterCredentials = () => ({ account: privateKeyToAccount(requesterKey), chainId: stack.deployment.chainId })
// Funded at start, run only by the dispute test (startTestAgent).
const spareKeys = [devKeys[6], devKeys[7]] as const
const maxBlobBytes = 256 * 1024

let stack: Stack
let database: TestDatabase
let dataDir: string
let modelHash: Hex
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })
const market = () => stack.deployment.contracts.JobMarket.address as Address
const token = () => stack.deployment.contracts.TesseraToken.address as Address

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-e2e-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: agentKeys.map((privateKey, i) => ({ privateKey, pricePerUnit: asks[i], lie: i === 2 })),
    requesters: [requesterKey],
    spareProviders: [...spareKeys],
    maxBlobBytes,
    // Short epochs so the keeper closes one soon after the first job; a short proof window so the liar's jobs settle soon.
    epochLength: 10,
    proofWindow: 10,
  })
  modelHash = (
    await uploadBlob({
      serverUrl: stack.serverUrl,
      credentials: requesterCredentials(),
      bytes: buildMlp({ seed: 7, inputSize: 16, hiddenSize: 32, outputSize: 8 }),
    })
  ).sha256
}, 240_000)

afterAll(async () => {
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

async function submit(parameters: { redundancy: number; rows: number; seed: number; maxPricePerUnit?: bigint; model?: Hex }) {
  const input = encodeTensorBlob({
    dims: [parameters.rows, 16],
    data: makeInput({ seed: parameters.seed, rows: parameters.rows, inputSize: 16 }),
  })
  const { sha256: inputHash } = await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes: input })
  return submitJob({
    rpcUrl: stack.rpcUrl,
    deployment: stack.deployment,
    privateKey: requesterKey,
    modelHash: parameters.model ?? modelHash,
    inputHash,
    units: BigInt(parameters.rows),
    maxPricePerUnit: parameters.maxPricePerUnit ?? parseEther('0.01'),
    redundancy: parameters.redundancy,
  })
}

const jobQuery = /* GraphQL */ `
  query ($id: BigInt!) {
    job(id: $id) {
      id status units fees burned refunded escrow
      assignments { provider price collateral outcome paid }
    }
  }`
type JobCount = { jobs: { totalCount: number } }

/** A job and both of its rounds, as the dispute test reads it. */
type DisputedJobData = Omit<JobData, 'assignments'> & {
  disputedProviders: Address[]
  assignments: (JobData['assignments'][number] & { round: number })[]
}
const disputedJobQuery = /* GraphQL */ `
  query ($id: BigInt!) {
    job(id: $id) {
      id status units fees burned refunded escrow disputedProviders
      assignments { provider round price collateral outcome paid }
    }
  }`

async function waitForFinal(jobId: bigint) {
  return waitFor(
    `job ${jobId} to finalize`,
    async () => {
      const { job } = await gqlData<{ job: JobData | null }>(stack.graphqlUrl, jobQuery, { id: jobId.toString() })
      return job && ['COMPLETED', 'FAILED'].includes(job.status) ? job : undefined
    },
    { timeoutMs: 120_000 },
  )
}

const owed = (account: Address) => client().readContract({ address: market(), abi: jobMarketAbi, functionName: 'owed', args: [account] })
const totalSupply = () => client().readContract({ address: token(), abi: tesseraTokenAbi, functionName: 'totalSupply' })

describe('a Redundant(k=2) job with honest providers', () => {
  test('completes, pays each agreeing provider its ask × units, burns the take and refunds the rest', async () => {
    const rows = 5
    const owedBefore = { [honest1]: await owed(honest1), [honest2]: await owed(honest2) }
    const supplyBefore = await totalSupply()
    const { jobId, escrow } = await submit({ redundancy: 2, rows, seed: 11 })

    const job = await waitForFinal(jobId)
    expect(job.status).toBe('COMPLETED')
    const assigned = job.assignments.map((a) => a.provider.toLowerCase()).sort()
    expect(assigned).toEqual([honest1, honest2].sort())
    for (const a of job.assignments) expect(a.outcome).toBe('AGREED')

    const fees = (asks[0] + asks[1]) * BigInt(rows)
    const take = takeOf(fees, stack.deployment.params.market)
    expect(BigInt(defined(job.fees, 'the job fees'))).toBe(fees)
    expect(BigInt(defined(job.burned, 'the burned take'))).toBe(take)
    expect(BigInt(defined(job.refunded, 'the refund'))).toBe(escrow - fees - take)
    expect((await owed(honest1)) - owedBefore[honest1]).toBe(asks[0] * BigInt(rows))
    expect((await owed(honest2)) - owedBefore[honest2]).toBe(asks[1] * BigInt(rows))
    // Nothing else mints or burns while no one claims, so the supply falls by exactly the take.
    expect(supplyBefore - (await totalSupply())).toBe(take)
  }, 150_000)

  test("the keeper closes the epoch as the law says, and a claim mints exactly the law's reward", async () => {
    const controller = stack.deployment.contracts.EmissionController.address as Address
    const onController = { address: controller, abi: emissionControllerAbi } as const
    // The epoch in which the previous test's job was paid.
    const paid = await client().getContractEvents({ address: market(), abi: jobMarketAbi, eventName: 'ProviderPaid', fromBlock: 0n })
    expect(paid.length).toBeGreaterThan(0)
    const genesis: bigint = await client().readContract({ ...onController, functionName: 'genesis' })
    const { epochLength }: EmissionParams = await client().readContract({ ...onController, functionName: 'params' })
    const epochOf = async (blockNumber: bigint) => ((await client().getBlock({ blockNumber })).timestamp - genesis) / epochLength
    const epoch = await epochOf(defined(paid.at(-1), 'a ProviderPaid event').blockNumber)

    // The server's keeper advances the epoch once its time is over; nobody else calls it here.
    const closing = await waitFor(
      `epoch ${epoch} to be closed`,
      async () => {
        const logs = await client().getContractEvents({
          address: controller,
          abi: emissionControllerAbi,
          eventName: 'EpochAdvanced',
          fromBlock: 0n,
          args: { epoch },
        })
        return logs[0]
      },
      { timeoutMs: 120_000 },
    )
    // The keeper closes epochs with the bounded form, advanceEpoch(maxEpochs).
    const closingTx = await client().getTransaction({ hash: closing.transactionHash })
    const sent = decodeFunctionData({ abi: emissionControllerAbi, data: closingTx.input })
    expect(sent.functionName).toBe('advanceEpoch')
    expect(sent.args).toHaveLength(1)
    const call = await client().getContractEvents({
      address: controller,
      abi: emissionControllerAbi,
      eventName: 'EpochAdvanced',
      blockHash: closing.blockHash,
    })
    const before = closing.blockNumber - 1n
    const state: EmissionState = await client().readContract({ ...onController, functionName: 'state', blockNumber: before })
    const params: EmissionParams = await client().readContract({ ...onController, functionName: 'params' })
    const supply = await client().readContract({ address: token(), abi: tesseraTokenAbi, functionName: 'totalSupply', blockNumber: before })
    const registry = stack.deployment.contracts.ProviderRegistry.address as Address

    // Rebuild each closed epoch's recordJob and recordChallenge calls, in chain order: jobs from the ProviderPaid events
    // of its time span, challenges from the controller's ChallengeCounted events. Earlier challenges give each
    // provider's attested capacity when the first closed epoch opened.
    const first = defined(call[0], 'the first epoch closed').args.epoch as bigint
    const counted = await client().getContractEvents({ ...onController, eventName: 'ChallengeCounted', fromBlock: 0n, toBlock: before })
    const attested = new Map<string, bigint>()
    const timed: { blockNumber: bigint; logIndex: number; epoch: bigint; event: RecordedEvent }[] = []
    for (const log of counted) {
      const {
        epoch: e,
        provider,
        passed,
        attested: capacity,
      } = log.args as { epoch: bigint; provider: Address; passed: boolean; attested: bigint }
      if (e < first) {
        attested.set(provider.toLowerCase(), capacity)
        continue
      }
      const stakeAtRisk = await client().readContract({
        address: registry,
        abi: providerRegistryAbi,
        functionName: 'stakeAtRisk',
        args: [provider],
        blockNumber: log.blockNumber,
      })
      // unitsPerHour back from the capacity per epoch (exact when it divides; the law rescales it the same way).
      const unitsPerHour = (capacity * 3600n) / epochLength
      timed.push({
        blockNumber: log.blockNumber,
        logIndex: log.logIndex,
        epoch: e,
        event: { kind: 'challenge', provider: provider.toLowerCase(), passed, unitsPerHour, stakeAtRisk },
      })
    }
    for (const log of paid) {
      const e = await epochOf(log.blockNumber)
      if (e < first) continue
      const provider = defined(log.args.provider, 'the provider of a ProviderPaid event')
      const amount = defined(log.args.amount, 'the amount of a ProviderPaid event')
      const units = amount / asks[[honest1, honest2, liar].indexOf(provider.toLowerCase() as Address)]
      timed.push({
        blockNumber: log.blockNumber,
        logIndex: log.logIndex,
        epoch: e,
        event: { kind: 'job', provider: provider.toLowerCase(), fee: amount, units },
      })
    }
    timed.sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1))
    const inputs = call.map((c) => ({ events: timed.filter((t) => t.epoch === c.args.epoch).map((t) => t.event), supply }))
    const expected = advanceEpochs({ state, inputs, params, attested })
    for (const [i, log] of call.entries()) expect({ ...log.args }).toEqual({ ...expected.epochs[i].outputs })
    const closed = defined(
      expected.epochs.find((e) => e.outputs.epoch === epoch),
      `the law's epoch ${epoch}`,
    )
    expect(closed.outputs.fees).toBeGreaterThan(0n)

    // A claim mints what the law gives the provider for that epoch.
    const reward = claimable({ record: closed.record, provider: honest1, params })
    expect(reward.usage + reward.availability).toBeGreaterThan(0n)
    const { createWalletClient } = await import('viem')
    const wallet = createWalletClient({ account: privateKeyToAccount(agentKeys[0]), transport: http(stack.rpcUrl) })
    const balanceBefore = await balanceOf(honest1)
    const supplyBefore = await totalSupply()
    const hash = await wallet.writeContract({
      chain: null,
      address: controller,
      abi: emissionControllerAbi,
      functionName: 'claim',
      args: [epoch],
    })
    expect((await client().waitForTransactionReceipt({ hash })).status).toBe('success')
    expect((await balanceOf(honest1)) - balanceBefore).toBe(reward.usage + reward.availability)
    expect((await totalSupply()) - supplyBefore).toBe(reward.usage + reward.availability)
  }, 150_000)
})

describe('a Redundant(k=3) job with one lying provider', () => {
  test('completes for the honest majority and slashes the liar its collateral', async () => {
    const rows = 4
    const maxPricePerUnit = parseEther('0.01')
    const stakeBefore = await readStake(liar)
    const owedBefore = { [honest1]: await owed(honest1), [honest2]: await owed(honest2) }
    const { jobId } = await submit({ redundancy: 3, rows, seed: 12, maxPricePerUnit })

    const job = await waitForFinal(jobId)
    expect(job.status).toBe('COMPLETED')
    const byProvider = Object.fromEntries(job.assignments.map((a) => [a.provider.toLowerCase(), a]))
    expect(byProvider[liar].outcome).toBe('DISSENTED')
    expect(byProvider[honest1].outcome).toBe('AGREED')
    expect(byProvider[honest2].outcome).toBe('AGREED')
    // Why: the keeper proved the liar's output out of tolerance against an honest one, element by element, on chain.
    const { job: proven } = await gqlData<{ job: { disagreements: { a: Address; b: Address; index: string }[] } }>(
      stack.graphqlUrl,
      `query ($id: BigInt!) { job(id: $id) { disagreements { a b index } } }`,
      { id: jobId.toString() },
    )
    expect(proven.disagreements.length).toBeGreaterThanOrEqual(1)
    for (const d of proven.disagreements) expect([d.a.toLowerCase(), d.b.toLowerCase()]).toContain(liar)

    // Collateral = the liar's own ask × units (collateralBps = 100%); half goes to the honest pair, half is burned.
    const collateral = asks[2] * BigInt(rows)
    expect(BigInt(byProvider[liar].collateral)).toBe(collateral)
    expect(stakeBefore - (await readStake(liar))).toBe(collateral)
    const share = collateral / 2n / 2n
    expect((await owed(honest1)) - owedBefore[honest1]).toBe(asks[0] * BigInt(rows) + share)
    expect((await owed(honest2)) - owedBefore[honest2]).toBe(asks[1] * BigInt(rows) + share)

    const provider = await waitFor('the slash to be indexed', async () => {
      const { provider } = await gqlData<{ provider: ProviderData | null }>(
        stack.graphqlUrl,
        `query ($a: Address!) { provider(address: $a) { address slashCount earnings { slashedTotal } } }`,
        { a: liar },
      )
      return provider && provider.slashCount >= 1 ? provider : undefined
    })
    expect(BigInt(provider.earnings.slashedTotal)).toBe(collateral)
    // The job lists the slash itself: the liar's whole collateral, half to the honest pair (through JobMarket), half burned.
    const { job: slashedJob } = await gqlData<{
      job: { slashes: { provider: Address; amount: string; toBeneficiary: string; burned: string }[] }
    }>(stack.graphqlUrl, `query ($id: BigInt!) { job(id: $id) { slashes { provider amount toBeneficiary burned } } }`, {
      id: jobId.toString(),
    })
    expect(slashedJob.slashes.map((x) => ({ ...x, provider: x.provider.toLowerCase() }))).toEqual([
      { provider: liar, amount: collateral.toString(), toBeneficiary: (collateral / 2n).toString(), burned: (collateral / 2n).toString() },
    ])
  }, 150_000)
})

describe('a Redundant(k=2) job whose two providers disagree', () => {
  test('goes to a tie-break by two fresh providers that completes it: the liar pays, the honest first round shares its slash', async () => {
    const rows = 4
    // Two more agents: a liar undercutting everyone and an honest one asking the job's max price. The matcher ranks by
    // reputation, price and a warm model, divided by load (matchJobs' candidateScore); on a model nobody holds warm,
    // idle, the cheap newcomer outranks honest2 (0.45 × 0.5 + 0.35 × 0.96 against at most 0.45 + 0.35 × 0.2), so the first
    // round pairs it with honest1 and the tie-break goes to honest2 and honest3. The max price keeps the dearer liar out.
    const [liar2Ask, honest3Ask] = [parseEther('0.0001'), parseEther('0.0025')]
    const coldModel = (
      await uploadBlob({
        serverUrl: stack.serverUrl,
        credentials: requesterCredentials(),
        bytes: buildMlp({ seed: 8, inputSize: 16, hiddenSize: 32, outputSize: 8 }),
      })
    ).sha256
    const [liar2, honest3] = spareKeys.map((k) => privateKeyToAccount(k).address.toLowerCase() as Address)
    const extra = [
      await startTestAgent(stack, { privateKey: spareKeys[0], pricePerUnit: liar2Ask, lie: true, dataDir: path.join(dataDir, 'liar2') }),
      await startTestAgent(stack, { privateKey: spareKeys[1], pricePerUnit: honest3Ask, dataDir: path.join(dataDir, 'honest3') }),
    ]
    try {
      // Both must be live and indexed at their asks before the job is matched, or the first round would be honest1 and honest2.
      for (const [address, ask] of [
        [liar2, liar2Ask],
        [honest3, honest3Ask],
      ] as const)
        await waitFor(`${address} to be live at its ask`, async () => {
          const { provider } = await gqlData<{ provider: { live: boolean; pricePerUnit: string; freeStake: string } | null }>(
            stack.graphqlUrl,
            `query ($a: Address!) { provider(address: $a) { live pricePerUnit freeStake } }`,
            { a: address },
          )
          return provider?.live && BigInt(provider.pricePerUnit) === ask && BigInt(provider.freeStake) > 0n ? true : undefined
        })
      const requester = privateKeyToAccount(requesterKey).address
      const paid = [honest1, honest2, honest3, liar2, requester] as const
      const owedBefore = await Promise.all(paid.map(owed))
      const honestStake = await readStake(honest1)

      const { jobId, escrow } = await submit({ redundancy: 2, rows, seed: 13, maxPricePerUnit: honest3Ask, model: coldModel })
      const job = await waitFor(
        `job ${jobId} to finalize after its tie-break`,
        async () => {
          const { job } = await gqlData<{ job: DisputedJobData | null }>(stack.graphqlUrl, disputedJobQuery, { id: jobId.toString() })
          return job && ['COMPLETED', 'FAILED', 'FAILED_INVALID', 'EXPIRED'].includes(job.status) ? job : undefined
        },
        { timeoutMs: 240_000 },
      )
      expect(job.status).toBe('COMPLETED')
      const disputes = await client().getContractEvents({
        address: market(),
        abi: jobMarketAbi,
        eventName: 'JobDisputed',
        fromBlock: 0n,
        args: { jobId },
      })
      expect(disputes).toHaveLength(1)
      // Slot order is the matcher's ranking; who was where is what matters.
      expect(job.disputedProviders.map((p) => p.toLowerCase()).sort()).toEqual([honest1, liar2].sort())
      const byRoundThenProvider = (a: { round: number; provider: string }, b: { round: number; provider: string }) =>
        a.round - b.round || a.provider.localeCompare(b.provider)
      const parts = job.assignments
        .map((a) => ({ provider: a.provider.toLowerCase(), round: a.round, outcome: a.outcome, paid: BigInt(a.paid) }))
        .sort(byRoundThenProvider)
      expect(parts).toEqual(
        [
          { provider: honest1, round: 1, outcome: 'AGREED', paid: 0n },
          { provider: liar2, round: 1, outcome: 'DISSENTED', paid: 0n },
          { provider: honest2, round: 2, outcome: 'AGREED', paid: asks[1] * BigInt(rows) },
          { provider: honest3, round: 2, outcome: 'AGREED', paid: honest3Ask * BigInt(rows) },
        ].sort(byRoundThenProvider),
      )

      // The tie-break's verdict settles both rounds, as protocol/settlement.ts computes it.
      const collateral = liar2Ask * BigInt(rows)
      const liarAssignment = job.assignments.find((a) => a.provider.toLowerCase() === liar2)
      expect(BigInt(defined(liarAssignment, "liar2's assignment").collateral)).toBe(collateral)
      const [honest, lie] = [keccak256(toHex('honest')), keccak256(toHex('lie'))]
      const slot = (provider: Address, ask: bigint, fingerprint: Hex) => ({ provider, ask, collateral: ask * BigInt(rows), fingerprint })
      const expected = settleJob({
        escrow,
        units: BigInt(rows),
        slots: [slot(honest2, asks[1], honest), slot(honest3, honest3Ask, honest)],
        prior: [slot(honest1, asks[0], honest), slot(liar2, liar2Ask, lie)],
        params: stack.deployment.params.market,
      })
      const share = defined(expected.shares[0], 'a slash share').amount
      expect(share).toBe((collateral * 5000n) / 10_000n / 3n)
      expect(expected.shares.map((s) => s.provider).sort()).toEqual([honest1, honest2, honest3].sort())
      expect(BigInt(defined(job.fees, 'the job fees'))).toBe(expected.fees)
      expect(BigInt(defined(job.burned, 'the burned take'))).toBe(expected.take)
      expect(BigInt(defined(job.refunded, 'the refund'))).toBe(expected.refund)

      // On chain: only the liar is slashed, its whole collateral; honest1 earns a share for its first-round answer, the
      // tie-break its asks and a share; the requester gets the rest back, never more than it deposited.
      const slashes = await client().getContractEvents({
        address: stack.deployment.contracts.ProviderRegistry.address as Address,
        abi: providerRegistryAbi,
        eventName: 'Slashed',
        fromBlock: 0n,
        args: { jobId },
      })
      expect(slashes.map((s) => [s.args.provider?.toLowerCase(), s.args.amount])).toEqual([[liar2, collateral]])
      expect(await readStake(honest1)).toBe(honestStake)
      const owedAfter = await Promise.all(paid.map(owed))
      const gained = owedAfter.map((after, i) => after - (owedBefore[i] ?? 0n))
      expect(gained).toEqual([share, asks[1] * BigInt(rows) + share, honest3Ask * BigInt(rows) + share, 0n, expected.refund])
      expect(expected.refund).toBe(escrow - expected.fees - expected.take + ((collateral * 5000n) / 10_000n - 3n * share))
      expect(expected.refund).toBeLessThanOrEqual(escrow)

      const slashed = await waitFor('the slash to be indexed', async () => {
        const { provider } = await gqlData<{ provider: ProviderData | null }>(
          stack.graphqlUrl,
          `query ($a: Address!) { provider(address: $a) { address slashCount earnings { slashedTotal } } }`,
          { a: liar2 },
        )
        return provider && provider.slashCount >= 1 ? provider : undefined
      })
      expect(BigInt(slashed.earnings.slashedTotal)).toBe(collateral)
    } finally {
      for (const agent of extra) await agent.stop()
    }
  }, 360_000)
})

describe('bad input', () => {
  test('a malformed GraphQL query gets an error naming what is wrong', async () => {
    const res = await gql(stack.graphqlUrl, '{ jobs(first: 10) { totalCount edges { node { id statuz } } } }')
    expect(res.errors?.[0]?.message).toMatch(/statuz/)
    const syntax = await gql(stack.graphqlUrl, '{ jobs(first: 10 { id }')
    expect(syntax.errors?.[0]?.message).toMatch(/Syntax Error/)
  })

  test('an oversized blob is refused with 413 and is not stored', async () => {
    const bytes = new Uint8Array(maxBlobBytes + 1).fill(7)
    const res = await fetch(new URL('/blobs', stack.serverUrl), { method: 'PUT', body: bytes })
    expect(res.status).toBe(413)
    expect(await res.text()).toMatch(/limit|too large/i)
    const { createHash } = await import('node:crypto')
    const hash = `0x${createHash('sha256').update(bytes).digest('hex')}`
    expect((await fetch(new URL(`/blobs/${hash}`, stack.serverUrl))).status).toBe(404)
  })

  test('a job whose model hash has no blob is refused before any escrow moves', async () => {
    const balanceBefore = await balanceOf(privateKeyToAccount(requesterKey).address)
    const nextBefore = await nextJobId()
    const input = encodeTensorBlob({ dims: [2, 16], data: makeInput({ seed: 99, rows: 2, inputSize: 16 }) })
    const { sha256: inputHash } = await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes: input })
    const missing = `0x${'ab'.repeat(32)}` as Hex
    await expect(
      submitJob({
        rpcUrl: stack.rpcUrl,
        deployment: stack.deployment,
        privateKey: requesterKey,
        modelHash: missing,
        inputHash,
        units: 2n,
        maxPricePerUnit: parseEther('0.01'),
        redundancy: 2,
        serverUrl: stack.serverUrl,
      }),
    ).rejects.toThrow(/model blob 0xabab.* not found/)
    expect(await nextJobId()).toBe(nextBefore)
    expect(await balanceOf(privateKeyToAccount(requesterKey).address)).toBe(balanceBefore)
  })

  test('a model that does not load, an input of the wrong rank, or units the input does not hold are refused before escrow', async () => {
    const requester = privateKeyToAccount(requesterKey).address
    const balanceBefore = await balanceOf(requester)
    const nextBefore = await nextJobId()
    const upload = async (bytes: Uint8Array) =>
      (await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes })).sha256
    const garbageModel = await upload(new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 131) % 256)))
    const rank3 = await upload(encodeTensorBlob({ dims: [2, 16, 1], data: new Float32Array(32) }))
    const goodInput = await upload(encodeTensorBlob({ dims: [2, 16], data: makeInput({ seed: 98, rows: 2, inputSize: 16 }) }))
    const attempt = (spec: { modelHash: Hex; inputHash: Hex; units: bigint }) =>
      submitJob({
        rpcUrl: stack.rpcUrl,
        deployment: stack.deployment,
        privateKey: requesterKey,
        ...spec,
        maxPricePerUnit: parseEther('0.01'),
        redundancy: 2,
        serverUrl: stack.serverUrl,
      })
    await expect(attempt({ modelHash: garbageModel, inputHash: goodInput, units: 2n })).rejects.toThrow(/does not load in onnxruntime/)
    await expect(attempt({ modelHash, inputHash: rank3, units: 2n })).rejects.toThrow(/has rank 2 .* the job's input has rank 3/)
    await expect(attempt({ modelHash, inputHash: goodInput, units: 3n })).rejects.toThrow(/units is 3 but the input holds 2 rows/)
    // quote answers the same check beside the price, when the spec names its model and input.
    type QuoteCheck = { quote: { check: { runnable: boolean; problems: { code: string }[] } | null } }
    const quote = (spec: { modelHash?: Hex; inputHash?: Hex; units: bigint }) =>
      gqlData<QuoteCheck>(stack.graphqlUrl, 'query ($spec: QuoteInput!) { quote(spec: $spec) { check { runnable problems { code } } } }', {
        spec: { ...spec, units: spec.units.toString(), maxPricePerUnit: parseEther('0.01').toString(), redundancy: 2 },
      })
    expect((await quote({ modelHash: garbageModel, inputHash: goodInput, units: 2n })).quote.check).toEqual({
      runnable: false,
      problems: [{ code: 'MODEL_INVALID' }],
    })
    expect((await quote({ modelHash, inputHash: goodInput, units: 3n })).quote.check?.problems).toEqual([{ code: 'INPUT_MISMATCH' }])
    expect((await quote({ modelHash, inputHash: goodInput, units: 2n })).quote.check).toEqual({ runnable: true, problems: [] })
    expect((await quote({ units: 2n })).quote.check).toBeNull()
    expect(await nextJobId()).toBe(nextBefore)
    expect(await balanceOf(requester)).toBe(balanceBefore)
  })

  test('jobs sent straight to the chain that no provider could run are never assigned, then expire with a full refund', async () => {
    const requester = privateKeyToAccount(requesterKey).address
    const upload = async (bytes: Uint8Array) =>
      (await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes })).sha256
    const input = await upload(encodeTensorBlob({ dims: [2, 16], data: makeInput({ seed: 97, rows: 2, inputSize: 16 }) }))
    // Stored without `kind`, so the upload itself isn't checked: only the matcher's vetting stands between it and a provider.
    const garbageModel = await upload(new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 151) % 256)))
    const rank3 = await upload(encodeTensorBlob({ dims: [2, 16, 1], data: new Float32Array(32) }))
    const cases: { modelHash: Hex; inputHash: Hex }[] = [
      { modelHash: `0x${'cd'.repeat(32)}`, inputHash: input }, // no such model blob
      { modelHash: garbageModel, inputHash: input }, // a model onnxruntime can't load
      { modelHash, inputHash: rank3 }, // an input of the wrong rank
    ]
    const owedBefore = await owed(requester)
    const submitted: { jobId: bigint; escrow: bigint }[] = []
    for (const spec of cases) {
      // No serverUrl: the client's own check is skipped, as for anyone calling the contract directly.
      const { jobId, escrow } = await submitJob({
        rpcUrl: stack.rpcUrl,
        deployment: stack.deployment,
        privateKey: requesterKey,
        ...spec,
        units: 2n,
        maxPricePerUnit: parseEther('0.01'),
        redundancy: 2,
        deadlineIn: 8,
      })
      submitted.push({ jobId, escrow })
    }
    const expired = submitted.map(async ({ jobId, escrow }) => {
      const job = await waitFor(
        `job ${jobId} to expire`,
        async () => {
          const { job } = await gqlData<{ job: JobData | null }>(stack.graphqlUrl, jobQuery, { id: jobId.toString() })
          return job?.status === 'EXPIRED' ? job : undefined
        },
        { timeoutMs: 60_000 },
      )
      expect(job.assignments).toEqual([])
      expect(BigInt(defined(job.refunded, 'the refund'))).toBe(escrow)
    })
    await Promise.all(expired)
    expect((await owed(requester)) - owedBefore).toBe(submitted.reduce((sum, j) => sum + j.escrow, 0n))
  }, 120_000)

  test('a submit with too little allowance reverts and leaves no job and no escrow', async () => {
    const requester = privateKeyToAccount(requesterKey).address
    const balanceBefore = await balanceOf(requester)
    const nextBefore = await nextJobId()
    const countBefore = (await gqlData<JobCount>(stack.graphqlUrl, '{ jobs(first: 1) { totalCount } }')).jobs.totalCount
    const input = encodeTensorBlob({ dims: [3, 16], data: makeInput({ seed: 98, rows: 3, inputSize: 16 }) })
    const { sha256: inputHash } = await uploadBlob({ serverUrl: stack.serverUrl, credentials: requesterCredentials(), bytes: input })
    // Approve one wei less than the escrow, then submit without re-approving.
    const { createWalletClient } = await import('viem')
    const wallet = createWalletClient({ account: privateKeyToAccount(requesterKey), transport: http(stack.rpcUrl) })
    const escrow = await client().readContract({
      address: market(),
      abi: jobMarketAbi,
      functionName: 'quoteEscrow',
      args: [parseEther('0.01'), 3n, 2],
    })
    const hash = await wallet.writeContract({
      chain: null,
      address: token(),
      abi: tesseraTokenAbi,
      functionName: 'approve',
      args: [market(), escrow - 1n],
    })
    await client().waitForTransactionReceipt({ hash })
    await expect(
      submitJob({
        rpcUrl: stack.rpcUrl,
        deployment: stack.deployment,
        privateKey: requesterKey,
        modelHash,
        inputHash,
        units: 3n,
        maxPricePerUnit: parseEther('0.01'),
        redundancy: 2,
        approve: false,
      }),
    ).rejects.toThrow(/ERC20InsufficientAllowance/)
    expect(await nextJobId()).toBe(nextBefore)
    expect(await balanceOf(requester)).toBe(balanceBefore)
    const countAfter = (await gqlData<JobCount>(stack.graphqlUrl, '{ jobs(first: 1) { totalCount } }')).jobs.totalCount
    expect(countAfter).toBe(countBefore)
  })
})

async function readStake(provider: Address): Promise<bigint> {
  const p = await client().readContract({
    address: stack.deployment.contracts.ProviderRegistry.address as Address,
    abi: providerRegistryAbi,
    functionName: 'getProvider',
    args: [provider],
  })
  return (p as { stake: bigint }).stake
}
const balanceOf = (account: Address) =>
  client().readContract({ address: token(), abi: tesseraTokenAbi, functionName: 'balanceOf', args: [account] })
const nextJobId = () => client().readContract({ address: market(), abi: jobMarketAbi, functionName: 'nextJobId' })
