import { BaseError, createPublicClient, http, type PublicClient } from 'viem'
import { describe, expect, it } from 'vitest'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { useTestSystem } from '../devnet/testSystem.ts'
import { agentReadBatching } from './setupAgent.ts'

describe("the agent's batched contract reads", () => {
  const sys = useTestSystem()

  /** A client batching reads as `batch` says, counting the `eth_call`s it sends. */
  const clientWith = (batch: typeof agentReadBatching | { multicall: { deployless: true; wait: number; batchSize: number } }) => {
    let calls = 0
    const transport = http(sys.rpcUrl, {
      onFetchRequest: async (request) => {
        const body = (await request.clone().json()) as { method: string }
        if (body.method === 'eth_call') calls++
      },
    })
    const client = createPublicClient({ chain: sys.chain, transport, batch }) as PublicClient
    return { client, calls: () => calls }
  }
  const readJobs = (client: PublicClient, ids: bigint[], blockNumber: bigint) =>
    Promise.all(
      ids.map((id) => client.readContract({ address: sys.market, abi: jobMarketAbi, functionName: 'getJob', args: [id], blockNumber })),
    )
  const ids = Array.from({ length: 200 }, (_, i) => BigInt(i + 1))

  it('reads 200 jobs at one block in a few multicalls, each result the one a lone read gives', async () => {
    const block = await sys.publicClient.getBlockNumber()
    const batched = clientWith(agentReadBatching)
    const jobs = await readJobs(batched.client, ids, block)
    expect(jobs).toHaveLength(200)
    expect(batched.calls()).toBeGreaterThan(1)
    expect(batched.calls()).toBeLessThanOrEqual(20)
    const alone = await sys.publicClient.readContract({
      address: sys.market,
      abi: jobMarketAbi,
      functionName: 'getJob',
      args: [7n],
      blockNumber: block,
    })
    expect(jobs[6]).toEqual(alone)
  })

  it('would fail every read in one batch too large for a deployless call (the contract creation it is), which is why batches are small', async () => {
    const block = await sys.publicClient.getBlockNumber()
    const oversized = clientWith({ multicall: { deployless: true, wait: 5, batchSize: 32_768 } })
    const error = await readJobs(oversized.client, ids, block).then(
      () => undefined,
      (e: unknown) => e,
    )
    // anvil refuses it as contract creation (code over EIP-170's limit, or init code over EIP-3860's).
    expect(error).toBeInstanceOf(BaseError)
    expect(
      (error as BaseError).walk((e) =>
        /CreateContractSizeLimit|creation failed/i.test(`${(e as BaseError).details} ${(e as BaseError).shortMessage}`),
      ),
    ).toBeTruthy()
  })
})
