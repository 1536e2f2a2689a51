import { createPublicClient, createTestClient, http, type PublicClient } from 'viem'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Anvil, startAnvil } from '../devnet/startAnvil.ts'
import { createHeadWatch } from './headWatch.ts'

describe('createHeadWatch', () => {
  let anvil: Anvil
  let publicClient: PublicClient
  let mine: () => Promise<void>
  /** `eth_blockNumber` requests sent so far. */
  let reads = 0

  beforeAll(async () => {
    anvil = await startAnvil()
    const transport = http(anvil.rpcUrl, {
      onFetchRequest: async (request) => {
        const body = (await request.clone().json()) as { method: string }
        if (body.method === 'eth_blockNumber') reads++
      },
    })
    publicClient = createPublicClient({ chain: foundry, transport }) as PublicClient
    const testClient = createTestClient({ chain: foundry, mode: 'anvil', transport: http(anvil.rpcUrl) })
    mine = () => testClient.mine({ blocks: 1 })
  }, 30_000)
  afterAll(() => anvil?.stop())

  it('reads the head once for every caller in flight together', async () => {
    const heads = createHeadWatch({ publicClient, intervalMs: 20 })
    const before = reads
    const seen = await Promise.all(Array.from({ length: 50 }, () => heads.latest()))
    expect(reads - before).toBe(1)
    expect(new Set(seen).size).toBe(1)
    expect(seen[0]).toBe(await publicClient.getBlockNumber({ cacheTime: 0 }))
  })

  it('wakes every job waiting for a new block on the same read, once the block is mined', async () => {
    const heads = createHeadWatch({ publicClient, intervalMs: 20 })
    const head = await heads.latest()
    const waiting = Array.from({ length: 100 }, () => heads.after(head, 10_000))
    // No block yet: polls see the same head, and nobody wakes.
    await new Promise((r) => setTimeout(r, 100))
    const settled = await Promise.race([Promise.all(waiting).then(() => 'woke'), new Promise((r) => setTimeout(() => r('asleep'), 0))])
    expect(settled).toBe('asleep')
    const before = reads
    await mine()
    const woke = await Promise.all(waiting)
    expect(woke.every((h) => h === head + 1n)).toBe(true)
    // One poll every 20 ms for all hundred of them, not a read each.
    expect(reads - before).toBeLessThan(10)
    // A head already seen past the block answers at once, without a read.
    const quick = reads
    expect(await heads.after(head, 10_000)).toBe(head + 1n)
    expect(reads).toBe(quick)
  })

  it('once maxWaitMs passes before its next poll, reads the head afresh rather than answer the stale one', async () => {
    const heads = createHeadWatch({ publicClient, intervalMs: 1_000 })
    const head = await heads.latest()
    await mine()
    expect(await heads.after(head, 50)).toBe(head + 1n)
  })

  it('answers with the head after maxWaitMs without a block, at once when aborted, and stops polling when nobody waits', async () => {
    const heads = createHeadWatch({ publicClient, intervalMs: 20 })
    const head = await heads.latest()
    const t0 = performance.now()
    expect(await heads.after(head, 150)).toBe(head)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140)
    const abort = new AbortController()
    const aborted = heads.after(head, 60_000, abort.signal)
    abort.abort()
    expect(await aborted).toBe(head)
    const idle = reads
    await new Promise((r) => setTimeout(r, 150))
    expect(reads).toBe(idle)
  })

  it('follows the head down when the chain is cut back: a waiter past the old head gets the lower one, never the stale higher one', async () => {
    const testClient = createTestClient({ chain: foundry, mode: 'anvil', transport: http(anvil.rpcUrl) })
    const heads = createHeadWatch({ publicClient, intervalMs: 20 })
    const snapshot = await testClient.snapshot()
    const low = await heads.latest()
    await testClient.mine({ blocks: 3 })
    const high = await heads.latest()
    expect(high).toBe(low + 3n)
    await testClient.revert({ id: snapshot })
    // No block past `high` is coming: once its time is up, the waiter reads the chain as it now is.
    expect(await heads.after(high, 150)).toBe(low)
    expect(await heads.latest()).toBe(low)
  })

  it('never rejects while the node is down: a waiter gets the last head read once its time is up', async () => {
    const broken = createPublicClient({ chain: foundry, transport: http('http://127.0.0.1:9', { retryCount: 0 }) }) as PublicClient
    const heads = createHeadWatch({ publicClient: broken, intervalMs: 10 })
    await expect(heads.latest()).rejects.toThrow()
    expect(await heads.after(5n, 100)).toBeUndefined()
  })
})
