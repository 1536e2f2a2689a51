import type { PublicClient } from 'viem'
import { parkWaiter, type Waiter } from './parkWaiter.ts'

/** The chain's head as every job the agent follows sees it: one read for all of them, not one each. */
export type HeadWatch = {
  /** The head now: callers in flight together share one `eth_blockNumber`. Rejects when the read fails. */
  latest(): Promise<bigint>
  /**
   * Resolves with the head once a read shows it past `block` (any head when `block` is undefined); once `maxWaitMs`
   * passed without that, with the head read then; when `signal` aborts, with the last head read. Undefined when no
   * read succeeded. Never rejects: a failed read is tried again at the next interval.
   */
  after(block: bigint | undefined, maxWaitMs: number, signal?: AbortSignal): Promise<bigint | undefined>
}

type HeadWaiter = Waiter<bigint | undefined> & { block: bigint | undefined }

/**
 * Follows the head for the jobs an agent holds: while any waits for a new block, the head is read every
 * `intervalMs`, and every job waiting wakes on the same read. So they all look at the chain right after each block,
 * together, and their reads of that block go out as one batch, where per-job timers spread the same reads over the
 * second and read the head once per job.
 */
export function createHeadWatch(parameters: { publicClient: PublicClient; intervalMs: number }): HeadWatch {
  const { publicClient, intervalMs } = parameters
  const waiters = new Set<HeadWaiter>()
  let inFlight: Promise<bigint> | undefined
  let last: bigint | undefined
  let timer: NodeJS.Timeout | undefined

  const latest = (): Promise<bigint> => {
    inFlight ??= publicClient
      .getBlockNumber({ cacheTime: 0 })
      .then((head) => {
        // The latest read, not the highest seen: a reorg can lower the head.
        last = head
        for (const waiter of waiters)
          if (waiter.block === undefined || head > waiter.block) {
            waiters.delete(waiter)
            waiter.resolve(head)
          }
        return head
      })
      .finally(() => {
        inFlight = undefined
      })
    return inFlight
  }

  const poll = () => {
    timer = undefined
    if (!waiters.size) return
    latest()
      .catch(() => {})
      .finally(() => {
        if (waiters.size && !timer) timer = setTimeout(poll, intervalMs)
      })
  }

  const after = (block: bigint | undefined, maxWaitMs: number, signal?: AbortSignal): Promise<bigint | undefined> => {
    if (signal?.aborted) return Promise.resolve(last)
    // Another job's read may already have seen a newer head.
    if (last !== undefined && (block === undefined || last > block)) return Promise.resolve(last)
    const waiting = parkWaiter(
      waiters,
      { block },
      {
        maxWaitMs,
        signal,
        aborted: () => last,
        // Time is up without a new block: the head as it is now, read afresh (the last read may be older than the wait).
        timeUp: () => latest().catch(() => last),
      },
    )
    if (!timer) timer = setTimeout(poll, intervalMs)
    return waiting
  }

  return { latest, after }
}
