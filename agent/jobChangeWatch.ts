import { type Address, type Hex, type PublicClient, toEventSelector, toHex } from 'viem'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import type { HeadWatch } from './headWatch.ts'
import { parkWaiter, type Waiter } from './parkWaiter.ts'

/** Wakes a job waiting on others when a block may have changed it, not at every block. */
export type JobChangeWatch = {
  /**
   * Resolves with a head past `block` once a block after `block` holds a JobMarket log naming `jobId`, or once the
   * watch can't tell that none does (a log read failed, blocks before what it remembers); with the head it then reads
   * when the chain is reorganised or cut back (which may be no higher than `block`); once `maxWaitMs` passed without
   * any of that, with the head read then (undefined if that read fails); when `signal` aborts, with `block`. Never
   * rejects.
   */
  changed(jobId: bigint, block: bigint, maxWaitMs: number, signal?: AbortSignal): Promise<bigint | undefined>
}

/**
 * The JobMarket events a job waiting on others can be woken by: every one whose first topic is the job id, but the
 * submission (a job just opened has nobody waiting on it). Every change to a job's or a slot's state emits one.
 */
const wakingEvents: Hex[] = jobMarketAbi
  .filter((item) => item.type === 'event' && item.name !== 'JobSubmitted' && item.inputs[0]?.name === 'jobId' && item.inputs[0].indexed)
  .map((item) => toEventSelector(item as Parameters<typeof toEventSelector>[0]))

/** A job id as its log topic: 32 bytes, lower case. */
const jobTopic = (jobId: bigint): Hex => toHex(jobId, { size: 32 })

/** The longest the watch waits for a new head before reading it again. */
const headWaitMs = 1_000

/** Blocks whose logs are remembered, for jobs that last looked further back. */
const rememberedBlocks = 256n

type JobWaiter = Waiter<bigint | undefined> & { topic: Hex; block: bigint }
type RawBlock = { hash: Hex; parentHash: Hex } | null
type RawLog = { blockNumber: Hex; blockHash: Hex; topics: Hex[] }

/**
 * Follows the JobMarket's logs for the jobs an agent waits on: at each new head (read by `heads`, shared with every
 * job), one `eth_getLogs` of the new blocks, and each waiting job wakes only if a log names it. A job whose round is
 * running and whose journal holds what the chain shows changes only through a transaction of the JobMarket, so it
 * need not read its round at every block; hundreds of jobs waiting for other providers or for the leader then cost
 * one log read a block rather than two calls each. A reorg (a head whose parent isn't the last one read, or a lower
 * head) wakes every job, as does a failed read: they then look at the chain themselves, as they would without it.
 */
export function createJobChangeWatch(parameters: { heads: HeadWatch; publicClient: PublicClient; jobMarket: Address }): JobChangeWatch {
  const { heads, publicClient, jobMarket } = parameters
  const waiters = new Set<JobWaiter>()
  /** Job topics with logs in each block remembered, up to `scanned`. */
  const logsByBlock = new Map<bigint, Set<Hex>>()
  let scanned: { block: bigint; hash: Hex } | undefined
  let driving = false

  const forget = () => {
    logsByBlock.clear()
    scanned = undefined
  }

  /** Whether a block after the waiter's, up to `head`, may have changed its job: a log names it, or it isn't known. */
  const mayHaveChanged = (waiter: Pick<JobWaiter, 'topic' | 'block'>, head: bigint): boolean => {
    for (let block = waiter.block + 1n; block <= head; block++) {
      const topics = logsByBlock.get(block)
      if (topics === undefined || topics.has(waiter.topic)) return true
    }
    return false
  }

  /**
   * Wakes, with `head`, the waiters before it that a block after theirs may have changed; with `all` (the chain they
   * read is gone), every waiter.
   */
  const wake = (head: bigint, all: boolean) => {
    for (const waiter of waiters)
      if (all || (waiter.block < head && mayHaveChanged(waiter, head))) {
        waiters.delete(waiter)
        waiter.resolve(head)
      }
  }

  const blockAt = (block: bigint) =>
    publicClient.request({ method: 'eth_getBlockByNumber', params: [toHex(block), false] }) as Promise<RawBlock>

  /** Reads the logs of the blocks up to `head` not read yet; false when the chain reorganised under what it read. */
  const scan = async (head: bigint): Promise<boolean> => {
    const top = await blockAt(head)
    if (!top) return false
    let from = head
    if (scanned && scanned.block < head) {
      const linked = scanned.block + 1n === head ? top.parentHash === scanned.hash : (await blockAt(scanned.block))?.hash === scanned.hash
      if (!linked) return false
      from = scanned.block + 1n
    }
    const logs = (await publicClient.request({
      method: 'eth_getLogs',
      params: [{ address: jobMarket, topics: [wakingEvents], fromBlock: toHex(from), toBlock: toHex(head) }],
    })) as RawLog[]
    for (let block = from; block <= head; block++) logsByBlock.set(block, new Set())
    for (const log of logs) {
      const block = BigInt(log.blockNumber)
      if (block === head && log.blockHash !== top.hash) return false
      const topic = log.topics[1]
      if (topic) logsByBlock.get(block)?.add(topic.toLowerCase() as Hex)
    }
    for (const block of logsByBlock.keys()) if (block + rememberedBlocks <= head) logsByBlock.delete(block)
    scanned = { block: head, hash: top.hash }
    return true
  }

  const drive = async () => {
    if (driving) return
    driving = true
    try {
      while (waiters.size) {
        const head = await heads.after(scanned?.block, headWaitMs)
        if (head === undefined) continue
        if (scanned && head <= scanned.block) {
          // Lower than what was read: the chain was cut back. The same head again: nothing new (its own maxWait).
          if (head < scanned.block) {
            forget()
            wake(head, true)
          }
          continue
        }
        const read = await scan(head).then(
          (linked) => (linked ? 'read' : 'reorganised'),
          () => 'failed',
        )
        if (read !== 'read') forget()
        // What is forgotten wakes every job before `head`; a reorganised chain every job.
        wake(head, read === 'reorganised')
        // After a failed read, nothing more until the next block.
        if (read === 'failed') await heads.after(head, headWaitMs)
      }
    } finally {
      driving = false
    }
  }

  const changed = (jobId: bigint, block: bigint, maxWaitMs: number, signal?: AbortSignal): Promise<bigint | undefined> => {
    if (signal?.aborted) return Promise.resolve(block)
    const wanted = { topic: jobTopic(jobId), block }
    // What was already read after `block` may name the job.
    if (scanned && scanned.block > block && mayHaveChanged(wanted, scanned.block)) return Promise.resolve(scanned.block)
    const waiting = parkWaiter(waiters, wanted, {
      maxWaitMs,
      signal,
      aborted: () => block,
      timeUp: () => heads.latest().catch(() => undefined),
    })
    void drive()
    return waiting
  }

  return { changed }
}
