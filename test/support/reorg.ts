import type { Logger } from 'pino'
import {
  type Address,
  type Chain,
  createWalletClient,
  decodeFunctionData,
  type Hash,
  http,
  type PrivateKeyAccount,
  type PublicClient,
  type TestClient,
  toFunctionSelector,
} from 'viem'
import { TxSender } from '../../agent/txSender.ts'
import { jobBatcherAbi, jobMarketAbi, providerBatcherAbi, providerRegistryAbi } from '../../contracts/generated/index.ts'
import type { JobSpecArgs } from '../../devnet/testSystem.ts'
import { sleep } from '../../protocol/retry.ts'

/** The anvil a reorg test drives: its clients and the market whose calls it watches. */
/** A chain to reorganise: its clients, the JobMarket, and the JobBatcher whose batches count as the calls they make. */
export type ReorgChain = { publicClient: PublicClient; testClient: TestClient<'anvil'>; market: Address; batcher?: Address }

/**
 * What a reorg took out: how many JobMarket calls of each function name lost their receipt, and as `settled` how many
 * settlements (a JobFinalized: a `finalize`, or a last reveal where the providers agreed).
 */
export type Removed = Record<string, number>

/** Runs `tick` every `ms` until the returned stop is awaited; a failed tick is logged and the next one runs. */
export function every(ms: number, log: Logger, tick: () => Promise<void>): () => Promise<void> {
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      await tick().catch((error: unknown) => log.warn({ err: error }, 'test loop tick failed'))
      await sleep(ms)
    }
  })()
  return async () => {
    stopped = true
    await loop
  }
}

/**
 * Mines an empty block every `ms` unless `pump.paused`, so confirmations keep coming when traffic pauses. The chain
 * must automine transactions besides (anvil's default). Returns the stop.
 */
export function startBlockPump(chain: ReorgChain, pump: { paused: boolean }, ms: number, log: Logger): () => Promise<void> {
  return every(ms, log, async () => {
    if (!pump.paused) await chain.testClient.mine({ blocks: 1 })
  })
}

const callManySelector = toFunctionSelector('callMany(bytes[])')

/**
 * The JobMarket calls mined in blocks `from..to`, with their function names; a JobBatcher batch (`assignMany`, …)
 * counts as the calls it makes (`assign`, …), and so does a provider's batch (ProviderBatcher's `callMany`, sent by
 * the provider's account to itself) as the commits and reveals in it. Each JobFinalized adds a `settled`.
 */
async function marketCallsIn(chain: ReorgChain, from: bigint, to: bigint): Promise<{ hash: Hash; name: string }[]> {
  const calls: { hash: Hash; name: string }[] = []
  for (let n = from; n <= to; n++) {
    const block = await chain.publicClient.getBlock({ blockNumber: n, includeTransactions: true })
    for (const tx of block.transactions) {
      const to = tx.to?.toLowerCase()
      if (to === chain.market.toLowerCase())
        calls.push({ hash: tx.hash, name: decodeFunctionData({ abi: jobMarketAbi, data: tx.input }).functionName })
      else if (chain.batcher && to === chain.batcher.toLowerCase())
        calls.push({ hash: tx.hash, name: decodeFunctionData({ abi: jobBatcherAbi, data: tx.input }).functionName.replace(/Many$/, '') })
      else if (to === tx.from.toLowerCase() && tx.input.startsWith(callManySelector)) {
        const [inner] = decodeFunctionData({ abi: providerBatcherAbi, data: tx.input }).args
        for (const data of inner ?? []) calls.push({ hash: tx.hash, name: decodeFunctionData({ abi: jobMarketAbi, data }).functionName })
      }
    }
  }
  const settlements = await chain.publicClient.getContractEvents({
    address: chain.market,
    abi: jobMarketAbi,
    eventName: 'JobFinalized',
    fromBlock: from,
    toBlock: to,
  })
  for (const log of settlements) calls.push({ hash: log.transactionHash, name: 'settled' })
  return calls
}

/**
 * Waits (up to `timeoutMs`, default 15 s) until the last `depth` blocks hold the calls `wanted` names, then reorganises
 * them away with `anvil_reorg` (replaced by as many empty blocks) and returns what the reorg took out; past the wait it
 * reorganises whatever is there (a frozen market sends nothing: the checks after the traffic say what went wrong).
 * Meanwhile it mines the blocks itself (no automine, `pump` paused): every `lookEveryMs` (default 100) one block of
 * whatever was sent since, if anything, and then looks, so the blocks it looked at are the ones that go. `beforeReorg`
 * is awaited right before the reorg, no block mined meanwhile. The chain must not mine on an interval of its own.
 */
export async function reorgWhen(
  chain: ReorgChain,
  parameters: {
    depth: number
    wanted: string[]
    pump: { paused: boolean }
    timeoutMs?: number
    lookEveryMs?: number
    beforeReorg?: () => Promise<void>
  },
): Promise<Removed> {
  const { testClient, publicClient } = chain
  const { depth, wanted, pump } = parameters
  pump.paused = true
  const until = Date.now() + (parameters.timeoutMs ?? 15_000)
  await testClient.setAutomine(false)
  try {
    for (;;) {
      const head = await publicClient.getBlockNumber({ cacheTime: 0 })
      const calls = await marketCallsIn(chain, head - BigInt(depth) + 1n, head)
      if (wanted.every((name) => calls.some((c) => c.name === name)) || Date.now() > until) {
        await parameters.beforeReorg?.()
        await testClient.request({ method: 'anvil_reorg', params: [depth, []] } as never)
        const removed: Removed = {}
        for (const c of calls)
          if (!(await publicClient.getTransactionReceipt({ hash: c.hash }).catch(() => undefined)))
            removed[c.name] = (removed[c.name] ?? 0) + 1
        return removed
      }
      await sleep(parameters.lookEveryMs ?? 100)
      // Traffic goes on, a block at a time; no empty blocks, which an indexer would have to follow.
      if ((await testClient.getTxpoolStatus()).pending > 0) await testClient.mine({ blocks: 1 })
    }
  } finally {
    await testClient.setAutomine(true)
    await testClient.mine({ blocks: 1 }) // what waited in the pool
    pump.paused = false
  }
}

/** How many calls of `name` the reorgs took out, together. */
export const removedCount = (removed: Removed[], name: string): number => removed.reduce((sum, r) => sum + (r[name] ?? 0), 0)

/**
 * Submits `count` jobs (`specOf(i)` each) from `account`, one at a time and `pauseMs` apart (default 250); `state`
 * counts them and keeps the hashes of those sent. The escrow must be approved beforehand. Submissions go through the
 * agent's sender: one a reorg takes out before its receipt was seen fails instead of waiting for a receipt that never
 * comes. That job then doesn't exist; the requester goes on with the next.
 */
export function startRequester(
  chain: ReorgChain,
  parameters: {
    rpcUrl: string
    chain: Chain
    account: PrivateKeyAccount
    count: number
    specOf: (i: number) => Promise<JobSpecArgs>
    log: Logger
    pauseMs?: number
  },
) {
  const { account, log } = parameters
  const state = { submitted: 0, done: false, hashes: [] as Hash[] }
  const walletClient = createWalletClient({ chain: parameters.chain, transport: http(parameters.rpcUrl), account, pollingInterval: 50 })
  const submitter = new TxSender(chain.publicClient, walletClient, account, log, undefined, { droppedAfterMs: 1000 })
  const run = (async () => {
    for (let i = 0; i < parameters.count; i++) {
      const spec = await parameters.specOf(i)
      const sent = await submitter
        .send({ address: chain.market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
        .catch((error: unknown) => log.info({ err: error }, 'submission lost'))
      if (sent) state.hashes.push(sent.hash)
      state.submitted++
      await sleep(parameters.pauseMs ?? 250)
    }
    state.done = true
  })()
  return { state, run }
}

/** How many of `hashes` are still mined: after reorgs, the submissions whose jobs exist. */
export async function stillMined(chain: ReorgChain, hashes: Hash[]): Promise<number> {
  const receipts = await Promise.all(hashes.map((hash) => chain.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)))
  return receipts.filter(Boolean).length
}

/** Every job on chain, by id from 1. */
export async function marketJobs(chain: ReorgChain) {
  const read = { address: chain.market, abi: jobMarketAbi } as const
  const count = await chain.publicClient.readContract({ ...read, functionName: 'nextJobId' })
  return Promise.all(
    [...Array(Number(count) - 1)].map((_, i) =>
      chain.publicClient.readContract({ ...read, functionName: 'getJob', args: [BigInt(i + 1)] }),
    ),
  )
}

/** The registry's `Slashed` events from block `fromBlock` on. */
export function slashedSince(chain: ReorgChain, registry: Address, fromBlock: bigint) {
  return chain.publicClient.getContractEvents({ address: registry, abi: providerRegistryAbi, eventName: 'Slashed', fromBlock })
}

/** A provider's stake as the registry holds it. */
export async function stakeOf(chain: ReorgChain, registry: Address, provider: Address): Promise<bigint> {
  return (
    await chain.publicClient.readContract({ address: registry, abi: providerRegistryAbi, functionName: 'getProvider', args: [provider] })
  ).stake
}
