import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { type Address, createPublicClient, createWalletClient, type Hex, http, keccak256, maxUint256, parseEther, toBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  cancelViaGateway,
  GatewayRejectedError,
  readGatewayAccount,
  waitForGatewayRequest,
  withdrawFromGateway,
} from '../client/gateway.ts'
import { challengeLedgerAbi, jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { verificationNames } from '../protocol/enums.ts'
import { type GatewayMessages, type GatewaySubmit, gatewayTypedData } from '../protocol/gateway.ts'
import { escrowOf } from '../protocol/settlement.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { gql, gqlData, waitFor } from './support/graphql.ts'
import { uploadRunnableJob } from './support/market.ts'
import { startTestStack } from './support/stack.ts'

// The job gateway (issue 7: an agent can't tell a challenge job from a paid one by its requester). Requesters deposit
// TSR to the server key and sign requests; the server submits from that key, the challenge issuer's, so on chain every
// gateway job and every challenge job has the same requester. Attacked here: the forged, replayed, malformed and
// over-spending request, two withdrawals racing for one balance, a cancel of another's job, and a leader that dies
// with requests in flight. After every settled step the key's assets less what it owes its accounts are unchanged:
// users' money moves only as their own requests say.

const alice = privateKeyToAccount(devKeys[5])
const bob = privateKeyToAccount(devKeys[6])
const serverKey = devKeys[1]

let stack: Stack
let database: TestDatabase
let dataDir: string
let app: Kysely<Record<string, never>>
const client = () => createPublicClient({ transport: http(stack.rpcUrl) })

beforeAll(async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-gateway-'))
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: [
      { privateKey: devKeys[2], pricePerUnit: parseEther('0.001') },
      { privateKey: devKeys[3], pricePerUnit: parseEther('0.001') },
    ],
    requesters: [devKeys[5], devKeys[6]],
  })
  app = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }) })
}, 240_000)

afterAll(async () => {
  await app?.destroy()
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

type Request = {
  id: string
  status: string
  kind: string
  amount: string
  jobId: string | null
  txHash: string | null
  error: string | null
}
const requestFields = 'id status kind amount jobId txHash error'

const sign = <T extends keyof GatewayMessages>(key: Hex, type: T, message: GatewayMessages[T]) =>
  privateKeyToAccount(key).signTypedData(gatewayTypedData(stack.deployment, type, message))

const asInput = (message: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(message).map(([k, v]) => [
      k,
      k === 'verification' ? verificationNames[v as number] : typeof v === 'bigint' ? v.toString() : v,
    ]),
  )

let nonce = 1n
async function submitMessage(account: Address, overrides: Partial<GatewaySubmit> = {}): Promise<GatewaySubmit> {
  // A fresh input each time, so every job here is told apart by its input.
  const { modelHash, inputHash } = await uploadRunnableJob(stack.serverUrl, alice, 4, 100 + Number(nonce))
  const { timestamp } = await client().getBlock()
  return {
    account,
    nonce: nonce++,
    modelHash,
    inputHash,
    units: 4n,
    maxPricePerUnit: parseEther('0.01'),
    minVramMiB: 0,
    gpuModel: 0,
    regions: [],
    redundancy: 2,
    verification: 0,
    deadline: timestamp + 600n,
    outputTolerance: 16,
    ...overrides,
  }
}

const post = async (mutation: 'gatewaySubmit' | 'gatewayCancel' | 'gatewayWithdraw', request: Record<string, unknown>, signature: Hex) => {
  const input = { gatewaySubmit: 'GatewaySubmitInput', gatewayCancel: 'GatewayCancelInput', gatewayWithdraw: 'GatewayWithdrawInput' }[
    mutation
  ]
  return gql<Record<string, Request>>(
    stack.graphqlUrl,
    `mutation($r: ${input}!, $s: String!) { ${mutation}(request: $r, signature: $s) { ${requestFields} } }`,
    { r: asInput(request), s: signature },
  )
}

const submit = async (key: Hex, message: GatewaySubmit) => post('gatewaySubmit', message, await sign(key, 'Submit', message))

const rejection = (response: Awaited<ReturnType<typeof post>>) => {
  expect(response.data?.gatewaySubmit ?? response.data?.gatewayWithdraw ?? response.data?.gatewayCancel ?? null).toBeNull()
  expect(response.errors?.[0]?.extensions?.code).toBe('GATEWAY_REJECTED')
  return response.errors?.[0]?.message ?? ''
}

const done = (id: string, what = `request ${id} settled`) =>
  waitFor(
    what,
    async () => {
      const { gatewayRequest: r } = await gqlData<{ gatewayRequest: Request }>(
        stack.graphqlUrl,
        `query($id: ID!) { gatewayRequest(id: $id) { ${requestFields} } }`,
        {
          id,
        },
      )
      return r.status === 'DONE' || r.status === 'FAILED' ? r : undefined
    },
    { timeoutMs: 90_000 },
  )

type Account = { deposited: string; refunded: string; held: string; withdrawn: string; balance: string; requests: Request[] }
async function account(key: Hex): Promise<Account> {
  const who = privateKeyToAccount(key).address
  const expiresAt = BigInt(Math.floor(Date.now() / 1000) + 300)
  const signature = await sign(key, 'Read', { account: who, expiresAt })
  const data = await gqlData<{ gatewayAccount: Account }>(
    stack.graphqlUrl,
    `query($a: Address!, $e: BigInt!, $s: String!) { gatewayAccount(account: $a, expiresAt: $e, signature: $s) {
      deposited refunded held withdrawn balance requests(first: 100) { ${requestFields} } } }`,
    { a: who, e: expiresAt.toString(), s: signature },
  )
  return data.gatewayAccount
}

const gateway = () => stack.deployment.matcher
const read = (address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[]) =>
  client().readContract({ address, abi: abi as never, functionName, args } as never) as Promise<bigint>

/** The key's TSR and JobMarket credit less what the gateway owes its accounts (read from the server's own tables). */
async function equity(): Promise<bigint> {
  const { TesseraToken: token, JobMarket: market } = stack.deployment.contracts
  const [held, owed] = await Promise.all([
    read(token.address, tesseraTokenAbi, 'balanceOf', [gateway()]),
    read(market.address, jobMarketAbi, 'owed', [gateway()]),
  ])
  let owedToAccounts = 0n
  for (const key of [devKeys[5], devKeys[6]]) {
    const a = await account(key)
    // What the account may still spend, plus what its waiting requests are about to spend from the key.
    owedToAccounts +=
      BigInt(a.balance) +
      a.requests.filter((r) => r.status === 'QUEUED' || r.status === 'SENDING').reduce((s, r) => s + BigInt(r.amount), 0n)
  }
  return held + owed - owedToAccounts
}

/** Waits until the equity is back to `expected` (the index catches up with the chain within seconds). */
const equityIs = (expected: bigint, step: string) =>
  waitFor(`equity unchanged after ${step}`, async () => ((await equity()) === expected ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 1000,
  })

async function deposit(key: Hex, amount: bigint) {
  const wallet = createWalletClient({ account: privateKeyToAccount(key), chain: foundry, transport: http(stack.rpcUrl) })
  const hash = await wallet.writeContract({
    address: stack.deployment.contracts.TesseraToken.address,
    abi: tesseraTokenAbi,
    functionName: 'transfer',
    args: [gateway(), amount],
  })
  await client().waitForTransactionReceipt({ hash })
}

test('gateway jobs and challenge jobs share one requester: the key that holds ISSUER_ROLE', async () => {
  const { gatewayAddress } = await gqlData<{ gatewayAddress: Address }>(stack.graphqlUrl, '{ gatewayAddress }')
  expect(gatewayAddress.toLowerCase()).toBe(privateKeyToAccount(serverKey).address.toLowerCase())
  const ledger = stack.deployment.contracts.ChallengeLedger.address
  const role = keccak256(toBytes('ISSUER_ROLE'))
  expect(
    await client().readContract({ address: ledger, abi: challengeLedgerAbi, functionName: 'hasRole', args: [role, gatewayAddress] }),
  ).toBe(true)
})

test('requests are refused by name and nothing is stored: no balance, a forged signature, a bad field, an expired read', async () => {
  const start = await equity()
  const broke = await submitMessage(alice.address)
  expect(rejection(await submit(devKeys[5], broke))).toMatch(/balance too low: .* has 0 wei at the gateway/)
  const forged = await submitMessage(alice.address)
  expect(rejection(await submit(devKeys[6], forged))).toMatch(new RegExp(`signature is not ${alice.address}'s EIP-712 Submit`))
  const oneRun = await submitMessage(alice.address, { redundancy: 1 })
  expect(rejection(await submit(devKeys[5], oneRun))).toMatch(/redundancy must be 2 to 16 for a Redundant job, got 1/)
  const late = await submitMessage(alice.address, { deadline: 1n })
  expect(rejection(await submit(devKeys[5], late))).toMatch(/deadline 1 must be at least 60 s after the chain's time/)
  const missing = { ...(await submitMessage(alice.address)), inputHash: `0x${'ab'.repeat(32)}` as Hex }
  expect(rejection(await submit(devKeys[5], missing))).toMatch(/the job can't run: input blob 0xabab.* not found/)
  // Values at their types' maximum: an escrow past uint256 is named as such; a nonce past uint64 too.
  const dearest = await submitMessage(alice.address, { maxPricePerUnit: maxUint256, units: 4n })
  expect(rejection(await submit(devKeys[5], dearest))).toMatch(/maxPricePerUnit × units × 2 overflows the escrow/)
  // viem won't sign it, so it comes with the signature of another request: the range is checked first.
  const inRange = await submitMessage(alice.address)
  const outOfRange = { ...inRange, nonce: 1n << 64n }
  expect(rejection(await post('gatewaySubmit', outOfRange, await sign(devKeys[5], 'Submit', inRange)))).toMatch(
    /nonce must be a uint64, got 18446744073709551616/,
  )
  const past = BigInt(Math.floor(Date.now() / 1000) - 1)
  const expired = await gql(
    stack.graphqlUrl,
    'query($a: Address!, $e: BigInt!, $s: String!) { gatewayAccount(account: $a, expiresAt: $e, signature: $s) { balance } }',
    {
      a: alice.address,
      e: past.toString(),
      s: await sign(devKeys[5], 'Read', { account: alice.address, expiresAt: past }),
    },
  )
  expect(expired.errors?.[0]?.message).toMatch(/the signed read expired/)
  expect((await account(devKeys[5])).requests).toEqual([])
  expect(await equity()).toBe(start)
})

test('a deposit funds gateway jobs that complete from the key; the escrow is held, the unused part refunded, a replay refused', async () => {
  const start = await equity()
  const amount = parseEther('10')
  await deposit(devKeys[5], amount)
  await waitFor('the deposit counted', async () => ((await account(devKeys[5])).balance === amount.toString() ? true : undefined))
  await equityIs(start, 'a deposit')

  const message = await submitMessage(alice.address)
  const signature = await sign(devKeys[5], 'Submit', message)
  const accepted = (await post('gatewaySubmit', message, signature)).data?.gatewaySubmit
  const escrow = escrowOf(message, stack.deployment.params.market)
  expect(accepted).toMatchObject({ kind: 'SUBMIT', amount: escrow.toString() })
  expect(rejection(await post('gatewaySubmit', message, signature))).toMatch(new RegExp(`nonce ${message.nonce} was already used`))

  const sent = await done(accepted?.id ?? '')
  expect(sent).toMatchObject({ status: 'DONE' })
  const jobId = BigInt(sent.jobId ?? -1)
  const job = (await read(stack.deployment.contracts.JobMarket.address, jobMarketAbi, 'getJob', [jobId])) as unknown as {
    requester: Address
  }
  expect(job.requester.toLowerCase()).toBe(gateway().toLowerCase())

  type JobView = { job: { status: string; requester: Address; payments: { kind: string; amount: string }[] } }
  const completed = await waitFor('the gateway job completed and refunded', async () => {
    const { job } = await gqlData<JobView>(
      stack.graphqlUrl,
      'query($id: BigInt!) { job(id: $id) { status requester payments { kind amount } } }',
      {
        id: jobId.toString(),
      },
    )
    return job?.status === 'COMPLETED' && job.payments.some((p) => p.kind === 'REFUND') ? job : undefined
  })
  const refund = completed.payments.filter((p) => p.kind === 'REFUND').reduce((s, p) => s + BigInt(p.amount), 0n)
  expect(refund > 0n && refund < escrow).toBe(true)
  const after = await waitFor('the refund counted', async () => {
    const a = await account(devKeys[5])
    return a.refunded === refund.toString() ? a : undefined
  })
  expect(BigInt(after.balance)).toBe(amount - escrow + refund)
  await equityIs(start, 'a completed gateway job')
}, 180_000)

test("two withdrawals racing for one balance: one is paid, the other refused; a cancel of another's job is refused; a cancel refunds", async () => {
  const start = await equity()
  // An open job nobody can take (no provider has 1 TiB of VRAM), to cancel.
  const waiting = await submitMessage(alice.address, { minVramMiB: 1 << 20 })
  const queued = (await submit(devKeys[5], waiting)).data?.gatewaySubmit
  const sent = await done(queued?.id ?? '')
  const jobId = BigInt(sent.jobId ?? -1)
  await waitFor('the open job indexed', async () => {
    const { job } = await gqlData<{ job: { status: string } | null }>(stack.graphqlUrl, 'query($id: BigInt!) { job(id: $id) { status } }', {
      id: jobId.toString(),
    })
    return job?.status === 'OPEN' ? true : undefined
  })
  const bobCancel = { account: bob.address, nonce: nonce++, jobId }
  expect(rejection(await post('gatewayCancel', bobCancel, await sign(devKeys[6], 'Cancel', bobCancel)))).toMatch(
    new RegExp(`job ${jobId} was not submitted by ${bob.address} through the gateway`),
  )
  const cancel = { account: alice.address, nonce: nonce++, jobId }
  const refundedBefore = BigInt((await account(devKeys[5])).refunded)
  const cancelled = await done(
    (await post('gatewayCancel', cancel, await sign(devKeys[5], 'Cancel', cancel))).data?.gatewayCancel?.id ?? '',
  )
  expect(cancelled).toMatchObject({ status: 'DONE', kind: 'CANCEL' })
  // The whole escrow comes back: nobody ran the job.
  const escrow = escrowOf(waiting, stack.deployment.params.market)
  const refunded = await waitFor('the cancel refunded', async () => {
    const a = await account(devKeys[5])
    return BigInt(a.refunded) === refundedBefore + escrow ? a : undefined
  })
  await equityIs(start, 'a cancel')

  const balance = BigInt(refunded.balance)
  const share = (balance * 6n) / 10n
  const withdrawals = [
    { account: alice.address, nonce: nonce++, amount: share },
    { account: alice.address, nonce: nonce++, amount: share },
  ]
  const answers = await Promise.all(withdrawals.map(async (w) => post('gatewayWithdraw', w, await sign(devKeys[5], 'Withdraw', w))))
  const paid = answers.filter((a) => a.data?.gatewayWithdraw)
  expect(paid).toHaveLength(1)
  expect(rejection(answers.find((a) => a.errors) ?? answers[0])).toMatch(/balance too low/)
  const before = await read(stack.deployment.contracts.TesseraToken.address, tesseraTokenAbi, 'balanceOf', [alice.address])
  const withdrawn = await done(paid[0].data?.gatewayWithdraw.id ?? '')
  expect(withdrawn.status).toBe('DONE')
  expect(await read(stack.deployment.contracts.TesseraToken.address, tesseraTokenAbi, 'balanceOf', [alice.address])).toBe(before + share)
  expect(BigInt((await account(devKeys[5])).balance)).toBe(balance - share)
  await equityIs(start, 'a withdrawal')
}, 180_000)

test('a leader that dies with requests in flight: each settles once, by its hash or by its effect, none sent twice', async () => {
  await deposit(devKeys[6], parseEther('10'))
  await waitFor('the deposit counted', async () => (BigInt((await account(devKeys[6])).balance) > 0n ? true : undefined))
  const start = await equity()

  // Requests a leader left SENDING when it died, as it would have left them.
  const wallet = createWalletClient({ account: privateKeyToAccount(serverKey), chain: foundry, transport: http(stack.rpcUrl) })
  const sendFromKey = async (message: GatewaySubmit) => {
    const { nonce: _n, account: _a, ...spec } = message
    const address = stack.deployment.contracts.JobMarket.address
    const receipt = await client().waitForTransactionReceipt({
      hash: await wallet.writeContract({ address, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] }),
    })
    expect(receipt.status).toBe('success')
    return receipt
  }
  const insert = async (message: GatewaySubmit, id: string, row: { updatedAt: Date; txHash?: Hex }) =>
    app
      .insertInto('app.gateway_request' as never)
      .values({
        id,
        account: bob.address.toLowerCase(),
        nonce: message.nonce.toString(),
        kind: 'SUBMIT',
        payload: JSON.stringify(message, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
        signature: await sign(devKeys[6], 'Submit', message),
        amount: escrowOf(message, stack.deployment.params.market).toString(),
        status: 'SENDING',
        tx_hash: row.txHash ?? null,
        updated_at: row.updatedAt,
      } as never)
      .execute()
  // Sent and its hash stored, then the leader died before the receipt: settled by its receipt.
  const hashed = await submitMessage(bob.address)
  const hashedReceipt = await sendFromKey(hashed)
  await insert(hashed, 'gw_hashed', { updatedAt: new Date(), txHash: hashedReceipt.transactionHash })
  // Sent, and the leader died before storing the hash: found by its job, not sent again.
  const landed = await submitMessage(bob.address)
  const receipt = await sendFromKey(landed)
  await insert(landed, 'gw_landed', { updatedAt: new Date() })
  // Marked SENDING long ago by a leader that died before sending: queued again and sent once.
  const lost = await submitMessage(bob.address)
  await insert(lost, 'gw_lost', { updatedAt: new Date(Date.now() - 120_000) })
  // And a few in the queue as the leader stops.
  const queued: string[] = []
  for (let i = 0; i < 3; i++) queued.push((await submit(devKeys[6], await submitMessage(bob.address))).data?.gatewaySubmit.id ?? '')
  await stack.restartServer()

  const settled = await Promise.all(
    ['gw_hashed', 'gw_landed', 'gw_lost', ...queued].map((id) => done(id, `${id} settled after the restart`)),
  )
  expect(settled.map((r) => r.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE', 'DONE', 'DONE'])
  const jobIds = settled.map((r) => r.jobId)
  expect(new Set(jobIds).size).toBe(6)
  const jobOf = async (block: bigint) =>
    (
      await client().getContractEvents({
        address: stack.deployment.contracts.JobMarket.address,
        abi: jobMarketAbi,
        eventName: 'JobSubmitted',
        fromBlock: block,
        toBlock: block,
      })
    )[0]?.args.jobId?.toString()
  expect(jobIds.slice(0, 2)).toEqual([await jobOf(hashedReceipt.blockNumber), await jobOf(receipt.blockNumber)])
  // Every gateway job of these inputs exists once on chain.
  const submitted = await client().getContractEvents({
    address: stack.deployment.contracts.JobMarket.address,
    abi: jobMarketAbi,
    eventName: 'JobSubmitted',
    fromBlock: hashedReceipt.blockNumber,
  })
  for (const message of [hashed, landed, lost])
    expect(submitted.filter((e) => e.args.spec?.inputHash === message.inputHash)).toHaveLength(1)
  // The landed job was the request's own, sent before the crash: bob paid for it once, and the key's equity is whole.
  await equityIs(start, 'the restart')
}, 240_000)

test("the client library: a withdrawal of the whole balance is paid; more, or a cancel of another's job, is refused by name", async () => {
  const parameters = { serverUrl: stack.serverUrl, deployment: stack.deployment, privateKey: devKeys[6] }
  // Every job of bob's finished and its refund of the unused price indexed, so no refund lands after the balance is read.
  await waitFor(
    "bob's jobs completed and refunded",
    async () => {
      const { requests } = await readGatewayAccount(parameters)
      for (const r of requests) {
        if (r.status !== 'DONE' && r.status !== 'FAILED') return undefined
        if (r.kind !== 'SUBMIT' || r.jobId === null) continue
        const { job } = await gqlData<{ job: { status: string; payments: { kind: string }[] } | null }>(
          stack.graphqlUrl,
          'query($id: BigInt!) { job(id: $id) { status payments { kind } } }',
          { id: r.jobId.toString() },
        )
        if (job?.status !== 'COMPLETED' || !job.payments.some((p) => p.kind === 'REFUND')) return undefined
      }
      return true
    },
    { timeoutMs: 90_000 },
  )
  const { balance } = await readGatewayAccount(parameters)
  expect(balance > 0n).toBe(true)
  const request = await withdrawFromGateway({ ...parameters, amount: balance })
  expect(await waitForGatewayRequest({ serverUrl: stack.serverUrl, id: request.id })).toMatchObject({ status: 'DONE', amount: balance })
  expect((await readGatewayAccount(parameters)).balance).toBe(0n)
  await expect(withdrawFromGateway({ ...parameters, amount: 1n })).rejects.toThrow(GatewayRejectedError)
  await expect(withdrawFromGateway({ ...parameters, amount: 1n })).rejects.toThrow(/refused the withdrawal of 1 TSR wei: balance too low/)
  await expect(cancelViaGateway({ ...parameters, jobId: 1n })).rejects.toThrow(/job 1 was not submitted by .* through the gateway/)
}, 120_000)
