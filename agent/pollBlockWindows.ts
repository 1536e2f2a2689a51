import type { Logger } from 'pino'
import type { PublicClient } from 'viem'
import { sleep } from '../protocol/retry.ts'

export type PollBlockWindowsParameters = {
  publicClient: PublicClient
  intervalMs: number
  /**
   * Blocks read again below the last head on every poll, and read back at start: a reorg can re-mine a log below
   * where the last poll read, and a restart must see what happened just before it.
   */
  lookbackBlocks: bigint
  /** What the polls do, for the warning when one fails. */
  what: string
  /** Reads and handles the logs of one block range; a throw is logged and the range read again next time. */
  poll: (range: { fromBlock: bigint; toBlock: bigint }) => Promise<void>
  log: Logger
  signal: AbortSignal
}

/**
 * Calls `poll` every `intervalMs` until `signal` aborts, over the blocks from `lookbackBlocks` below the last head it
 * read up to the chain's current head: how the agent reads its own logs straight from the chain. Never rejects.
 */
export async function pollBlockWindows(parameters: PollBlockWindowsParameters): Promise<void> {
  const { publicClient, lookbackBlocks, log, signal } = parameters
  const below = (head: bigint) => (head > lookbackBlocks ? head - lookbackBlocks : 0n)
  let from: bigint | undefined
  while (!signal.aborted) {
    try {
      const head = await publicClient.getBlockNumber({ cacheTime: 0 })
      await parameters.poll({ fromBlock: from ?? below(head), toBlock: head })
      from = below(head)
    } catch (error) {
      if (signal.aborted) break
      log.warn({ err: error }, `${parameters.what} failed; retrying`)
    }
    await sleep(parameters.intervalMs, signal)
  }
}
