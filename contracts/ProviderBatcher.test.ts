import pino from 'pino'
import {
  createWalletClient,
  encodeFunctionData,
  type Hex,
  http,
  keccak256,
  maxUint256,
  type PrivateKeyAccount,
  type PublicClient,
  parseEventLogs,
  toHex,
} from 'viem'
import { beforeAll, describe, expect, test } from 'vitest'
import { delegateToBatcher } from '../agent/marketCalls.ts'
import { expectRevert, fund, registerProvider, sampleInputHash, useTestSystem } from '../devnet/testSystem.ts'
import { JobStatus, slotOutcomes } from '../protocol/enums.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { TSR } from '../protocol/units.ts'
import { describeRevertData } from '../server/leader/batches.ts'
import { jobMarketOf, labelledResult, marketEvents, submitAndAssignJobs } from '../test/support/market.ts'
import { jobMarketAbi, providerBatcherAbi, tesseraTokenAbi } from './generated/index.ts'

// ProviderBatcher: a provider's account delegated to it (EIP-7702) commits and reveals many jobs in one transaction
// sent to itself, JobMarket seeing the provider as the sender of each; a stale call is reported and skipped, never
// undoing the rest; short of gas the whole batch reverts; and no one but the account can make it call anything.

const sys = useTestSystem()
const market = jobMarketOf(sys)
let requester: PrivateKeyAccount
let stranger: PrivateKeyAccount
const batcher = () => sys.deployment.contracts.ProviderBatcher.address
const log = pino({ level: 'silent' })
const walletOf = (account: PrivateKeyAccount) => createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account })
const salt = (jobId: bigint, provider: Hex) => keccak256(toHex(`salt:${jobId}:${provider}`))

const commitCall = (jobId: bigint, provider: PrivateKeyAccount, label: string) =>
  encodeFunctionData({
    abi: jobMarketAbi,
    functionName: 'commitResult',
    // Every job here is of the sample spec (submitAndAssignJobs).
    args: [
      jobId,
      sampleInputHash,
      commitmentOf({ jobId, provider: provider.address, ...labelledResult(label), salt: salt(jobId, provider.address) }),
    ],
  })
const revealCall = (jobId: bigint, provider: PrivateKeyAccount, label: string) => {
  const { fingerprint, outputHash } = labelledResult(label)
  return encodeFunctionData({
    abi: jobMarketAbi,
    functionName: 'revealResult',
    args: [jobId, fingerprint, outputHash, salt(jobId, provider.address)],
  })
}
/** `from` sends `callMany(calls)` to `to` (its own address, for a batch). */
const callMany = (from: PrivateKeyAccount, calls: Hex[], to = from.address) =>
  sys.write(from, { address: to, abi: providerBatcherAbi, functionName: 'callMany', args: [calls] })
const simulate = async (from: PrivateKeyAccount, calls: Hex[]) =>
  (
    await sys.publicClient.simulateContract({
      account: from,
      address: from.address,
      abi: providerBatcherAbi,
      functionName: 'callMany',
      args: [calls],
    })
  ).result

beforeAll(async () => {
  ;[requester, stranger] = sys.accounts.requesters
  for (const p of sys.accounts.providers) await registerProvider(sys, p)
  for (const p of sys.accounts.providers.slice(0, 2))
    expect(
      await delegateToBatcher({
        publicClient: sys.publicClient as PublicClient,
        walletClient: walletOf(p),
        account: p,
        batcher: batcher(),
        log,
      }),
    ).toBe(true)
  await fund(sys, requester.address, 10_000n * TSR)
  await sys.write(requester, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
})

const assignedJobs = (count: number, who: readonly PrivateKeyAccount[]) => submitAndAssignJobs(sys, requester, count, who)
const statusOf = async (jobId: bigint) => (await market.read<{ status: number }>('getJob', [jobId])).status

describe('ProviderBatcher', () => {
  test('delegating is done once: the account runs the batcher’s code, and asking again sends nothing', async () => {
    const [p0] = sys.accounts.providers
    expect((await sys.publicClient.getCode({ address: p0.address }))?.toLowerCase()).toBe(`0xef0100${batcher().slice(2).toLowerCase()}`)
    const nonce = await sys.publicClient.getTransactionCount({ address: p0.address })
    expect(
      await delegateToBatcher({
        publicClient: sys.publicClient as PublicClient,
        walletClient: walletOf(p0),
        account: p0,
        batcher: batcher(),
        log,
      }),
    ).toBe(true)
    expect(await sys.publicClient.getTransactionCount({ address: p0.address })).toBe(nonce)
  })

  test('the delegated account still takes plain transfers: a top-up, and an empty transfer to itself', async () => {
    const [p0] = sys.accounts.providers
    const wallet = walletOf(p0)
    const before = await sys.publicClient.getBalance({ address: p0.address })
    const topUp = await walletOf(stranger).sendTransaction({ to: p0.address, value: 12345n })
    expect((await sys.publicClient.waitForTransactionReceipt({ hash: topUp })).status).toBe('success')
    expect(await sys.publicClient.getBalance({ address: p0.address })).toBe(before + 12345n)
    // An empty transfer to itself: what the agent sends in place of a transaction it withdraws from the pool.
    const empty = await wallet.sendTransaction({ to: p0.address, value: 0n, gas: 40_000n })
    expect((await sys.publicClient.waitForTransactionReceipt({ hash: empty })).status).toBe('success')
  })

  test('two providers commit and reveal several jobs a transaction each, as themselves, and the jobs complete', async () => {
    const [p0, p1] = sys.accounts.providers
    const jobs = await assignedJobs(3, [p0, p1])
    for (const p of [p0, p1]) {
      const receipt = await callMany(
        p,
        jobs.map((id) => commitCall(id, p, `out:${id}`)),
      )
      const committed = marketEvents(receipt, 'ResultCommitted')
      expect(committed.map((e) => [e.args.jobId, e.args.provider])).toEqual(jobs.map((id) => [id, p.address]))
    }
    expect(await Promise.all(jobs.map(statusOf))).toEqual(jobs.map(() => JobStatus.Committed))
    await callMany(
      p0,
      jobs.map((id) => revealCall(id, p0, `out:${id}`)),
    )
    // The second provider's reveals agree: each settles its job.
    const revealed = await callMany(
      p1,
      jobs.map((id) => revealCall(id, p1, `out:${id}`)),
    )
    expect(await Promise.all(jobs.map(statusOf))).toEqual(jobs.map(() => JobStatus.Completed))
    const settled = marketEvents(revealed, 'SlotSettled')
    expect(settled.map((e) => [e.args.jobId, e.args.provider, slotOutcomes[Number(e.args.outcome)]])).toEqual(
      jobs.flatMap((id) => [
        [id, p0.address, 'AGREED'],
        [id, p1.address, 'AGREED'],
      ]),
    )
  })

  test('a stale call is reported with JobMarket’s error and skipped; the calls around it go through', async () => {
    const [p0, p1, p2] = sys.accounts.providers
    const [a, b, c] = await assignedJobs(3, [p0, p1])
    // p0 already committed to b: its second commit is stale. And job c's slot is p1's, not the stranger p2's.
    await callMany(p0, [commitCall(b as bigint, p0, 'x')])
    const calls = [commitCall(a as bigint, p0, 'x'), commitCall(b as bigint, p0, 'y'), commitCall(c as bigint, p0, 'x')]
    const [ok, reasons] = await simulate(p0, calls)
    expect(ok).toEqual([true, false, true])
    expect(describeRevertData(reasons[1] ?? '0x')).toBe(`AlreadyCommitted(${b}, ${p0.address})`)
    const receipt = await callMany(p0, calls)
    const failed = parseEventLogs({ abi: providerBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })
    expect(failed.map((e) => [e.address.toLowerCase(), e.args.jobId, e.args.index])).toEqual([[p0.address.toLowerCase(), b, 1n]])
    expect(marketEvents(receipt, 'ResultCommitted').map((e) => e.args.jobId)).toEqual([a, c])
    // A provider not delegated can't batch at all: its account has no code to run.
    expect(await sys.publicClient.getCode({ address: p2.address })).toBeUndefined()
  })

  test('no one but the account itself may make it call: not a stranger, not through the batcher contract itself', async () => {
    const [p0, p1] = sys.accounts.providers
    const [a] = await assignedJobs(1, [p0, p1])
    // The stranger sends p0's batch to p0's address: JobMarket would see p0 commit, so the batcher refuses.
    expect(await expectRevert(callMany(stranger, [commitCall(a as bigint, p0, 'x')], p0.address), 'NotSelf')).toEqual([stranger.address])
    // The batcher's own address: the caller is not the contract.
    expect(await expectRevert(callMany(p0, [commitCall(a as bigint, p0, 'x')], batcher()), 'NotSelf')).toEqual([p0.address])
    expect(await statusOf(a as bigint)).toBe(JobStatus.Assigned)
    expect((await market.read<{ commitment: Hex }>('getSlot', [a, p0.address])).commitment).toBe(`0x${'00'.repeat(32)}`)
  })

  test('refuses a batch over MAX_BATCH and a call too short to name a job; an empty batch does nothing', async () => {
    const [p0] = sys.accounts.providers
    const many = Array.from({ length: 257 }, () => commitCall(1n, p0, 'x'))
    expect(await expectRevert(callMany(p0, many), 'BatchSize')).toEqual([257n, 256n])
    expect(await expectRevert(callMany(p0, [commitCall(1n, p0, 'x'), '0x12345678']), 'CallTooShort')).toEqual([1n])
    const receipt = await callMany(p0, [])
    expect(receipt.status).toBe('success')
    expect(receipt.logs).toEqual([])
  })

  test('short of gas the whole batch reverts, so an estimate never silently drops a commit', async () => {
    const [p0, p1] = sys.accounts.providers
    const jobs = await assignedJobs(4, [p0, p1])
    const calls = jobs.map((id) => commitCall(id, p0, 'x'))
    const estimate = await sys.publicClient.estimateContractGas({
      account: p0,
      address: p0.address,
      abi: providerBatcherAbi,
      functionName: 'callMany',
      args: [calls],
    })
    const wallet = walletOf(p0)
    for (let percent = 40n; percent < 100n; percent += 6n) {
      const snapshot = await sys.snapshot()
      const hash = await wallet.writeContract({
        address: p0.address,
        abi: providerBatcherAbi,
        functionName: 'callMany',
        args: [calls],
        gas: (estimate * percent) / 100n,
      })
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash })
      const commitments = await Promise.all(
        jobs.map(async (id) => (await market.read<{ commitment: Hex }>('getSlot', [id, p0.address])).commitment !== `0x${'00'.repeat(32)}`),
      )
      if (receipt.status === 'success') {
        expect(parseEventLogs({ abi: providerBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })).toEqual([])
        expect(commitments).toEqual(jobs.map(() => true))
      } else expect(commitments).toEqual(jobs.map(() => false))
      await sys.revert(snapshot)
    }
  })
})
