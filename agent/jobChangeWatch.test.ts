import {
  type Address,
  concat,
  createPublicClient,
  createTestClient,
  custom,
  type EIP1193RequestFn,
  type Hex,
  http,
  type PublicClient,
  type TestClient,
  toEventSelector,
  toHex,
} from 'viem'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { type Anvil, startAnvil } from '../devnet/startAnvil.ts'
import { createHeadWatch } from './headWatch.ts'
import { createJobChangeWatch } from './jobChangeWatch.ts'

// A stand-in JobMarket on a real anvil: code that emits whatever log it is called with (LOG2 with the calldata's two
// words as its topics), so a block can hold any JobMarket event for any job id.
const emitterCode: Hex = '0x60203560003560006000a200'
const market: Address = '0x00000000000000000000000000000000000c0de1'
const sender: Address = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

const selector = (name: string): Hex => {
  const event = jobMarketAbi.find((item) => item.type === 'event' && item.name === name)
  if (!event) throw new Error(`no event ${name}`)
  return toEventSelector(event as Parameters<typeof toEventSelector>[0])
}

describe('createJobChangeWatch', () => {
  let anvil: Anvil
  let testClient: TestClient
  let publicClient: PublicClient
  /** JSON-RPC requests by method, as the watch's client sent them. */
  const sent = new Map<string, number>()
  /** Makes the watch's `eth_getLogs` fail while set. */
  let failLogs = false

  beforeAll(async () => {
    anvil = await startAnvil()
    testClient = createTestClient({ chain: foundry, mode: 'anvil', transport: http(anvil.rpcUrl) })
    await testClient.setCode({ address: market, bytecode: emitterCode })
    await testClient.setAutomine(false)
    const upstream = http(anvil.rpcUrl)({ chain: foundry, retryCount: 0 })
    const request: EIP1193RequestFn = async (args) => {
      sent.set(args.method, (sent.get(args.method) ?? 0) + 1)
      if (failLogs && args.method === 'eth_getLogs') throw new Error('eth_getLogs refused (test)')
      return upstream.request(args as never)
    }
    publicClient = createPublicClient({ chain: foundry, transport: custom({ request }, { retryCount: 0 }) }) as PublicClient
  }, 30_000)
  afterAll(() => anvil?.stop())

  const watch = () => {
    const heads = createHeadWatch({ publicClient, intervalMs: 20 })
    return { heads, changes: createJobChangeWatch({ heads, publicClient, jobMarket: market }) }
  }

  /** Mines one block holding a log of each `[event, jobId]` (an empty block without any); its number. */
  async function mineWith(...logs: [event: string, jobId: bigint][]): Promise<bigint> {
    for (const [event, jobId] of logs)
      await testClient.sendUnsignedTransaction({ from: sender, to: market, data: concat([selector(event), toHex(jobId, { size: 32 })]) })
    await testClient.mine({ blocks: 1 })
    return publicClient.getBlockNumber({ cacheTime: 0 })
  }

  /** Whether `waiting` is still pending once everything already settled has run. */
  const asleep = async (waiting: Promise<unknown>, ms = 0) =>
    (await Promise.race([waiting.then(() => 'woke'), new Promise((r) => setTimeout(() => r('asleep'), ms))])) === 'asleep'

  it("wakes a job only at a block with a log naming it, and reads each block's logs once for every job waiting", async () => {
    const { heads, changes } = watch()
    const head = await heads.latest()
    const waiting = Array.from({ length: 100 }, (_, i) => changes.changed(BigInt(1000 + i), head, 30_000))
    const seven = changes.changed(7n, head, 30_000)
    const logReads = sent.get('eth_getLogs') ?? 0
    // Other jobs' logs, an empty block, and the submission of job 7 (nobody waits on a job that just opened). Each
    // block holds a log for a probe job: once its waiter wakes, the block has been read and every wake made.
    const probe = async (block: Promise<bigint>, jobId: bigint) =>
      expect(await changes.changed(jobId, (await block) - 1n, 30_000)).toBe(await block)
    await probe(mineWith(['ResultCommitted', 8n], ['ResultCommitted', 9n]), 8n)
    await probe(mineWith(['JobCommitted', 10n]), 10n)
    await probe(mineWith(['JobSubmitted', 7n], ['JobRevealed', 11n]), 11n)
    expect(await asleep(seven)).toBe(true)
    expect(await asleep(Promise.race(waiting))).toBe(true)
    const named = await mineWith(['ResultRevealed', 7n], ['ResultRevealed', 1003n])
    expect(await seven).toBe(named)
    expect(await waiting[3]).toBe(named)
    expect(await asleep(Promise.race(waiting.filter((_, i) => i !== 3)))).toBe(true)
    // One log read per new head (four), and one of the head the watch started at: not one per job.
    expect((sent.get('eth_getLogs') ?? 0) - logReads).toBeLessThanOrEqual(5)
    // A job that last looked before a block already read that names it: at once, no new block needed.
    expect(await changes.changed(7n, head, 30_000)).toBe(named)
    const last = await mineWith(...Array.from({ length: 100 }, (_, i): [string, bigint] => ['JobFinalized', BigInt(1000 + i)]))
    expect(new Set(await Promise.all(waiting))).toEqual(new Set([named, last]))
  })

  it('wakes every job when the chain is reorganised under a block it read, though no log names them', async () => {
    const { heads, changes } = watch()
    const head = await heads.latest()
    const waiting = changes.changed(21n, head, 30_000)
    const read = await mineWith(['ResultCommitted', 22n])
    // The block is read (job 22's waiter wakes at it) before the reorg replaces it.
    expect(await changes.changed(22n, head, 30_000)).toBe(read)
    expect(await asleep(waiting, 100)).toBe(true)
    await testClient.request({ method: 'anvil_reorg', params: [1, []] } as never)
    const next = await mineWith()
    expect(await waiting).toBe(next)
  })

  it('wakes every job when the chain is cut back below the head it read', async () => {
    const { heads, changes } = watch()
    const snapshot = await testClient.snapshot()
    const low = await heads.latest()
    const high = await mineWith(['ResultCommitted', 31n])
    expect(await changes.changed(31n, low, 30_000)).toBe(high)
    const waiting = changes.changed(32n, low, 30_000)
    expect(await asleep(waiting, 100)).toBe(true)
    await testClient.revert({ id: snapshot })
    // No block past the one read is coming: the watch sees the lower head and the job looks at the chain again.
    expect(await waiting).toBe(low)
  })

  it('wakes every job at each new block while the logs cannot be read, and answers after maxWaitMs or at once when aborted', async () => {
    const { heads, changes } = watch()
    const head = await heads.latest()
    failLogs = true
    try {
      const waiting = changes.changed(41n, head, 30_000)
      expect(await asleep(waiting, 100)).toBe(true)
      const next = await mineWith()
      expect(await waiting).toBe(next)
    } finally {
      failLogs = false
    }
    const now = await heads.latest()
    const t0 = performance.now()
    expect(await changes.changed(42n, now, 120)).toBe(now)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110)
    const abort = new AbortController()
    const aborted = changes.changed(43n, now, 60_000, abort.signal)
    abort.abort()
    expect(await aborted).toBe(now)
  })
})
