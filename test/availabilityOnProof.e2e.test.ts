import { type Address, createPublicClient, createWalletClient, http, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { emissionControllerAbi, jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { inputHashOf } from '../devnet/testSystem.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { escrowOf } from '../protocol/settlement.ts'
import { defined } from './support/defined.ts'
import { startGhostStack } from './support/ghost.ts'
import { waitFor } from './support/graphql.ts'
import { labelledResult, uploadRunnableJob } from './support/market.ts'

// Availability on proof, on the live stack (issue 8): a Sybil registers the largest hardware the registry takes and a
// tiny ask, stays live by heartbeats, and runs its own paid jobs (its owner submits optimistic jobs only it is cheap
// enough for, and it commits and reveals them) while ignoring everything else, the protocol's challenge jobs included.
// Its jobs complete and earn usage rewards, κ × its fees, but it passed no challenge, so its availability reward is 0
// in every epoch, whatever it declared; the honest agents that passed their challenges share the availability pool,
// weighted by the capacity their challenges measured.

const honestKeys = [devKeys[2], devKeys[3]] as const
const sybil = privateKeyToAccount(devKeys[7])
const owner = privateKeyToAccount(devKeys[6])
const sybilAsk = 10n ** 9n
const maxHardware = { gpuCount: 65_535, benchmarkScore: 4_294_967_295, vramMiB: 4_294_967_295 }
const honest = honestKeys.map((k) => privateKeyToAccount(k).address.toLowerCase())
/** Jobs the Sybil pays itself, at once: each is spot-checked with p = 8 %, so at least one runs unaudited. */
const ownJobs = 3

let stack: Stack
let setup: Awaited<ReturnType<typeof startGhostStack>> | undefined
const client = () => createPublicClient({ chain: foundry, transport: http(stack.rpcUrl) })
const controller = () => stack.deployment.contracts.EmissionController.address as Address
const market = () => stack.deployment.contracts.JobMarket.address as Address

beforeAll(async () => {
  setup = await startGhostStack({
    name: 'availability-on-proof',
    agentKeys: [...honestKeys],
    ghostKey: devKeys[7],
    ghostOptions: { hardware: maxHardware, pricePerUnit: sybilAsk },
    requesters: [devKeys[6]],
    challenges: { epochsPerRound: 1_000_000, minProviders: 3, deadlineSeconds: 300 },
  })
  stack = setup.stack
}, 240_000)

afterAll(async () => {
  await setup?.stop()
}, 60_000)

/** The owner submits an optimistic job at the Sybil's ask: no honest agent (0.001 TSR a unit) is eligible for it. */
async function submitOwnJob(seed: number): Promise<bigint> {
  const wallet = createWalletClient({ account: owner, chain: foundry, transport: http(stack.rpcUrl) })
  const blobs = await uploadRunnableJob(stack.serverUrl, owner, 4, seed)
  const now = (await client().getBlock()).timestamp
  const spec = {
    ...blobs,
    units: 4n,
    maxPricePerUnit: sybilAsk,
    minVramMiB: 0,
    gpuModel: 0,
    regions: [],
    redundancy: 1,
    verification: 1,
    deadline: now + 3600n,
    outputTolerance: 10,
  }
  const escrow = escrowOf(spec, stack.deployment.params.market)
  const approve = await wallet.writeContract({
    address: stack.deployment.contracts.TesseraToken.address as Address,
    abi: tesseraTokenAbi,
    functionName: 'approve',
    args: [market(), escrow],
  })
  await client().waitForTransactionReceipt({ hash: approve })
  const jobId = await client().readContract({ address: market(), abi: jobMarketAbi, functionName: 'nextJobId' })
  const hash = await wallet.writeContract({ address: market(), abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
  expect((await client().waitForTransactionReceipt({ hash })).status).toBe('success')
  return jobId
}

/** The Sybil runs its own job: once the matcher assigns it, it commits to a labelled result and reveals it. */
async function runOwnJob(jobId: bigint): Promise<void> {
  const wallet = createWalletClient({ account: sybil, chain: foundry, transport: http(stack.rpcUrl) })
  await waitFor(
    `job ${jobId} assigned to the Sybil`,
    async () => {
      const logs = await client().getContractEvents({
        address: market(),
        abi: jobMarketAbi,
        eventName: 'JobAssigned',
        args: { jobId },
        fromBlock: 0n,
      })
      return logs.some((l) => (l.args.provider as Address | undefined)?.toLowerCase() === sybil.address.toLowerCase()) || undefined
    },
    { timeoutMs: 60_000 },
  )
  const result = labelledResult(`sybil ${jobId}`)
  const salt = keccak256(toHex(`sybil salt ${jobId}`))
  const send = async (functionName: 'commitResult' | 'revealResult', args: readonly unknown[]) => {
    const hash = await wallet.writeContract({ address: market(), abi: jobMarketAbi, functionName, args } as never)
    expect((await client().waitForTransactionReceipt({ hash })).status).toBe('success')
  }
  const input = await inputHashOf({ publicClient: client(), market: market() }, jobId)
  await send('commitResult', [jobId, input, commitmentOf({ jobId, provider: sybil.address, ...result, salt })])
  await send('revealResult', [jobId, result.fingerprint, result.outputHash, salt])
}

test('a Sybil with maximal declared hardware and self-paid jobs, but no passed challenge, earns no availability', async () => {
  const jobIds: bigint[] = []
  for (let i = 0; i < ownJobs; i++) jobIds.push(await submitOwnJob(100 + i))
  // One after another: the Sybil's transactions share its nonce.
  for (const jobId of jobIds) await runOwnJob(jobId)

  // Its unaudited jobs complete after the challenge window and pay it: JobMarket records them with the controller.
  const paid = await waitFor(
    "the Sybil's own jobs paid",
    async () => {
      const logs = await client().getContractEvents({ address: market(), abi: jobMarketAbi, eventName: 'ProviderPaid', fromBlock: 0n })
      const mine = logs.filter(
        (l) => (l.args.provider as Address).toLowerCase() === sybil.address.toLowerCase() && jobIds.includes(l.args.jobId as bigint),
      )
      return mine.length > 0 ? mine : undefined
    },
    { timeoutMs: 180_000 },
  )
  const genesis = await client().readContract({ address: controller(), abi: emissionControllerAbi, functionName: 'genesis' })
  const { epochLength } = await client().readContract({ address: controller(), abi: emissionControllerAbi, functionName: 'params' })
  const epochOf = async (blockNumber: bigint) => ((await client().getBlock({ blockNumber })).timestamp - genesis) / epochLength
  const paidEpoch = await epochOf(defined(paid[0], 'a payment').blockNumber)

  // The honest agents pass their challenges; the Sybil never answers its own.
  const passes = await waitFor(
    'the honest challenges counted',
    async () => {
      const logs = await client().getContractEvents({
        address: controller(),
        abi: emissionControllerAbi,
        eventName: 'ChallengeCounted',
        fromBlock: 0n,
      })
      const passed = logs.filter((l) => l.args.passed)
      return honest.every((h) => passed.some((l) => (l.args.provider as Address).toLowerCase() === h)) ? passed : undefined
    },
    { timeoutMs: 180_000 },
  )
  expect(passes.some((l) => (l.args.provider as Address).toLowerCase() === sybil.address.toLowerCase())).toBe(false)
  const passEpoch = defined(passes[0], 'a pass').args.epoch as bigint

  // Wait until the keeper closed both epochs.
  let last = paidEpoch
  if (passEpoch > last) last = passEpoch
  await waitFor(
    `epoch ${last} closed`,
    async () => {
      const closed = await client().readContract({ address: controller(), abi: emissionControllerAbi, functionName: 'lastClosedEpoch' })
      return closed !== 2n ** 256n - 1n && closed >= last ? true : undefined
    },
    { timeoutMs: 120_000 },
  )
  const claimable = (epoch: bigint, provider: Address) =>
    client().readContract({ address: controller(), abi: emissionControllerAbi, functionName: 'claimable', args: [epoch, provider] })

  // Every epoch so far: the Sybil has usage where its jobs were paid, and availability nowhere.
  let sybilUsage = 0n
  for (let epoch = 0n; epoch <= last; epoch++) {
    const [usage, availability] = await claimable(epoch, sybil.address)
    expect({ epoch, availability }).toEqual({ epoch, availability: 0n })
    sybilUsage += usage
  }
  expect(sybilUsage).toBeGreaterThan(0n)
  const [usageInPaidEpoch] = await claimable(paidEpoch, sybil.address)
  expect(usageInPaidEpoch).toBeGreaterThan(0n)

  // The epoch of the first pass: its attested capacity is what the honest challenges measured, nothing the Sybil
  // declared, and the provider that passed shares the availability pool.
  const [advanced] = await client().getContractEvents({
    address: controller(),
    abi: emissionControllerAbi,
    eventName: 'EpochAdvanced',
    args: { epoch: passEpoch },
    fromBlock: 0n,
  })
  const passedThere = passes.filter((l) => l.args.epoch === passEpoch)
  const measured = passedThere.reduce((sum, l) => sum + (l.args.attested as bigint), 0n)
  expect(defined(advanced, `epoch ${passEpoch} closed`).args.attested).toBe(measured)
  const declared = BigInt(maxHardware.gpuCount) * BigInt(maxHardware.benchmarkScore)
  expect(measured).toBeLessThan(declared)
  const [, honestAvailability] = await claimable(passEpoch, defined(passedThere[0], 'a pass').args.provider as Address)
  expect(honestAvailability).toBeGreaterThan(0n)
}, 480_000)
