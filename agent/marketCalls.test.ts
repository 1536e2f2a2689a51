import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionResult,
  type Hex,
  http,
  keccak256,
  maxUint256,
  type PrivateKeyAccount,
  type PublicClient,
  parseGwei,
  toFunctionSelector,
  toHex,
} from 'viem'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { jobMarketAbi, providerBatcherAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider, sampleInputHash, useTestSystem } from '../devnet/testSystem.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { settlementGasAllowance } from '../protocol/settlement.ts'
import { TSR } from '../protocol/units.ts'
import { waitFor } from '../test/support/graphql.ts'
import { jobMarketOf, labelledResult, marketEvents, submitAndAssignJobs } from '../test/support/market.ts'
import { BatchedMarketCalls, delegateToBatcher, type MarketCall } from './marketCalls.ts'
import { TransactionError, TxSender } from './txSender.ts'

// The agent's batched commits and reveals against anvil: what comes together goes in one transaction, what comes
// while one is being handed off goes in the next, and every call answers for itself: one that would revert, or that
// reverts on chain after all, is refused with its own custom error while the rest of its batch goes through; a batch
// that can't be sent fails each of its calls, retryably.

const sys = useTestSystem()
const market = jobMarketOf(sys)
const log = pino({ level: 'silent' })
let requester: PrivateKeyAccount
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
})

beforeAll(async () => {
  ;[requester] = sys.accounts.requesters
  for (const p of sys.accounts.providers) await registerProvider(sys, p)
  await fund(sys, requester.address, 10_000n * TSR)
  await sys.write(requester, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
})

const assignedJobs = (count: number, who: readonly PrivateKeyAccount[]) => submitAndAssignJobs(sys, requester, count, who)

const commit = (jobId: bigint, provider: PrivateKeyAccount, label = 'x'): MarketCall => ({
  functionName: 'commitResult',
  // Every job here is of the sample spec (submitAndAssignJobs).
  args: [
    jobId,
    sampleInputHash,
    commitmentOf({ jobId, provider: provider.address, ...labelledResult(label), salt: keccak256(toHex(`salt:${jobId}`)) }),
  ],
})

/** `account`'s batched calls through `rpcUrl` (the chain's own node by default), delegated first (on the chain's node); each batch's size in `batches`. */
async function batchedCalls(account: PrivateKeyAccount, rpcUrl = sys.rpcUrl, maxExtraGas?: bigint) {
  const batcher = sys.deployment.contracts.ProviderBatcher.address
  const direct = createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account })
  expect(await delegateToBatcher({ publicClient: sys.publicClient as PublicClient, walletClient: direct, account, batcher, log })).toBe(
    true,
  )
  const transport = http(rpcUrl)
  const publicClient = createPublicClient({ chain: sys.chain, transport, pollingInterval: 20 }) as PublicClient
  const walletClient = createWalletClient({ chain: sys.chain, transport, account })
  const sender = new TxSender(publicClient, walletClient, account, log, undefined, { droppedAfterMs: 500 })
  const batches: number[] = []
  const jobMarket = sys.market
  const onBatch = (n: number) => batches.push(n)
  return { calls: new BatchedMarketCalls({ sender, publicClient, account, jobMarket, log, maxExtraGas, onBatch }), batches }
}

/**
 * A node in front of the chain's that answers `callMany` simulations with every call succeeding (`yes`), or refuses
 * raw transactions (`refuseSends`); everything else it passes on.
 */
async function startFakeNode(options: { yes?: boolean; refuseSends?: boolean }) {
  const callMany = toFunctionSelector('callMany(bytes[])')
  type Request = { id: unknown; method: string; params?: [{ data?: Hex; input?: Hex }] }
  const answer = async (request: Request) => {
    const data = request.params?.[0]?.data ?? request.params?.[0]?.input
    if (options.yes && request.method === 'eth_call' && data?.startsWith(callMany)) {
      // Enough `true`s for any batch of the test; viem decodes the lists whatever their length.
      const result = encodeFunctionResult({
        abi: providerBatcherAbi,
        functionName: 'callMany',
        result: [Array(8).fill(true), Array(8).fill('0x')],
      })
      return { jsonrpc: '2.0', id: request.id, result }
    }
    if (options.refuseSends && request.method === 'eth_sendRawTransaction')
      return { jsonrpc: '2.0', id: request.id, error: { code: -32000, message: 'the node is shutting down' } }
    const response = await fetch(sys.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    })
    return response.json()
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Request | Request[]
      const result = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TransactionError)
  return error as TransactionError
}
const slotCommitted = async (jobId: bigint, provider: PrivateKeyAccount) =>
  (await market.read<{ commitment: Hex }>('getSlot', [jobId, provider.address])).commitment !== `0x${'00'.repeat(32)}`

describe('BatchedMarketCalls', () => {
  test('calls made together go in one transaction; one that would revert is refused with its own error, the rest commit', async () => {
    const [p0, p1, p2] = sys.accounts.providers
    const [a, b, c] = (await assignedJobs(3, [p0, p1])) as [bigint, bigint, bigint]
    const [d] = (await assignedJobs(1, [p1, p2])) as [bigint]
    const { calls, batches } = await batchedCalls(p0)
    const sends = [calls.send(commit(a, p0)), calls.send(commit(d, p0)), calls.send(commit(b, p0)), calls.send(commit(c, p0))]
    const notAssigned = await refusal(sends[1] as Promise<unknown>)
    expect(notAssigned.revert).toEqual({ errorName: 'NotAssigned', args: [d, p0.address] })
    expect(notAssigned.retryable).toBe(false)
    expect(notAssigned.message).toBe(`commitResult reverted with NotAssigned(${d}, ${p0.address})`)
    const [sa, sb, sc] = await Promise.all([sends[0], sends[2], sends[3]])
    expect(sa?.receipt.status).toBe('success')
    expect(new Set([sa?.hash, sb?.hash, sc?.hash]).size).toBe(1)
    expect(batches).toEqual([3])
    const committed = marketEvents(sa?.receipt as never, 'ResultCommitted')
    expect(committed.map((e) => [e.args.jobId, e.args.provider])).toEqual([
      [a, p0.address],
      [b, p0.address],
      [c, p0.address],
    ])
  })

  test('calls that come while one is handed off wait for it, then go out together; one alone goes straight to JobMarket', async () => {
    const [p0, p1] = sys.accounts.providers
    const [a, b, c, d] = (await assignedJobs(4, [p0, p1])) as [bigint, bigint, bigint, bigint]
    const { calls, batches } = await batchedCalls(p0)
    const first = calls.send(commit(a, p0))
    // The first batch is on its way (its simulation asked for): these three queue behind it.
    await new Promise((resolve) => setImmediate(resolve))
    const rest = [calls.send(commit(b, p0)), calls.send(commit(c, p0)), calls.send(commit(d, p0))]
    const [sa, ...others] = await Promise.all([first, ...rest])
    // The first went alone, as a plain commitResult to JobMarket; the three behind it as one batch.
    expect(batches).toEqual([3])
    const alone = await sys.publicClient.getTransaction({ hash: sa.hash })
    expect(alone.to?.toLowerCase()).toBe(sys.market.toLowerCase())
    expect(marketEvents(sa.receipt, 'ResultCommitted').map((e) => e.args.jobId)).toEqual([a])
    expect(new Set(others.map((s) => s.hash)).size).toBe(1)
    expect(others[0]?.hash).not.toBe(sa.hash)
    for (const id of [a, b, c, d]) expect(await slotCommitted(id, p0)).toBe(true)
  })

  test('a call the chain refuses after its simulation passed is refused from the CallFailed log; the others go through', async () => {
    const [p0, p1] = sys.accounts.providers
    const [a, b] = (await assignedJobs(2, [p0, p1])) as [bigint, bigint]
    // The simulation says yes to both, but b's second commit (the same job twice in one batch) reverts on chain.
    const { calls } = await batchedCalls(p0, await startFakeNode({ yes: true }))
    const sends = [calls.send(commit(b, p0, 'first')), calls.send(commit(a, p0)), calls.send(commit(b, p0, 'second'))]
    const again = await refusal(sends[2] as Promise<unknown>)
    expect(again.revert).toEqual({ errorName: 'AlreadyCommitted', args: [b, p0.address] })
    expect(again.message).toMatch(/^commitResult reverted on chain in tx 0x[0-9a-f]{64} with AlreadyCommitted/)
    const [sb, sa] = await Promise.all([sends[0], sends[1]])
    expect(sa?.hash).toBe(sb?.hash)
    expect(await slotCommitted(a, p0)).toBe(true)
    expect(await market.read<{ commitment: Hex }>('getSlot', [b, p0.address])).toMatchObject({
      commitment: (commit(b, p0, 'first').args as readonly [bigint, Hex, Hex])[2],
    })
  })

  test('reveals simulated before the other provider revealed, mined after it, settle their jobs on the allowance', async () => {
    const [p0, p1] = sys.accounts.providers
    const jobs = (await assignedJobs(2, [p0, p1])) as [bigint, bigint]
    for (const id of jobs) for (const p of [p0, p1]) await sys.write(p, { address: sys.market, abi: jobMarketAbi, ...commit(id, p) })
    const result = labelledResult('x')
    const revealArgs = (jobId: bigint) => [jobId, result.fingerprint, result.outputHash, keccak256(toHex(`salt:${jobId}`))] as const
    const reveal = (jobId: bigint): MarketCall => ({ functionName: 'revealResult', args: revealArgs(jobId) })
    const { calls, batches } = await batchedCalls(p0)
    await sys.testClient.setAutomine(false)
    try {
      // p1's reveals wait in the pool, ahead of p0's in the block to come (a higher tip); p0's batch is simulated
      // against the block before, where its reveals settle nothing.
      const p1Wallet = createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account: p1 })
      for (const id of jobs)
        await p1Wallet.writeContract({
          address: sys.market,
          abi: jobMarketAbi,
          functionName: 'revealResult',
          args: revealArgs(id),
          gas: 300_000n,
          maxFeePerGas: parseGwei('500'),
          maxPriorityFeePerGas: parseGwei('100'),
        })
      const sends = jobs.map((id) => calls.send(reveal(id), { extraGas: settlementGasAllowance(2) }))
      await waitFor('the batch in the pool', async () => (await sys.testClient.getTxpoolStatus()).pending === 3 || undefined, {
        intervalMs: 20,
        timeoutMs: 10_000,
      })
      await sys.testClient.mine({ blocks: 1 })
      const [sa, sb] = await Promise.all(sends)
      expect(batches).toEqual([2])
      expect(sa.hash).toBe(sb.hash)
      // p0's batch came last: its reveals settled both jobs.
      expect(marketEvents(sa.receipt, 'JobFinalized').map((e) => e.args.jobId)).toEqual(jobs)
    } finally {
      await sys.testClient.setAutomine(true)
    }
  })

  test('a transaction carries calls until their extra gas would pass maxExtraGas; each goes with its own on top', async () => {
    const [p0, p1] = sys.accounts.providers
    const jobs = await assignedJobs(5, [p0, p1])
    const { calls, batches } = await batchedCalls(p0, sys.rpcUrl, 2_500_000n)
    const sent = await Promise.all(jobs.map((id) => calls.send(commit(id, p0), { extraGas: 1_000_000n })))
    // Two, two, and the last alone (straight to JobMarket).
    expect(batches).toEqual([2, 2])
    const hashes = [...new Set(sent.map((s) => s.hash))]
    expect(hashes).toHaveLength(3)
    const txs = await Promise.all(hashes.map((hash) => sys.publicClient.getTransaction({ hash })))
    const receipts = sent.filter((s, i) => sent.findIndex((t) => t.hash === s.hash) === i).map((s) => s.receipt)
    for (const [i, tx] of txs.entries()) {
      const extra = i < 2 ? 2_000_000n : 1_000_000n
      // The limit is what the call used with room to spare (half again, or the estimate's quarter), plus the extra.
      expect(tx.gas - extra).toBeGreaterThan(receipts[i]?.gasUsed as bigint)
      expect(tx.gas - extra).toBeLessThan(2n * (receipts[i]?.gasUsed as bigint))
    }
  })

  test('a batch the node won’t take fails each of its calls, retryably, and commits nothing', async () => {
    const [p0, p1] = sys.accounts.providers
    const [a, b] = (await assignedJobs(2, [p0, p1])) as [bigint, bigint]
    const { calls } = await batchedCalls(p0, await startFakeNode({ refuseSends: true }))
    const errors = await Promise.all([refusal(calls.send(commit(a, p0))), refusal(calls.send(commit(b, p0)))])
    for (const error of errors) {
      expect(error.retryable).toBe(true)
      expect(error.message).toBe('callMany could not be sent')
    }
    expect(await slotCommitted(a, p0)).toBe(false)
    expect(await slotCommitted(b, p0)).toBe(false)
  })
})

describe('delegateToBatcher', () => {
  test('leaves an account that already runs other code alone: no batching, no transaction', async () => {
    const [, , p2] = sys.accounts.providers
    const wallet = createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account: p2 })
    // p2 delegated to some other code of its own choosing (here, the leader's batcher, which it can't use).
    const other = sys.deployment.contracts.JobBatcher.address
    const authorization = await wallet.signAuthorization({ account: p2, contractAddress: other, executor: 'self' })
    await sys.publicClient.waitForTransactionReceipt({
      // The call itself reverts (that code has no fallback), but the authorization holds all the same.
      hash: await wallet.sendTransaction({
        account: p2,
        chain: sys.chain,
        to: p2.address,
        authorizationList: [authorization],
        gas: 100_000n,
      }),
    })
    const nonce = await sys.publicClient.getTransactionCount({ address: p2.address })
    const batcher = sys.deployment.contracts.ProviderBatcher.address
    expect(
      await delegateToBatcher({ publicClient: sys.publicClient as PublicClient, walletClient: wallet, account: p2, batcher, log }),
    ).toBe(false)
    expect((await sys.publicClient.getCode({ address: p2.address }))?.toLowerCase()).toBe(`0xef0100${other.slice(2).toLowerCase()}`)
    expect(await sys.publicClient.getTransactionCount({ address: p2.address })).toBe(nonce)
  })
})
