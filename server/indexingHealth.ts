import type { PublicClient } from 'viem'
import type { Views } from './db/database.ts'
import { type IndexingStatus, indexingStatus } from './db/meta.ts'

/** When indexed data counts as stale. */
export type IndexingHealthOptions = {
  /** The indexer may trail the chain head by this many blocks at most (default 64). */
  maxLagBlocks?: number
  /** A block the chain had this many seconds ago must be indexed by now (default 15). */
  maxStallSeconds?: number
}

/**
 * What the process hosting the indexer knows of it (`startIndexer(…).state` in the same process): whether Ponder still
 * runs, and the last error it printed.
 */
export type IndexerState = { running: boolean; lastError?: string }

/** The indexer's progress, judged: `ok` when the indexed data is fresh enough to serve and act on. */
export type IndexingHealth = IndexingStatus & {
  ok: boolean
  /** Why not, naming the last indexed block, the chain head and the indexer's last error when known. */
  reason?: string
  /** The indexer's last error as its host reported it; null when unknown (no host in this process, or no error). */
  error: string | null
}

/** What `judgeIndexing` remembers between checks: the oldest chain head seen and not yet indexed, and since when. */
export type IndexingBacklog = { head: bigint; since: number } | undefined

const defaults = { maxLagBlocks: 64, maxStallSeconds: 15 }

/**
 * Judges one observation of the indexer's progress at wall time `now` (unix s) against `backlog`, the oldest chain
 * head seen and not indexed yet, and returns the verdict and the backlog to keep. Stale when the indexer's host says it
 * stopped, when no block was ever indexed, when the indexer trails the head by more than `maxLagBlocks`, or when a head
 * seen more than `maxStallSeconds` ago is still not indexed: an indexer stopped in another process is caught within
 * that time once the chain moves. An unknown head (no RPC) is not judged. Pure.
 */
export function judgeIndexing(parameters: {
  status: IndexingStatus
  backlog: IndexingBacklog
  now: number
  indexer?: IndexerState
  options?: IndexingHealthOptions
}): { health: IndexingHealth; backlog: IndexingBacklog } {
  const { status, now, indexer } = parameters
  const { maxLagBlocks, maxStallSeconds } = { ...defaults, ...parameters.options }
  const error = indexer?.lastError ?? null
  const { block, chainHead } = status
  const stale = (why: string): IndexingHealth => ({
    ...status,
    ok: false,
    error,
    reason: `${why}: last indexed block ${block ?? 'none'}, chain head ${chainHead ?? 'unknown'}; indexer error: ${error ?? 'unknown'}`,
  })
  const fresh: IndexingHealth = { ...status, ok: true, error }
  let backlog: IndexingBacklog
  if (block !== null && chainHead !== null && block < chainHead) {
    // Keep waiting on the oldest head not yet indexed; once it is, the current head starts a new wait.
    backlog = parameters.backlog && block < parameters.backlog.head ? parameters.backlog : { head: chainHead, since: now }
  }
  if (indexer?.running === false) return { health: stale('the indexer has stopped'), backlog }
  if (block === null) return { health: stale('the indexer has not indexed any block yet'), backlog }
  if (!backlog || chainHead === null) return { health: fresh, backlog }
  const lag = chainHead - block
  const waited = Math.floor(now - backlog.since)
  if (lag > BigInt(maxLagBlocks)) return { health: stale(`indexing is ${lag} blocks behind, more than ${maxLagBlocks}`), backlog }
  if (waited > maxStallSeconds)
    return { health: stale(`indexing has stalled: block ${backlog.head} is still not indexed after ${waited} s`), backlog }
  return { health: fresh, backlog }
}

/**
 * Watches the indexer through Ponder's checkpoint in the views schema and the chain head over RPC, remembering between
 * checks how long a head has waited. `check()` never throws. Both `/ready` and the leader (which pauses the matcher and
 * keeper while it is not ok) ask it; sharing one instance shares what it has seen.
 */
export function createIndexingHealth(parameters: {
  views: Views
  chainId: number
  publicClient?: PublicClient
  /** The indexer's state, when it runs in this process (`startIndexer(…).state`). */
  indexerState?: () => IndexerState
  options?: IndexingHealthOptions
  /** Wall clock, unix seconds. */
  now?: () => number
}) {
  let backlog: IndexingBacklog
  const now = parameters.now ?? (() => Date.now() / 1000)
  return {
    async check(): Promise<IndexingHealth> {
      const status = await indexingStatus(parameters.views, { chainId: parameters.chainId, publicClient: parameters.publicClient })
      const judged = judgeIndexing({ status, backlog, now: now(), indexer: parameters.indexerState?.(), options: parameters.options })
      backlog = judged.backlog
      return judged.health
    },
  }
}

export type IndexingHealthCheck = ReturnType<typeof createIndexingHealth>
