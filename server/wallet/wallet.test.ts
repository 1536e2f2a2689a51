import path from 'node:path'
import type { Kysely } from 'kysely'
import {
  type Address,
  createWalletClient,
  type Hex,
  http,
  keccak256,
  type PrivateKeyAccount,
  type PublicClient,
  type TransactionReceipt,
  toHex,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { claimableOf, closeEpochsThrough, currentEpoch } from '../../agent/testPayouts.ts'
import { emissionControllerAbi, providerRegistryAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { fund, registerProvider, type TestSystem } from '../../devnet/testSystem.ts'
import { parseDeployment } from '../../protocol/deployment.ts'
import { JobStatus } from '../../protocol/enums.ts'
import { TSR } from '../../protocol/units.ts'
import { type GraphQLResponseError, gql, waitFor } from '../../test/support/graphql.ts'
import { jobMarketOf, labelledResult, runMarketRound, sendHeartbeat } from '../../test/support/market.ts'
import { type IndexedTestChain, startIndexedTestChain } from '../../test/support/stack.ts'
import { createYoga } from '../createYoga.ts'
import { createDb } from '../db/createDb.ts'
import type { Database } from '../db/database.ts'
import { migrateToLatest } from '../db/migrateToLatest.ts'

// The wallet-ready API on a real anvil indexed by Ponder, through yoga.fetch: every prepared transaction is signed and
// sent by a viem wallet as a frontend would, and its effect read back from the chain; every balance the API reports is
// checked against what the call that pays it pays.

const viewsSchema = 'wallet_test'
const graphqlUrl = 'http://localhost/graphql'
let chain: IndexedTestChain
let system: TestSystem
let db: Kysely<Database>
let yoga: ReturnType<typeof createYoga>['yoga']
let requester: PrivateKeyAccount
let p0: PrivateKeyAccount
let p1: PrivateKeyAccount
let p2: PrivateKeyAccount

const fetchFn = (url: string, init: RequestInit) => yoga.fetch(url, init)

beforeAll(async () => {
  chain = await startIndexedTestChain({
    tmpPrefix: 'tessera-wallet-',
    viewsSchema,
    prepare: async (s) => {
      for (const p of s.accounts.providers.slice(0, 2)) await registerProvider(s, p)
      for (const r of s.accounts.requesters) await fund(s, r.address, 1000n * TSR)
      // The third provider registers and stakes through the API.
      await fund(s, s.accounts.providers[2].address, 500n * TSR)
    },
  })
  system = chain.system
  ;[requester] = system.accounts.requesters
  ;[p0, p1, p2] = system.accounts.providers
  db = createDb({ databaseUrl: chain.database.url }).db
  await migrateToLatest(db)
  yoga = createYoga({
    db,
    viewsSchema,
    deployment: chain.deployment,
    dataDir: path.join(chain.tmpDir, 'data'),
    publicClient: system.publicClient as PublicClient,
  }).yoga
}, 180_000)

afterAll(async () => {
  await db?.destroy()
  await chain?.stop()
})

/** A prepared transaction as the API serves it. */
type Tx = {
  from: Address
  to: Address
  data: Hex
  value: string
  chainId: number
  gas: string | null
  contract: string
  functionName: string
  description: string
}
const txFields = 'from to data value chainId gas contract functionName description'

/** Posts an operation; the whole response (data and errors). */
const post = <T>(query: string, variables?: Record<string, unknown>) => gql<T>(graphqlUrl, query, variables, fetchFn)

/** Posts an operation and returns its data, failing the test on any error. */
async function data<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const { data, errors } = await post<T>(query, variables)
  expect(errors).toBeUndefined()
  return data as T
}

/** The errors an operation is refused with. */
async function refusal(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponseError[]> {
  const { data, errors } = await post(query, variables)
  expect(data ?? null).toBeNull()
  expect(errors?.length).toBeGreaterThan(0)
  return errors ?? []
}

/** Signs and sends `txs` from `account` in order, each mined before the next (as a wallet would), checking they are for it. */
async function send(account: PrivateKeyAccount, txs: Tx[]): Promise<bigint> {
  const wallet = createWalletClient({ account, chain: system.chain, transport: http(system.rpcUrl) })
  let block = 0n
  for (const tx of txs) {
    expect(tx).toMatchObject({ from: account.address, chainId: chain.deployment.chainId, value: '0' })
    const hash = await wallet.sendTransaction({
      to: tx.to,
      data: tx.data,
      value: BigInt(tx.value),
      gas: tx.gas === null ? undefined : BigInt(tx.gas),
    })
    const receipt = await system.publicClient.waitForTransactionReceipt({ hash })
    expect(receipt.status, `${tx.functionName}: ${tx.description}`).toBe('success')
    block = receipt.blockNumber
  }
  return block
}

/** Waits until the indexer has processed block `blockNumber`. */
async function indexedThrough(blockNumber: bigint): Promise<void> {
  await waitFor(`block ${blockNumber} indexed`, async () => {
    const { _meta } = await data<{ _meta: { block: string | null } }>('{ _meta { block } }')
    return _meta.block !== null && BigInt(_meta.block) >= blockNumber ? true : undefined
  })
}

const market = () => jobMarketOf(system)
const balanceOf = (account: Address) =>
  system.read<bigint>({ address: system.token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [account] })
const owedOnChain = (account: Address) => market().read<bigint>('owed', [account])
const jobOnChain = (jobId: bigint) => market().read<{ requester: Address; status: number; escrow: bigint }>('getJob', [jobId])
const providerOnChain = (provider: Address) =>
  system.read<{ registered: boolean; pricePerUnit: bigint; stake: bigint; pendingUnstake: bigint }>({
    address: system.registry,
    abi: providerRegistryAbi,
    functionName: 'getProvider',
    args: [provider],
  })

const prepareSubmit = `mutation ($from: Address!, $spec: SubmitJobInput!) { prepareSubmitJob(from: $from, spec: $spec) { ${txFields} } }`
const prepareCancel = `mutation ($from: Address!, $jobId: BigInt!) { prepareCancelJob(from: $from, jobId: $jobId) { ${txFields} } }`
const prepareWithdraw = `mutation ($from: Address!) { prepareWithdraw(from: $from) { ${txFields} } }`
const prepareClaim = `mutation ($from: Address!, $epochs: [BigInt!]) { prepareClaimRewards(from: $from, epochs: $epochs) { ${txFields} } }`
const prepareChallenge = `mutation ($from: Address!, $jobId: BigInt!) { prepareChallenge(from: $from, jobId: $jobId) { ${txFields} } }`

/** A spec of 4 units at up to 0.1 TSR a unit, k = 2, an hour from the chain's clock; `overrides` win. */
async function specOf(overrides: Record<string, unknown> = {}) {
  return {
    modelHash: keccak256(toHex('wallet model')),
    inputHash: keccak256(toHex('wallet input')),
    units: '4',
    maxPricePerUnit: (TSR / 10n).toString(),
    redundancy: 2,
    deadline: ((await system.now()) + 3600n).toString(),
    ...overrides,
  }
}

/** Prepares a job of `spec` from `account` and sends it; the new job's id. */
async function submitThroughApi(account: PrivateKeyAccount, spec: Record<string, unknown>): Promise<bigint> {
  const jobId = await market().read<bigint>('nextJobId')
  const { prepareSubmitJob } = await data<{ prepareSubmitJob: Tx[] }>(prepareSubmit, { from: account.address, spec })
  await send(account, prepareSubmitJob)
  return jobId
}

/** The API's answer for `account`, read once the indexer has caught up with the chain. */
async function accountOf(account: Address) {
  await indexedThrough(await system.publicClient.getBlockNumber())
  type Account = {
    owed: string
    refundsOwed: string
    allowance: string
    balance: string
    jobs: { totalCount: number; edges: { node: { id: string; status: string } }[] }
  }
  return (
    await data<{ account: Account }>(
      'query ($a: Address!) { account(address: $a) { owed refundsOwed allowance balance jobs(first: 10) { totalCount edges { node { id status } } } } }',
      { a: account },
    )
  ).account
}

let redundantJob: bigint
let cancelledJob: bigint

describe('GET /deployment', () => {
  test("serves the chain id, every contract's address and its ABI, and still reads as a deployment", async () => {
    const res = await yoga.fetch('http://localhost/deployment')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const body = (await res.json()) as {
      chainId: number
      contracts: Record<string, { address: string }>
      abis: Record<string, { type: string; name?: string }[]>
    }
    expect(body.chainId).toBe(chain.deployment.chainId)
    expect(body.contracts.JobMarket.address).toBe(chain.deployment.contracts.JobMarket.address)
    expect(Object.keys(body.abis).sort()).toEqual(Object.keys(chain.deployment.contracts).sort())
    const functions = (name: string) => body.abis[name].filter((item) => item.type === 'function').map((item) => item.name)
    expect(functions('JobMarket')).toEqual(expect.arrayContaining(['submitJob', 'cancel', 'withdraw', 'challenge', 'owed']))
    expect(functions('EmissionController')).toEqual(expect.arrayContaining(['claim', 'claimable']))
    expect(functions('TesseraToken')).toEqual(expect.arrayContaining(['approve', 'permit']))
    expect(parseDeployment(body)).toEqual(chain.deployment)
  })
})

describe('prepare* mutations, signed and sent by a wallet', () => {
  test('prepareSubmitJob: the approve of the escrow, then submitJob; the wallet sends both and the job is on chain', async () => {
    const spec = await specOf()
    const { prepareSubmitJob: txs } = await data<{ prepareSubmitJob: Tx[] }>(prepareSubmit, { from: requester.address, spec })
    expect(txs.map((t) => `${t.contract}.${t.functionName}`)).toEqual(['TesseraToken.approve', 'JobMarket.submitJob'])
    expect(txs[0]).toMatchObject({ to: system.token })
    expect(BigInt(txs[0].gas ?? 0)).toBeGreaterThan(0n)
    // The submit's gas depends on the approve before it: left to the wallet.
    expect(txs[1]).toMatchObject({ to: system.market, gas: null })
    const escrow = await market().read<bigint>('quoteEscrow', [TSR / 10n, 4n, 2])
    expect(txs[0].description).toContain('0.88 TSR')

    redundantJob = await market().read<bigint>('nextJobId')
    await send(requester, txs)
    const job = await jobOnChain(redundantJob)
    expect(job).toMatchObject({ requester: requester.address, status: JobStatus.Open, escrow })

    // With the allowance in place the submit alone comes back, with its gas estimated.
    await system.write(requester, { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [system.market, escrow] })
    const { prepareSubmitJob: alone } = await data<{ prepareSubmitJob: Tx[] }>(prepareSubmit, { from: requester.address, spec })
    expect(alone.map((t) => t.functionName)).toEqual(['submitJob'])
    expect(BigInt(alone[0].gas ?? 0)).toBeGreaterThan(0n)
    cancelledJob = await market().read<bigint>('nextJobId')
    await send(requester, alone)
    expect((await jobOnChain(cancelledJob)).status).toBe(JobStatus.Open)
  })

  test('prepareCancelJob: only the requester of an OPEN job; the refund is owed, then withdrawn to the wei', async () => {
    const cancel = (from: Address, jobId: bigint | string) =>
      post<{ prepareCancelJob: Tx }>(prepareCancel, { from, jobId: jobId.toString() })
    const other = system.accounts.requesters[1].address
    expect((await cancel(other, cancelledJob)).errors?.[0]?.message).toMatch(`from ${other} is not the requester of job ${cancelledJob}`)
    expect((await cancel(requester.address, 999n)).errors?.[0]?.message).toBe('jobId 999: no such job')
    expect((await cancel(requester.address, 0n)).errors?.[0]?.message).toMatch(/^jobId must be positive/)
    expect((await cancel(requester.address, -3n)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')

    const { prepareCancelJob } = await data<{ prepareCancelJob: Tx }>(prepareCancel, {
      from: requester.address,
      jobId: cancelledJob.toString(),
    })
    expect(prepareCancelJob).toMatchObject({ contract: 'JobMarket', functionName: 'cancel', to: system.market })
    expect(BigInt(prepareCancelJob.gas ?? 0)).toBeGreaterThan(0n)
    await send(requester, [prepareCancelJob])
    expect((await jobOnChain(cancelledJob)).status).toBe(JobStatus.Cancelled)
    expect((await cancel(requester.address, cancelledJob)).errors?.[0]?.message).toBe(
      `jobId ${cancelledJob} is CANCELLED: only an OPEN (unassigned) job can be cancelled`,
    )

    const { escrow } = await jobOnChain(cancelledJob)
    const account = await accountOf(requester.address)
    expect(account).toMatchObject({ owed: escrow.toString(), refundsOwed: escrow.toString(), allowance: '0' })
    expect(BigInt(account.owed)).toBe(await owedOnChain(requester.address))
    expect(BigInt(account.balance)).toBe(await balanceOf(requester.address))
    expect(account.jobs.totalCount).toBe(2)
    expect(account.jobs.edges.map((e) => e.node)).toEqual([
      { id: cancelledJob.toString(), status: 'CANCELLED' },
      { id: redundantJob.toString(), status: 'OPEN' },
    ])

    const before = await balanceOf(requester.address)
    const { prepareWithdraw: withdraw } = await data<{ prepareWithdraw: Tx }>(prepareWithdraw, { from: requester.address })
    await send(requester, [withdraw])
    expect((await balanceOf(requester.address)) - before).toBe(BigInt(account.owed))
    expect(await accountOf(requester.address)).toMatchObject({ owed: '0', refundsOwed: '0' })
    expect((await post(prepareWithdraw, { from: requester.address })).errors?.[0]?.message).toBe(
      `from ${requester.address} is owed nothing by JobMarket: there is nothing to withdraw`,
    )
  })

  test("a provider's owed is what withdraw pays, its claimable what claim mints; the job's output is the agreed one", async () => {
    // The two agree: the last reveal settles the job.
    const finalized = (await runMarketRound(
      system,
      redundantJob,
      [p0, p1],
      [labelledResult('agreed'), labelledResult('agreed')],
    )) as TransactionReceipt
    const epoch = await system.publicClient.readContract({
      address: system.controller,
      abi: emissionControllerAbi,
      functionName: 'currentEpoch',
      blockNumber: finalized.blockNumber,
    })
    await indexedThrough(finalized.blockNumber)

    type Output = {
      job: { status: string; output: { fingerprint: string; outputHash: string; provider: string; blobPath: string } | null }
    }
    const { job } = await data<Output>(
      'query ($id: BigInt!) { job(id: $id) { status output { fingerprint outputHash provider blobPath } } }',
      {
        id: redundantJob.toString(),
      },
    )
    const agreed = labelledResult('agreed')
    expect(job).toEqual({
      status: 'COMPLETED',
      output: {
        fingerprint: agreed.fingerprint,
        outputHash: agreed.outputHash,
        provider: p0.address,
        blobPath: `/blobs/${agreed.outputHash}`,
      },
    })
    const { job: cancelled } = await data<Output>('query ($id: BigInt!) { job(id: $id) { status output { outputHash } } }', {
      id: cancelledJob.toString(),
    })
    expect(cancelled).toEqual({ status: 'CANCELLED', output: null })

    const providerQuery =
      'query ($a: Address!) { provider(address: $a) { owed claimable claimableRewards { epoch usage availability amount } } }'
    type ProviderPayouts = { provider: { owed: string; claimable: string; claimableRewards: { epoch: string; amount: string }[] } }
    const { provider } = await data<ProviderPayouts>(providerQuery, { a: p0.address })
    const fee = (TSR / 100n) * 4n // its ask × 4 units
    expect(provider).toMatchObject({ owed: fee.toString(), claimable: '0', claimableRewards: [] }) // its epoch is still open
    expect(BigInt(provider.owed)).toBe(await owedOnChain(p0.address))
    const before = await balanceOf(p0.address)
    const { prepareWithdraw: withdraw } = await data<{ prepareWithdraw: Tx }>(prepareWithdraw, { from: p0.address })
    expect(withdraw.description).toContain('0.04 TSR')
    await send(p0, [withdraw])
    expect((await balanceOf(p0.address)) - before).toBe(BigInt(provider.owed))
    expect((await data<ProviderPayouts>(providerQuery, { a: p0.address })).provider.owed).toBe('0')

    // Once its epoch closes, the reward its fee earned is claimable: exactly what claim mints.
    await closeEpochsThrough(system, epoch)
    await indexedThrough(await system.publicClient.getBlockNumber())
    const closed = (await data<ProviderPayouts>(providerQuery, { a: p0.address })).provider
    const reward = await claimableOf(system, epoch, p0)
    expect(reward).toBeGreaterThan(0n)
    expect(closed.claimable).toBe(reward.toString())
    expect(closed.claimableRewards).toMatchObject([{ epoch: epoch.toString(), amount: reward.toString() }])
    const { prepareClaimRewards: claims } = await data<{ prepareClaimRewards: Tx[] }>(prepareClaim, { from: p0.address })
    expect(claims.map((c) => `${c.contract}.${c.functionName}`)).toEqual(['EmissionController.claim'])
    const beforeClaim = await balanceOf(p0.address)
    await send(p0, claims)
    expect((await balanceOf(p0.address)) - beforeClaim).toBe(BigInt(closed.claimable))
    expect((await data<ProviderPayouts>(providerQuery, { a: p0.address })).provider.claimable).toBe('0')

    // Nothing left, an epoch not closed, an epoch named twice: refused by name.
    expect((await post(prepareClaim, { from: p0.address })).errors?.[0]?.message).toBe(
      `from ${p0.address} has no emission reward to claim in any closed epoch`,
    )
    expect((await post(prepareClaim, { from: p0.address, epochs: [epoch.toString()] })).errors?.[0]?.message).toMatch(
      `epochs[0]: epoch ${epoch} has no reward left for ${p0.address}`,
    )
    const open = (await currentEpoch(system)) + 5n
    expect((await post(prepareClaim, { from: p0.address, epochs: [epoch.toString(), open.toString()] })).errors?.[0]?.message).toMatch(
      `epochs[1]: epoch ${open} is not closed`,
    )
    expect((await post(prepareClaim, { from: p0.address, epochs: ['-1'] })).errors?.[0]?.message).toBe(
      'epochs[0] must be 0 or more, got -1',
    )
    expect((await post(prepareClaim, { from: p0.address, epochs: ['1', '1'] })).errors?.[0]?.message).toMatch(
      /^epochs names an epoch more than once/,
    )
  })

  test("prepareChallenge: an optimistic job's revealed result, challenged with its bond from another wallet", async () => {
    const optimistic = await submitThroughApi(requester, await specOf({ verification: 'OPTIMISTIC', redundancy: 1 }))
    expect((await jobOnChain(optimistic)).status).toBe(JobStatus.Open)
    await runMarketRound(system, optimistic, [p1], [labelledResult('optimistic')])
    expect((await jobOnChain(optimistic)).status).toBe(JobStatus.Revealed)

    const challenger = system.accounts.requesters[1]
    const { prepareChallenge: txs } = await data<{ prepareChallenge: Tx[] }>(prepareChallenge, {
      from: challenger.address,
      jobId: optimistic.toString(),
    })
    expect(txs.map((t) => `${t.contract}.${t.functionName}`)).toEqual(['TesseraToken.approve', 'JobMarket.challenge'])
    const bond = ((TSR / 10n) * 4n * chain.deployment.params.market.challengeBondBps) / 10_000n
    const before = await balanceOf(challenger.address)
    await send(challenger, txs)
    expect(before - (await balanceOf(challenger.address))).toBe(bond)
    const audit = await market().read<{ kind: number; challenger: Address; bond: bigint }>('getAudit', [optimistic])
    expect(audit).toMatchObject({ kind: 3, challenger: challenger.address, bond })

    const refusedFor = async (jobId: bigint) =>
      (await post(prepareChallenge, { from: challenger.address, jobId: jobId.toString() })).errors?.[0]?.message
    expect(await refusedFor(optimistic)).toMatch(`jobId ${optimistic} can't be challenged: it is being audited already`)
    expect(await refusedFor(redundantJob)).toMatch(`jobId ${redundantJob} can't be challenged: it is REDUNDANT`)
    expect(await refusedFor(12_345n)).toBe('jobId 12345: no such job')
  })

  test('a provider registers, stakes (approve + stake), updates, unstakes and withdraws its stake, all from its wallet', async () => {
    const settings = {
      gpuCount: 1,
      vramMiB: '24576',
      cpuCores: 8,
      memoryMiB: '65536',
      benchmarkScore: '1000',
      pricePerUnit: '1000',
      region: 'eu',
    }
    const register = `mutation ($from: Address!, $p: ProviderSettingsInput!) { prepareRegisterProvider(from: $from, provider: $p, encryptionPubKey: "0x0102") { ${txFields} } }`
    const update = `mutation ($from: Address!, $p: ProviderSettingsInput!) { prepareUpdateProvider(from: $from, provider: $p) { ${txFields} } }`
    const stake = `mutation ($from: Address!, $amount: BigInt!) { prepareStake(from: $from, amount: $amount) { ${txFields} } }`
    const unstake = `mutation ($from: Address!, $amount: BigInt!) { prepareUnstake(from: $from, amount: $amount) { ${txFields} } }`
    const withdrawStake = `mutation ($from: Address!) { prepareWithdrawStake(from: $from) { ${txFields} } }`

    expect((await post(update, { from: p2.address, p: settings })).errors?.[0]?.message).toMatch(
      `from ${p2.address} is not a registered provider`,
    )
    expect((await post(stake, { from: p2.address, amount: '1' })).errors?.[0]?.message).toMatch(
      `from ${p2.address} is not a registered provider`,
    )
    await send(p2, [(await data<{ prepareRegisterProvider: Tx }>(register, { from: p2.address, p: settings })).prepareRegisterProvider])
    expect(await providerOnChain(p2.address)).toMatchObject({ registered: true, pricePerUnit: 1000n, stake: 0n })
    expect((await post(register, { from: p2.address, p: settings })).errors?.[0]?.message).toMatch(
      `from ${p2.address} is registered already`,
    )

    const { prepareStake: staking } = await data<{ prepareStake: Tx[] }>(stake, { from: p2.address, amount: (200n * TSR).toString() })
    expect(staking.map((t) => `${t.contract}.${t.functionName}`)).toEqual(['TesseraToken.approve', 'ProviderRegistry.stake'])
    expect(staking[0].to).toBe(system.token)
    await send(p2, staking)
    expect((await providerOnChain(p2.address)).stake).toBe(200n * TSR)
    expect((await post(stake, { from: p2.address, amount: (10_000n * TSR).toString() })).errors?.[0]?.message).toMatch(
      `from ${p2.address} holds 300 TSR, short of the 10000 TSR the stake needs`,
    )

    await send(p2, [
      (await data<{ prepareUpdateProvider: Tx }>(update, { from: p2.address, p: { ...settings, pricePerUnit: '2000' } }))
        .prepareUpdateProvider,
    ])
    expect((await providerOnChain(p2.address)).pricePerUnit).toBe(2000n)

    expect((await post(unstake, { from: p2.address, amount: (201n * TSR).toString() })).errors?.[0]?.message).toMatch(
      `amount ${201n * TSR} is more than from ${p2.address}'s free stake ${200n * TSR}`,
    )
    await send(p2, [(await data<{ prepareUnstake: Tx }>(unstake, { from: p2.address, amount: (50n * TSR).toString() })).prepareUnstake])
    expect((await providerOnChain(p2.address)).pendingUnstake).toBe(50n * TSR)
    expect((await post(withdrawStake, { from: p2.address })).errors?.[0]?.message).toMatch(`from ${p2.address}'s 50 TSR is unbonding until`)
    await system.increaseTime(chain.deployment.params.registry.unbondingPeriod + 1n)
    const before = await balanceOf(p2.address)
    await send(p2, [(await data<{ prepareWithdrawStake: Tx }>(withdrawStake, { from: p2.address })).prepareWithdrawStake])
    expect((await balanceOf(p2.address)) - before).toBe(50n * TSR)
    expect((await post(withdrawStake, { from: p2.address })).errors?.[0]?.message).toMatch(`from ${p2.address} has no stake unbonding`)

    // Bad arguments, each named.
    for (const amount of ['0', '-5'])
      expect((await post(stake, { from: p2.address, amount })).errors?.[0]?.message).toBe(
        `amount must be positive (TSR wei), got ${amount}`,
      )
    const bad = await refusal(register, {
      from: system.accounts.requesters[1].address,
      p: { ...settings, gpuCount: 70_000, vramMiB: '-1', pricePerUnit: '0', region: 'a region label far longer than thirty-two bytes' },
    })
    expect(bad[0].message).toContain('provider.gpuCount must fit a uint16 (0 to 65535), got 70000')
    expect(bad[0].message).toContain('provider.vramMiB must fit a uint32 (0 to 4294967295), got -1')
    expect(bad[0].message).toContain('provider.pricePerUnit must be positive (wei per unit), got 0')
    expect(bad[0].message).toContain('provider.region: region "a region label far longer than thirty-two bytes" is longer than 32 bytes')
    expect(bad[0].extensions?.code).toBe('BAD_USER_INPUT')
  })

  test('prepareSubmitJob refuses a spec submitJob would refuse, naming each field, and a balance short of the escrow', async () => {
    const refused = async (overrides: Record<string, unknown>, from: Address = requester.address) => {
      const errors = await refusal(prepareSubmit, { from, spec: await specOf(overrides) })
      return errors[0].message
    }
    expect(await refused({ redundancy: 0 })).toBe('spec.redundancy must be 2 to 16 for a Redundant job, got 0')
    expect(await refused({ redundancy: 17 })).toBe('spec.redundancy must be 2 to 16 for a Redundant job, got 17')
    expect(await refused({ verification: 'OPTIMISTIC', redundancy: 2 })).toMatch(/^spec\.redundancy must be 1 for an Optimistic job/)
    expect(await refused({ units: '-1' })).toBe('spec.units must be 1 to 2^64 − 1, got -1')
    expect(await refused({ maxPricePerUnit: '0' })).toBe('spec.maxPricePerUnit must be positive (wei per unit), got 0')
    expect(await refused({ maxPricePerUnit: '-7', units: '0' })).toBe(
      'spec.units must be 1 to 2^64 − 1, got 0; spec.maxPricePerUnit must be positive (wei per unit), got -7',
    )
    expect(await refused({ modelHash: `0x${'0'.repeat(64)}` })).toBe('spec.modelHash must not be zero')
    expect(await refused({ deadline: '1' })).toMatch(/^spec\.deadline 1 must be at least 60 s after the chain's time \d+$/)
    expect(await refused({ outputTolerance: 24 })).toBe('spec.outputTolerance must be 1 to 23 mantissa bits, got 24')
    expect(await refused({ minVramMiB: '4294967296' })).toBe('spec.minVramMiB must fit a uint32 (0 to 2^32 − 1), got 4294967296')
    // A malformed hash never reaches the resolver: the variable is refused at its path.
    expect(await refused({ inputHash: '0x1234' })).toMatch(/spec\.inputHash|"inputHash"/)
    const broke = privateKeyToAccount(generatePrivateKey()).address
    expect(await refused({}, broke)).toBe(`from ${broke} holds 0 TSR, short of the 0.88 TSR the job's escrow needs`)
  })
})

describe('quote', () => {
  const quoteQuery =
    'query ($spec: QuoteInput!) { quote(spec: $spec) { reason eligibleProviders etaSeconds queue { waitingJobs waitingSlots recentJobSeconds } } }'
  type Quote = {
    reason: string
    eligibleProviders: number
    etaSeconds: number | null
    queue: { waitingJobs: number; waitingSlots: number; recentJobSeconds: number | null }
  }
  const spec = (overrides: Record<string, unknown> = {}) => ({
    units: '4',
    maxPricePerUnit: (TSR / 10n).toString(),
    redundancy: 2,
    ...overrides,
  })

  test('a spec JobMarket would refuse is refused with the reason, never answered OK', async () => {
    const message = async (overrides: Record<string, unknown>) => (await refusal(quoteQuery, { spec: spec(overrides) }))[0].message
    expect(await message({ maxPricePerUnit: '-1' })).toBe('spec.maxPricePerUnit must be positive (wei per unit), got -1')
    expect(await message({ maxPricePerUnit: '0' })).toBe('spec.maxPricePerUnit must be positive (wei per unit), got 0')
    expect(await message({ redundancy: 0 })).toBe('spec.redundancy must be 2 to 16 for a Redundant job, got 0')
    expect(await message({ redundancy: -1 })).toBe('spec.redundancy must be 2 to 16 for a Redundant job, got -1')
    expect(await message({ units: '0' })).toBe('spec.units must be 1 to 2^64 − 1, got 0')
    expect(await message({ verification: 'OPTIMISTIC', redundancy: 3 })).toMatch(/^spec\.redundancy must be 1 for an Optimistic job/)
    expect(await message({ gpuModel: '-2' })).toBe('spec.gpuModel must fit a uint32 (0 to 2^32 − 1), got -2')
    const { errors } = await post(quoteQuery, { spec: spec({ redundancy: 0 }) })
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
  })

  test('an ETA from the live queue: rounds of the waiting slots over the eligible live providers', async () => {
    await sendHeartbeat(graphqlUrl, p0, fetchFn)
    await sendHeartbeat(graphqlUrl, p1, fetchFn)
    await indexedThrough(await system.publicClient.getBlockNumber())
    const quoted = async () => (await data<{ quote: Quote }>(quoteQuery, { spec: spec() })).quote
    const first = await quoted()
    expect(first.reason).toBe('OK')
    expect(first.eligibleProviders).toBeGreaterThanOrEqual(2)
    // The completed job sets the pace: it took seconds from submission to settlement.
    expect(first.queue.recentJobSeconds).toBeGreaterThan(0)
    const eta = (q: Quote) => (q.queue.recentJobSeconds ?? 0) * (1 + Math.floor(q.queue.waitingSlots / q.eligibleProviders))
    expect(first.etaSeconds).toBe(eta(first))

    // Jobs waiting ahead push it out.
    for (let i = 0; i < 2; i++) await submitThroughApi(requester, await specOf())
    await indexedThrough(await system.publicClient.getBlockNumber())
    // Ponder's checkpoint can name a block before that block's rows are readable (seen: `_meta` at the block, the two
    // jobs absent, both there 2 s later), so the wait is for the jobs themselves.
    const later = await waitFor('the two new jobs in the queue', async () => {
      const quote = await quoted()
      return quote.queue.waitingJobs === first.queue.waitingJobs + 2 ? quote : undefined
    })
    expect(later.queue.waitingSlots).toBe(first.queue.waitingSlots + 4)
    expect(later.etaSeconds).toBe(eta(later))
    expect(later.etaSeconds).toBeGreaterThan(first.etaSeconds ?? 0)
  })
})
