import { describe, expect, test } from 'vitest'
import type { IndexingStatus } from './db/meta.ts'
import { type IndexerState, type IndexingBacklog, judgeIndexing } from './indexingHealth.ts'

const status = (block: bigint | null, chainHead: bigint | null): IndexingStatus => ({
  chainId: 31337,
  block,
  blockTimestamp: null,
  chainHead,
  lagBlocks: block !== null && chainHead !== null ? Number(chainHead - block) : null,
})

/**
 * One watcher: each call feeds an observation (the last indexed block, the chain head, the time) through `judgeIndexing`,
 * carrying the backlog from the call before, and returns the verdict.
 */
function watcher(indexer?: IndexerState) {
  let backlog: IndexingBacklog
  return (block: bigint | null, head: bigint | null, now: number) => {
    const judged = judgeIndexing({ status: status(block, head), backlog, now, indexer, options: { maxLagBlocks: 10, maxStallSeconds: 15 } })
    backlog = judged.backlog
    return judged.health
  }
}

describe('judgeIndexing', () => {
  test('at the chain head: fresh', () => {
    expect(watcher()(5n, 5n, 0)).toMatchObject({ ok: true, block: 5n, chainHead: 5n, error: null })
  })

  test('a head left unindexed longer than maxStallSeconds: stale, naming the block, the head and the error', () => {
    const observe = watcher()
    const verdicts = [observe(5n, 7n, 100), observe(5n, 7n, 110), observe(5n, 8n, 115), observe(5n, 8n, 116)]
    expect(verdicts.map((v) => v.ok)).toEqual([true, true, true, false])
    expect(verdicts[3]?.reason).toBe(
      'indexing has stalled: block 7 is still not indexed after 16 s: last indexed block 5, chain head 8; indexer error: unknown',
    )
  })

  test('an indexer that keeps up with a moving chain is never stale, however long it trails by a block', () => {
    // Every head gets indexed within 10 s; the next head is already out by then.
    const observe = watcher()
    const verdicts = [observe(1n, 2n, 0), observe(2n, 3n, 10), observe(3n, 4n, 20), observe(4n, 5n, 30), observe(5n, 6n, 40)]
    expect(verdicts.every((v) => v.ok)).toBe(true)
  })

  test('more than maxLagBlocks behind: stale at once', () => {
    const verdict = watcher()(5n, 16n, 0)
    expect(verdict).toMatchObject({ ok: false, lagBlocks: 11 })
    expect(verdict.reason).toMatch(/^indexing is 11 blocks behind, more than 10: last indexed block 5, chain head 16;/)
    expect(watcher()(5n, 15n, 0).ok).toBe(true)
  })

  test('caught up again: fresh, and the next wait starts afresh', () => {
    const observe = watcher()
    const verdicts = [observe(5n, 7n, 0), observe(5n, 7n, 20), observe(7n, 7n, 21), observe(7n, 9n, 30), observe(7n, 9n, 40)]
    expect(verdicts.map((v) => v.ok)).toEqual([true, false, true, true, true])
  })

  test('an indexer its host reports stopped: stale at once, with its last error', () => {
    const lastError = 'Ponder exited with code 1 after: unhandledRejection: DelayedInsertError: value "4000000000" is out of range'
    const verdict = watcher({ running: false, lastError })(5n, 5n, 0)
    expect(verdict).toMatchObject({ ok: false, error: lastError })
    expect(verdict.reason).toBe(`the indexer has stopped: last indexed block 5, chain head 5; indexer error: ${lastError}`)
    // Running with an old error: judged on progress alone, the error still reported.
    expect(watcher({ running: true, lastError })(5n, 5n, 0)).toMatchObject({ ok: true, error: lastError })
  })

  test('nothing indexed yet: stale; no chain head (no RPC): not judged', () => {
    expect(watcher()(null, 5n, 0).reason).toBe(
      'the indexer has not indexed any block yet: last indexed block none, chain head 5; indexer error: unknown',
    )
    expect(watcher()(5n, null, 0).ok).toBe(true)
  })
})
