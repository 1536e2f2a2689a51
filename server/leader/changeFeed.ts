import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { findAssignmentsAfter, positionOf } from '../db/assignments.ts'
import type { Database, Views } from '../db/database.ts'
import { type FeedPosition, readFeedCursor, writeFeedCursor } from '../db/feedCursors.ts'
import type { ServerMetrics } from '../metrics.ts'
import type { AssignmentPubSub } from '../pubsub.ts'

const batch = 500

/**
 * Polls the views-schema `assignment` table in (block_number, log_index) order and publishes each
 * new row to its provider's topic; the position is kept in `app.feed_cursor`. A fresh feed starts
 * at the beginning: starting at the current end would skip rows indexed between a subscriber's replay
 * and the feed's first read, and subscribers drop whatever they already have.
 * `resolveFeedName` names the cursor after the chain it follows, so a cursor left by an earlier chain
 * (a devnet restart redeploys to the same addresses) is never applied to a new one.
 */
export function createChangeFeed(parameters: {
  db: Kysely<Database>
  views: Views
  pubsub: AssignmentPubSub
  log: Logger
  metrics?: ServerMetrics
  resolveFeedName: () => Promise<string>
}) {
  let position: FeedPosition | undefined
  let feedName = ''
  let loaded = false
  return {
    /** Publishes everything new; returns how many assignments went out. */
    async tick(): Promise<number> {
      if (!loaded) {
        feedName ||= await parameters.resolveFeedName()
        position = (await readFeedCursor(parameters.db, feedName)) ?? { blockNumber: 0n, logIndex: -1 }
        loaded = true
        parameters.log.debug(
          { feedName, position: { blockNumber: String(position.blockNumber), logIndex: position.logIndex } },
          'change feed loaded',
        )
      }
      let published = 0
      for (;;) {
        const rows = await findAssignmentsAfter(parameters.views, { after: position, limit: batch })
        // Published before the cursor moves: a leader killed in between leaves the cursor behind, and its successor
        // publishes these again (subscribers drop what they already have), never skips them.
        await parameters.pubsub.publish(rows)
        const last = rows.at(-1)
        if (last) {
          position = positionOf(last)
          published += rows.length
          await writeFeedCursor(parameters.db, feedName, position)
        }
        if (rows.length < batch) break
      }
      if (published) {
        parameters.metrics?.feedPublished.inc(published)
        parameters.log.debug(
          { published, position: { blockNumber: String(position?.blockNumber), logIndex: position?.logIndex } },
          'change feed published',
        )
      }
      return published
    },
    /** Forget the in-memory position (after losing leadership another replica may move it). */
    reset() {
      loaded = false
      position = undefined
    },
  }
}
