import type { Logger } from 'pino'
import type { Journal } from './journal.ts'

/**
 * Tracks the subscription cursor. Assignments settle out of order (jobs run concurrently), but a cursor is
 * persisted only once it and every assignment before it are safe to skip on replay: the journal's cursor
 * advances over the settled prefix, so a crash replays anything not yet journaled.
 */
export class CursorTracker {
  private readonly queue: { cursor: string; settled: boolean }[] = []
  private lastReceived: string | undefined
  private refused = false

  constructor(
    private readonly journal: Pick<Journal, 'cursor' | 'setCursor' | 'clearCursor'>,
    private readonly log: Logger,
  ) {}

  /**
   * Where a (re)connect resumes: after the newest assignment received (those are still in hand), else after the
   * journal's cursor; from the start once the server refused a cursor and nothing came since.
   */
  get resumeAfter(): string | undefined {
    return this.refused ? this.lastReceived : (this.lastReceived ?? this.journal.cursor)
  }

  /** Records a received assignment's cursor; call the returned function once that assignment is safe to skip on replay. */
  add(cursor: string): () => void {
    const item = { cursor, settled: false }
    this.queue.push(item)
    this.lastReceived = cursor
    return () => {
      if (item.settled) return
      item.settled = true
      let last: string | undefined
      while (this.queue[0]?.settled) last = this.queue.shift()?.cursor
      if (last !== undefined) this.journal.setCursor(last).catch((error) => this.log.error({ err: error }, 'cannot persist cursor'))
    }
  }

  /** The server refused the cursor (another chain's, say): forget it, so the next connection replays from the start. */
  refuse(): void {
    this.refused = true
    this.lastReceived = undefined
    this.journal.clearCursor().catch((error) => this.log.warn({ err: error }, 'cannot clear cursor'))
  }
}
