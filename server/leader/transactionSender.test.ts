import pino from 'pino'
import {
  type Account,
  type Address,
  type Chain,
  createWalletClient,
  decodeFunctionData,
  encodeFunctionData,
  type Hash,
  http,
  maxUint256,
  type Transport,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, test } from 'vitest'
import { jobBatcherAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { fund, registerProvider, sampleJobSpec, useTestSystem } from '../../devnet/testSystem.ts'
import { JobStatus } from '../../protocol/enums.ts'
import { TSR } from '../../protocol/units.ts'
import { jobMarketOf, labelledResult, marketEvents, runMarketRound } from '../../test/support/market.ts'
import { batchRequests } from './batches.ts'
import { createTransactionSender, type TransactionRequest } from './transactionSender.ts'

const system = useTestSystem()
// The sender's account: the matcher's key, holding a little TSR so token transfers can stand in for market calls.
const account = privateKeyToAccount(devKeys[1])
const [bob, carol]: Address[] = ['0x000000000000000000000000000000000000b0b0', '0x00000000000000000000000000000000000ca201']

beforeAll(async () => {
  await system.write(system.accounts.deployer, {
    address: system.token,
    abi: tesseraTokenAbi,
    functionName: 'transfer',
    args: [account.address, 100n * TSR],
  })
})

/** A sender from the matcher's account, with silent logs; it reconciles only when a test says so. */
function newSender(
  options: { confirmations?: number; droppedAfterMs?: number; oneRunGasMargin?: { numerator: bigint; denominator: bigint } } = {},
) {
  const walletClient = createWalletClient({ chain: system.chain, transport: http(system.rpcUrl), account }) as WalletClient<
    Transport,
    Chain,
    Account
  >
  return createTransactionSender<string>({
    publicClient: system.publicClient as never,
    walletClient,
    log: pino({ level: 'silent' }),
    reconcileIntervalMs: 60_000,
    ...options,
  })
}

/** A token call from the sender's account under `key` (its meta is the key). */
const call = (key: string, functionName: 'transfer' | 'transferFrom', args: readonly unknown[]) => ({
  key,
  action: functionName,
  address: system.token,
  abi: tesseraTokenAbi,
  functionName,
  args,
  meta: key,
})
const transfer = (key: string, to: Address, amount: bigint) => call(key, 'transfer', [to, amount])

const balanceOf = (who: Address) =>
  system.publicClient.readContract({ address: system.token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [who] })
const nonces = async () => ({
  latest: await system.publicClient.getTransactionCount({ address: account.address, blockTag: 'latest' }),
  pending: await system.publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' }),
})
const receiptOf = (hash: Hash) => system.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
/** The receipt once mined: anvil's automine may answer the send a moment before the block is there. */
const mined = (hash: Hash | undefined) => system.publicClient.waitForTransactionReceipt({ hash: hash as Hash, timeout: 10_000 })
const reorg = (depth: number) => system.testClient.request({ method: 'anvil_reorg', params: [depth, []] } as never)

/** JobBatcher's `finalizeMany` of `ids`, each call under the key `<prefix>:<jobId>` (its meta: the keys). */
const finalizeMany = (ids: bigint[], prefix = 'finalize') =>
  batchRequests<string>({
    batcher: system.deployment.contracts.JobBatcher.address,
    action: 'finalize',
    calls: ids.map((jobId) => ({ key: `${prefix}:${jobId}`, jobId })),
    size: 64,
    metaOf: (calls) => calls.map((c) => c.key).join(','),
  })[0] as TransactionRequest<string>

describe('createTransactionSender', () => {
  test('one transaction in flight per key until its effect is settled', async () => {
    const sender = newSender()
    const first = await sender.send(transfer('assign:1', bob, 1n))
    expect(first).toBeDefined()
    expect(await sender.send(transfer('assign:1', bob, 1n))).toBeUndefined()
    const second = await sender.send(transfer('assign:2', bob, 1n))
    expect(second).toBeDefined()
    expect(sender.inFlightMeta().sort()).toEqual(['assign:1', 'assign:2'])
    await Promise.all([mined(first), mined(second)])
    await sender.reconcile() // sees both mined
    // Mined but not yet indexed: still blocked, until the caller says the effect is visible.
    sender.settle(() => true)
    expect(sender.inFlight('assign:1')).toBe(true)
    sender.settle((key) => key !== 'assign:1')
    expect(sender.inFlight('assign:1')).toBe(false)
    await mined(await sender.send(transfer('assign:1', bob, 1n)))
    expect(await balanceOf(bob)).toBe(3n)
  })

  test('a failed simulation sends nothing and backs off', async () => {
    const sender = newSender()
    const before = await nonces()
    expect(await sender.send(transfer('assign:9', bob, 1000n * TSR))).toBeUndefined()
    expect(await nonces()).toEqual(before)
    expect(sender.inFlight('assign:9')).toBe(true) // backing off
    expect(await sender.send(transfer('assign:9', bob, 1n))).toBeUndefined()
  })

  test('a transaction that reverts on chain frees its key after a back-off', async () => {
    const sender = newSender()
    const all = await balanceOf(account.address)
    await system.testClient.setAutomine(false)
    try {
      // Both simulate against the same state; mined in order, the second finds the balance gone.
      await sender.send(transfer('finalize:1', bob, all))
      await sender.send(transfer('finalize:2', carol, all))
      await system.testClient.mine({ blocks: 1 })
    } finally {
      await system.testClient.setAutomine(true)
    }
    await sender.reconcile()
    expect(sender.inFlightMeta()).toEqual(['finalize:1'])
    expect(sender.inFlight('finalize:2')).toBe(true) // backing off
  })

  test('a reorg that drops its transactions: they are re-sent, and later sends are not queued behind a gap', async () => {
    const sender = newSender()
    const start = await nonces()
    const hashes: (Hash | undefined)[] = []
    for (const [i, to] of [bob, carol, bob].entries()) hashes.push(await sender.send(transfer(`assign:${i}`, to, 10n)))
    await Promise.all(hashes.map(mined))
    await sender.reconcile()
    expect(sender.unconfirmed()).toBe(3)
    await reorg(3)
    expect((await nonces()).latest).toBe(start.latest)
    for (const hash of hashes) expect(await receiptOf(hash as Hash)).toBeUndefined()
    // The next send notices the chain is behind, re-sends the three first, then goes out at the nonce after them.
    const next = await sender.send(transfer('assign:3', carol, 1n))
    expect(next).toBeDefined()
    expect(await mined(next)).toMatchObject({ status: 'success' })
    expect(await nonces()).toEqual({ latest: start.latest + 4, pending: start.latest + 4 })
    expect([await balanceOf(bob), await balanceOf(carol)]).toEqual([20n, 11n])
    expect(sender.inFlightMeta().sort()).toEqual(['assign:0', 'assign:1', 'assign:2', 'assign:3'])
  })

  test('a vanished transaction that no longer applies is dropped and its key freed', async () => {
    const sender = newSender()
    const { deployer } = system.accounts
    const approve = (amount: bigint) =>
      system.write(deployer, { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [account.address, amount] })
    await approve(5n)
    const start = await nonces()
    const hash = await sender.send(call('expire:7', 'transferFrom', [deployer.address, bob, 5n]))
    await mined(hash)
    await sender.reconcile()
    await reorg(1)
    expect(await receiptOf(hash as Hash)).toBeUndefined()
    await approve(0n) // the job moved on: the call would revert now
    await sender.reconcile()
    expect(sender.inFlightMeta()).toEqual([])
    expect(sender.unconfirmed()).toBe(0)
    expect(await nonces()).toEqual(start)
    expect(await balanceOf(bob)).toBe(0n)
    // Its nonce is free for the next send.
    expect(await mined(await sender.send(transfer('assign:8', bob, 1n)))).toMatchObject({ status: 'success' })
    expect(await nonces()).toEqual({ latest: start.latest + 1, pending: start.latest + 1 })
  })

  test('a nonce gap under a queued transaction is filled when what held it no longer applies', async () => {
    const sender = newSender({ droppedAfterMs: 200 })
    const { deployer } = system.accounts
    const approve = (amount: bigint) =>
      system.write(deployer, { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [account.address, amount] })
    await approve(5n)
    const start = await nonces()
    // The node loses the first transaction before it was ever seen: the next one, given time for the node to show
    // the first (a load-balanced RPC may lag), goes out above it and queues.
    await system.testClient.setAutomine(false)
    try {
      const lost = await sender.send(call('expire:1', 'transferFrom', [deployer.address, bob, 5n]))
      await system.testClient.dropTransaction({ hash: lost as Hash })
    } finally {
      await system.testClient.setAutomine(true)
    }
    await approve(0n)
    const queued = await sender.send(transfer('assign:2', carol, 1n))
    expect(await nonces()).toEqual(start)
    expect(await receiptOf(queued as Hash)).toBeUndefined()
    await new Promise((r) => setTimeout(r, 250))
    await sender.reconcile() // the first counts as dropped; it no longer applies, so an empty transaction takes its nonce
    expect(await mined(queued)).toMatchObject({ status: 'success' })
    expect(await nonces()).toEqual({ latest: start.latest + 2, pending: start.latest + 2 })
    expect([await balanceOf(bob), await balanceOf(carol)]).toEqual([0n, 1n])
    expect(sender.inFlightMeta()).toEqual(['assign:2'])
  })

  test('watches a transaction until it is confirmations deep', async () => {
    const sender = newSender({ confirmations: 3 })
    await mined(await sender.send(transfer('assign:1', bob, 1n)))
    await sender.reconcile()
    expect(sender.unconfirmed()).toBe(1)
    await system.testClient.mine({ blocks: 2 })
    await sender.reconcile()
    expect(sender.unconfirmed()).toBe(0)
  })

  test('a batch sends only the calls its simulation passes; a call that reverts on chain frees its key alone', async () => {
    const jobs = await batchableJobs()
    const sender = newSender()
    // Revealed, still committing, unknown: only the first goes out; the others back off, sending nothing.
    const hash = await sender.send(finalizeMany([jobs.revealed[0], jobs.committed, 999n]))
    const receipt = await mined(hash)
    const { input } = await system.publicClient.getTransaction({ hash: receipt.transactionHash })
    expect(decodeFunctionData({ abi: jobBatcherAbi, data: input }).args).toEqual([[jobs.revealed[0]]])
    await sender.reconcile()
    expect([`finalize:${jobs.revealed[0]}`, `finalize:${jobs.committed}`, 'finalize:999'].map(sender.inFlight)).toEqual([true, true, true])
    expect(sender.inFlightMeta()).toEqual([`finalize:${jobs.revealed[0]},finalize:${jobs.committed},finalize:999`])
    sender.settle(() => false)
    expect(sender.inFlightMeta()).toEqual([])

    // Two batches simulated against the same state, mined in one block: the second's call finds its job settled.
    const [second, third] = [jobs.revealed[1], jobs.revealed[2]]
    await system.testClient.setAutomine(false)
    try {
      await sender.send(finalizeMany([second]))
      await sender.send(finalizeMany([second, third], 'again'))
      await system.testClient.mine({ blocks: 1 })
    } finally {
      await system.testClient.setAutomine(true)
    }
    await sender.reconcile()
    expect(sender.inFlightMeta().sort()).toEqual([`again:${second},again:${third}`, `finalize:${second}`])
    // Settled, the calls that were mined are free at once; the stale one, which reverted inside its batch, backs off.
    sender.settle(() => false)
    expect([`finalize:${second}`, `again:${third}`, `again:${second}`].map(sender.inFlight)).toEqual([false, false, true])
    expect(await Promise.all([second, third].map(async (id) => (await market.read<{ status: number }>('getJob', [id])).status))).toEqual([
      JobStatus.Completed,
      JobStatus.Completed,
    ])
  })

  test('a batch goes with half again the gas one run of it used; one that runs out of that frees its calls, and batches are estimated from then on', async () => {
    const jobs = await batchableJobs()
    const oneRun = async (request: TransactionRequest<string>) =>
      (
        await system.publicClient.createAccessList({
          account: account.address,
          to: request.address,
          data: encodeFunctionData({ abi: request.abi, functionName: request.functionName, args: request.args }),
        })
      ).gasUsed
    const gasLimitOf = async (hash: Hash | undefined) => (await system.publicClient.getTransaction({ hash: hash as Hash })).gas

    const [first, second, third] = jobs.revealed as [bigint, bigint, bigint]
    const request = finalizeMany([first], 'finalize')
    const used = await oneRun(request)
    const sent = await newSender().send(request)
    const done = await mined(sent)
    expect(done.status).toBe('success')
    // Half again over one run (the run's figure, read a block earlier, within a few hundred gas of the sender's own),
    // which the access list makes a little cheaper than the transaction: still well over what it used.
    const limit = await gasLimitOf(sent)
    expect(Number(limit) / Number((used * 3n) / 2n)).toBeCloseTo(1, 1)
    expect(Number(limit) / Number(done.gasUsed)).toBeGreaterThan(1.4)

    // A sender whose margin leaves the batch short: its gas burnt, the job untouched, its key freed after the back-off.
    const short = newSender({ oneRunGasMargin: { numerator: 1n, denominator: 2n } })
    const starved = await short.send(finalizeMany([second], 'short'))
    const receipt = await mined(starved)
    expect(receipt.status).toBe('reverted')
    // Burnt but the 1/64 the batcher kept back to revert with BatchOutOfGas.
    expect(Number(receipt.gasUsed) / Number(await gasLimitOf(starved))).toBeGreaterThan(0.95)
    expect((await market.read<{ status: number }>('getJob', [second])).status).toBe(JobStatus.Revealed)
    await short.reconcile()
    // Estimated now, whatever its margin: the next batch goes through and settles both jobs.
    const estimated = await short.send(finalizeMany([second, third], 'estimated'))
    expect((await mined(estimated)).status).toBe('success')
    expect(await gasLimitOf(estimated)).toBeGreaterThan((await mined(estimated)).gasUsed)
    for (const id of [second, third]) expect((await market.read<{ status: number }>('getJob', [id])).status).toBe(JobStatus.Completed)
  })
})

const market = jobMarketOf(system)

/**
 * Jobs of two providers: three revealed (finalizable: their results differ, so the last reveal left them to `finalize`,
 * and the proof window has passed) and one committed but not revealed.
 */
async function batchableJobs(): Promise<{ revealed: bigint[]; committed: bigint }> {
  const [p0, p1] = system.accounts.providers
  const [requester] = system.accounts.requesters
  for (const p of [p0, p1]) await registerProvider(system, p)
  await fund(system, requester.address, 100n * TSR)
  await system.write(requester, { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [system.market, maxUint256] })
  const ids: bigint[] = []
  for (let i = 0; i < 4; i++) {
    const receipt = await market.write(requester, 'submitJob', [await sampleJobSpec(system)])
    ids.push(marketEvents(receipt, 'JobSubmitted')[0]?.args.jobId as bigint)
  }
  const [a, b, c, committed] = ids as [bigint, bigint, bigint, bigint]
  for (const id of [a, b, c]) await runMarketRound(system, id, [p0, p1], [labelledResult('x'), labelledResult('x other')])
  await system.increaseTime(system.deployment.params.market.proofWindow + 1n)
  await runMarketRound(system, committed, [p0, p1], [undefined, undefined])
  return { revealed: [a, b, c], committed }
}
