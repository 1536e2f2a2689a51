import type { Logger } from 'pino'
import type { Journal } from './journal.ts'

/**
 * Tracks the subscription cursor. Assignments settle out of order (jobs run concurrently), but a cursor is
 * persisted only once it and every assignment before it are safe to skip on replay: the journal's cursor
 * advances over the settled prefix, so a crash replays anything not yet journaled.
 *
 * A retraction moves the cursor back: its cursor is where to resume to see what replaced the retracted assignment.
 */
export class CursorTracker {
  private readonly queue: { cursor: string; settled: boolean }[] = []
  private lastReceived: string | undefined
  private refused = false
  /** A retraction came since the last connection: `lastReceived` holds its cursor until the next one uses it. */
  private rewound = false

  constructor(
    private readonly journal: Pick<Journal, 'cursor' | 'setCursor' | 'clearCursor'>,
    private readonly log: Logger,
  ) {}

  /**
   * Where a (re)connect resumes: from the first retraction's cursor received since the last connection; else after the
   * newest assignment received (those are still in hand), else after the journal's cursor; from the start once the
   * server refused a cursor and nothing came since.
   */
  get resumeAfter(): string | undefined {
    return this.refused ? this.lastReceived : (this.lastReceived ?? this.journal.cursor)
  }

  /** Records a received assignment's cursor; call the returned function once that assignment is safe to skip on replay. */
  add(cursor: string): () => void {
    const item = { cursor, settled: false }
    this.queue.push(item)
    if (!this.rewound) this.lastReceived = cursor
    return () => {
      if (item.settled) return
      item.settled = true
      this.persistSettled()
    }
  }

  /**
   * Records a retraction's cursor. The next connection resumes from it, even past assignments received after it (what
   * replaced the retracted assignment may be indexed below them). The server sends the retractions of a
   * reorganisation in feed order, so until that connection the first one's cursor stands for any later ones. The
   * journal's cursor goes back to it once everything received before is settled, so a restart replays from there too;
   * nothing received after it is persisted until settled.
   */
  retract(cursor: string): void {
    if (!this.rewound) this.lastReceived = cursor
    this.rewound = true
    this.queue.push({ cursor: this.lastReceived ?? cursor, settled: true })
    this.persistSettled()
  }

  /** A connection opened from `resumeAfter`: a retraction's cursor has done its part, and the newest received leads again. */
  connected(): void {
    this.rewound = false
  }

  /** The server refused the cursor (another chain's, say): forget it, so the next connection replays from the start. */
  refuse(): void {
    this.refused = true
    this.rewound = false
    this.lastReceived = undefined
    this.journal.clearCursor().catch((error) => this.log.warn({ err: error }, 'cannot clear cursor'))
  }

  /** Persists the cursor of the last of the settled prefix, if any. */
  private persistSettled(): void {
    let last: string | undefined
    while (this.queue[0]?.settled) last = this.queue.shift()?.cursor
    if (last !== undefined) this.journal.setCursor(last).catch((error) => this.log.error({ err: error }, 'cannot persist cursor'))
  }
}
