import { type Address, createWalletClient, http, maxUint256, type PrivateKeyAccount, parseEventLogs } from 'viem'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectRevert, fund, registerProvider, sampleJobSpec, useTestSystem } from '../devnet/testSystem.ts'
import { JobStatus } from '../protocol/enums.ts'
import { TSR } from '../protocol/units.ts'
import { describeRevertData } from '../server/leader/batches.ts'
import { jobMarketOf, labelledResult, marketEvents, runMarketRound } from '../test/support/market.ts'
import { jobBatcherAbi, jobMarketAbi, tesseraTokenAbi } from './generated/index.ts'

// JobBatcher: many assigns (the matcher's only) and finalizes/expiries (anyone's) per transaction, each call tried on
// its own, a stale one reported and skipped, never undoing the rest; short of gas, the whole batch reverts and nothing
// happens; the role JobMarket gave it is no use to anyone the batcher doesn't name.

const sys = useTestSystem()
const market = jobMarketOf(sys)
let requester: PrivateKeyAccount
let stranger: PrivateKeyAccount
const batcher = () => sys.deployment.contracts.JobBatcher.address
const batch = {
  simulate: async (from: PrivateKeyAccount, functionName: string, args: readonly unknown[]) =>
    (await sys.publicClient.simulateContract({ account: from, address: batcher(), abi: jobBatcherAbi, functionName, args } as never))
      .result as unknown as readonly [readonly boolean[], readonly `0x${string}`[]],
  write: (from: PrivateKeyAccount, functionName: string, args: readonly unknown[]) =>
    sys.write(from, { address: batcher(), abi: jobBatcherAbi, functionName, args }),
}
const statusOf = async (jobId: bigint) => (await market.read<{ status: number }>('getJob', [jobId])).status

beforeAll(async () => {
  ;[requester, stranger] = sys.accounts.requesters
  for (const p of sys.accounts.providers) await registerProvider(sys, p)
  await fund(sys, requester.address, 10_000n * TSR)
  await sys.write(requester, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
})

/** `count` fresh jobs, each for two providers. */
async function submitJobs(count: number): Promise<bigint[]> {
  const ids: bigint[] = []
  for (let i = 0; i < count; i++) {
    const receipt = await market.write(requester, 'submitJob', [await sampleJobSpec(sys)])
    ids.push(marketEvents(receipt, 'JobSubmitted')[0]?.args.jobId as bigint)
  }
  return ids
}

describe('JobBatcher', () => {
  test('assignMany assigns every job it can and reports the one the chain already assigned, undoing nothing', async () => {
    const [a, b, c] = await submitJobs(3)
    const [p0, p1, p2] = sys.accounts.providers.map((p) => p.address) as [Address, Address, Address]
    // The matcher assigned b directly a moment ago: the batch's call for it is stale.
    await market.write(sys.accounts.matcher, 'assign', [b, [p0, p1]])
    const args = [
      [a, b, c],
      [
        [p0, p1],
        [p0, p2],
        [p1, p2],
      ],
    ] as const
    const [ok, reasons] = await batch.simulate(sys.accounts.matcher, 'assignMany', args)
    expect(ok).toEqual([true, false, true])
    expect(describeRevertData(reasons[1] ?? '0x')).toBe(`UnexpectedStatus(${b}, ${JobStatus.Assigned})`)
    const receipt = await batch.write(sys.accounts.matcher, 'assignMany', args)
    const failed = parseEventLogs({ abi: jobBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })
    expect(failed.map((e) => [e.args.jobId, e.args.index])).toEqual([[b, 1n]])
    expect(await Promise.all([a, b, c].map(statusOf))).toEqual([JobStatus.Assigned, JobStatus.Assigned, JobStatus.Assigned])
    // b kept its first assignment: the stale call changed nothing.
    const assigned = parseEventLogs({ abi: jobMarketAbi, eventName: 'JobAssigned', logs: receipt.logs })
    expect(assigned.map((e) => [e.args.jobId, e.args.provider])).toEqual([
      [a, p0],
      [a, p1],
      [c, p1],
      [c, p2],
    ])
  })

  test('only its MATCHER_ROLE may batch assigns: JobMarket’s role on the batcher is no use to a stranger', async () => {
    const [a] = await submitJobs(1)
    await expectRevert(
      batch.write(stranger, 'assignMany', [[a], [sys.accounts.providers.slice(0, 2).map((p) => p.address)]]),
      'AccessControlUnauthorizedAccount',
    )
    expect(await statusOf(a as bigint)).toBe(JobStatus.Open)
  })

  test('refuses an empty batch, one over MAX_BATCH, and lists of different lengths', async () => {
    const p = sys.accounts.providers[0].address
    expect(await expectRevert(batch.write(sys.accounts.matcher, 'finalizeMany', [[]]), 'BatchSize')).toEqual([0n, 256n])
    const many = Array.from({ length: 257 }, (_, i) => BigInt(i))
    expect(await expectRevert(batch.write(stranger, 'expireMany', [many]), 'BatchSize')).toEqual([257n, 256n])
    expect(await expectRevert(batch.write(sys.accounts.matcher, 'assignMany', [[1n, 2n], [[p]]]), 'LengthMismatch')).toEqual([2n, 1n])
  })

  test('anyone finalizes many: revealed jobs settle, the one still committing is reported', async () => {
    const [a, b, c] = await submitJobs(3)
    const [p0, p1, p2] = sys.accounts.providers
    // Results that differ wait for finalize until the proof window closes (no disagreement proven: both are paid).
    await runMarketRound(sys, a as bigint, [p0, p1], [labelledResult('x'), labelledResult('x other')])
    await runMarketRound(sys, c as bigint, [p0, p2], [labelledResult('y'), labelledResult('y other')])
    await sys.increaseTime(sys.deployment.params.market.proofWindow + 1n)
    // Committed, not revealed: its reveal window is open.
    await runMarketRound(sys, b as bigint, [p1, p2], [undefined, undefined])
    const receipt = await batch.write(stranger, 'finalizeMany', [[a, b, c]])
    const failed = parseEventLogs({ abi: jobBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })
    expect(failed.map((e) => [e.args.jobId, describeRevertData(e.args.reason).split('(')[0]])).toEqual([[b, 'RevealWindowOpen']])
    expect(await Promise.all([a, b, c].map((id) => statusOf(id as bigint)))).toEqual([
      JobStatus.Completed,
      JobStatus.Committed,
      JobStatus.Completed,
    ])
  })

  test('short of gas the whole batch reverts (BatchOutOfGas), so an estimate never silently skips jobs', async () => {
    const jobs = await submitJobs(4)
    const providers = jobs.map(() => sys.accounts.providers.slice(1).map((p) => p.address))
    const wallet = createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account: sys.accounts.matcher })
    const estimate = await sys.publicClient.estimateContractGas({
      account: sys.accounts.matcher,
      address: batcher(),
      abi: jobBatcherAbi,
      functionName: 'assignMany',
      args: [jobs, providers],
    })
    // At every gas short of the estimate the batch is all or nothing: never some jobs assigned and the rest skipped.
    for (let percent = 40n; percent < 100n; percent += 4n) {
      const snapshot = await sys.snapshot()
      const hash = await wallet.writeContract({
        address: batcher(),
        abi: jobBatcherAbi,
        functionName: 'assignMany',
        args: [jobs, providers],
        gas: (estimate * percent) / 100n,
      })
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash })
      const statuses = await Promise.all(jobs.map(statusOf))
      if (receipt.status === 'success') {
        expect(parseEventLogs({ abi: jobBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })).toEqual([])
        expect(statuses).toEqual(jobs.map(() => JobStatus.Assigned))
      } else expect(statuses).toEqual(jobs.map(() => JobStatus.Open))
      await sys.revert(snapshot)
    }
    // With the estimate, all four go through.
    await sys.write(sys.accounts.matcher, { address: batcher(), abi: jobBatcherAbi, functionName: 'assignMany', args: [jobs, providers] })
    expect(await Promise.all(jobs.map(statusOf))).toEqual(jobs.map(() => JobStatus.Assigned))
  })
})
