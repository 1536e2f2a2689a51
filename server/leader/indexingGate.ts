import type { Logger } from 'pino'
import type { IndexingHealth } from '../indexingHealth.ts'

/**
 * Lets the matcher and keeper act only on fresh indexed data. A stopped or stalled indexer leaves the views describing
 * a chain that has moved on: the matcher would assign jobs whose providers never hear of them (their feed comes from
 * the same indexer), and the keeper would expire those assignments and slash the providers as no-shows. So while
 * `health` says stale the leader skips their ticks; it logs once when it pauses and once when it resumes, and `paused`
 * (a gauge) reads 1 meanwhile.
 */
export function createIndexingGate(parameters: {
  health: { check: () => Promise<IndexingHealth> }
  log: Logger
  paused?: { set: (value: number) => void }
}) {
  const { health, log } = parameters
  let paused = false
  return {
    /** Whether the matcher and keeper may act now. Never throws: `check()` doesn't. */
    async open(): Promise<boolean> {
      const h = await health.check()
      if (!h.ok && !paused) {
        paused = true
        parameters.paused?.set(1)
        const indexing = { block: h.block?.toString() ?? null, chainHead: h.chainHead?.toString() ?? null, error: h.error }
        log.warn({ indexing, reason: h.reason }, 'indexed data is stale: matcher and keeper paused')
      } else if (h.ok && paused) {
        paused = false
        parameters.paused?.set(0)
        log.info({ indexing: { block: h.block?.toString() ?? null } }, 'indexer caught up: matcher and keeper resumed')
      }
      return h.ok
    },
    isPaused: () => paused,
  }
}
