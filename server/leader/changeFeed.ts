import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import {
  assignmentKey,
  digestAssignmentsBetween,
  eachAssignmentAfter,
  findAssignmentsAfter,
  findAssignmentsByJobIds,
  type IndexedAssignment,
  positionOf,
} from '../db/assignments.ts'
import type { Database, Views } from '../db/database.ts'
import { type FeedPosition, readFeedCursor, writeFeedCursor } from '../db/feedCursors.ts'
import {
  digestPublishedAssignments,
  findPublishedAssignments,
  forgetPublishedAssignments,
  type PublishedAssignment,
  prunePublishedAssignments,
  recordPublishedAssignments,
} from '../db/publishedAssignments.ts'
import type { ServerMetrics } from '../metrics.ts'
import type { AssignmentPubSub } from '../pubsub.ts'
import { reorgWindowBlocks, windowStart } from '../reorgWindow.ts'

const batch = 500

/**
 * Polls the views-schema `assignment` table in (block_number, log_index) order and publishes each new row to its
 * provider's topic; the position is kept in `app.feed_cursor`. A fresh feed starts at the beginning: starting at the
 * current end would skip rows indexed between a subscriber's replay and the feed's first read, and subscribers drop
 * whatever they already have.
 *
 * A chain reorganisation rolls back indexed rows below the position too, so each tick first reconciles the window of
 * `windowBlocks` blocks below it (default `reorgWindowBlocks`) with what the feed published there, which it records in
 * `app.published_assignment` (a new leader knows it too): what was published but is no longer indexed goes out again
 * as a retraction (`retracted: true`), then what is indexed there but was never published goes out late.
 *
 * `resolveFeedName` names the cursor after the chain it follows, so a cursor left by an earlier chain (a devnet
 * restart redeploys to the same addresses) is never applied to a new one.
 */
export function createChangeFeed(parameters: {
  db: Kysely<Database>
  views: Views
  pubsub: AssignmentPubSub
  log: Logger
  metrics?: ServerMetrics
  resolveFeedName: () => Promise<string>
  windowBlocks?: number
}) {
  const { db, views, pubsub, log } = parameters
  const windowBlocks = parameters.windowBlocks ?? reorgWindowBlocks
  /** The last position published; undefined until something is. */
  let position: FeedPosition | undefined
  let feed = ''
  let loaded = false

  /** The window's indexed assignments, up to the position. */
  async function indexedInWindow(through: FeedPosition): Promise<IndexedAssignment[]> {
    const rows: IndexedAssignment[] = []
    const after = windowStart(through, windowBlocks)
    for await (const row of eachAssignmentAfter(views, { after, through, pageSize: batch })) rows.push(row)
    return rows
  }

  async function load() {
    feed ||= await parameters.resolveFeedName()
    const cursor = await readFeedCursor(db, feed)
    position = cursor?.position
    if (cursor && !cursor.recordsPublished) {
      // Left by a feed that didn't record what it published: it published everything up to its cursor. Taken as
      // published rather than published again, which every subscriber resuming past it would receive twice.
      const window = await indexedInWindow(cursor.position)
      await db.transaction().execute(async (tx) => {
        await recordPublishedAssignments(tx, feed, window)
        await writeFeedCursor(tx, feed, cursor.position)
      })
    }
    loaded = true
    log.debug({ feed, position: describe(position) }, 'change feed loaded')
  }

  /**
   * Publishes the retractions of what was published in the window and is indexed no more, then what is indexed
   * there and was never published; returns how many of each went out.
   */
  async function reconcile(through: FeedPosition): Promise<{ retracted: number; late: number }> {
    const start = windowStart(through, windowBlocks)
    // Mostly nothing changed: the window's digests, compared in Postgres, say so without its rows (at 100 assignments
    // a block, 12,800 of them each tick, read twice).
    const [publishedDigest, indexedDigest] = await Promise.all([
      digestPublishedAssignments(db, { feed, after: start, through }),
      digestAssignmentsBetween(views, { after: start, through }),
    ])
    if (publishedDigest.count === indexedDigest.count && publishedDigest.hashSum === indexedDigest.hashSum) {
      if (start) await prunePublishedAssignments(db, feed, start)
      return { retracted: 0, late: 0 }
    }
    const [published, indexed] = await Promise.all([
      findPublishedAssignments(db, { feed, after: start, through }),
      indexedInWindow(through),
    ])
    const indexedKeys = new Set(indexed.map(assignmentKey))
    const publishedKeys = new Set(published.map(assignmentKey))
    const missing = published.filter((a) => !indexedKeys.has(assignmentKey(a)))
    const late = indexed.filter((a) => !publishedKeys.has(assignmentKey(a)))
    const { gone, superseded } = await sortMissing(missing)
    // Published before they are forgotten or recorded: a leader killed in between leaves its successor to publish them
    // again (subscribers drop what they already have), never to skip them.
    if (gone.length) await pubsub.publish(gone.map((a) => ({ ...a, retracted: true })))
    await forgetPublishedAssignments(db, feed, [...gone, ...superseded])
    if (late.length) {
      await pubsub.publish(late)
      await recordPublishedAssignments(db, feed, late)
    }
    if (start) await prunePublishedAssignments(db, feed, start)
    return { retracted: gone.length, late: late.length }
  }

  /**
   * Splits published assignments no longer indexed into those a reorganisation removed and those a later round of the
   * same job and provider overwrote (the indexer keeps one row per job and provider): only the first are retracted.
   */
  async function sortMissing(missing: PublishedAssignment[]) {
    if (!missing.length) return { gone: [], superseded: [] }
    const current = new Map<string, IndexedAssignment>()
    for (const row of await findAssignmentsByJobIds(views, [...new Set(missing.map((a) => a.jobId.toString()))])) current.set(row.id, row)
    const overwritten = (a: PublishedAssignment) => (current.get(a.id)?.round ?? 0) > a.round
    return { gone: missing.filter((a) => !overwritten(a)), superseded: missing.filter(overwritten) }
  }

  /** Publishes what was indexed after the position, in batches; returns how many went out. */
  async function forward(): Promise<number> {
    let published = 0
    for (;;) {
      const rows = await findAssignmentsAfter(views, { after: position, limit: batch })
      const last = rows.at(-1)
      if (!last) break
      // Published before the cursor moves: a leader killed in between leaves the cursor behind, and its successor
      // publishes these again (subscribers drop what they already have), never skips them.
      await pubsub.publish(rows)
      const next = positionOf(last)
      await db.transaction().execute(async (tx) => {
        await recordPublishedAssignments(tx, feed, rows)
        await writeFeedCursor(tx, feed, next)
      })
      position = next
      published += rows.length
      if (rows.length < batch) break
    }
    return published
  }

  return {
    /** Reconciles the window below the position, then publishes everything new; returns how many events went out. */
    async tick(): Promise<number> {
      if (!loaded) await load()
      const { retracted, late } = position ? await reconcile(position) : { retracted: 0, late: 0 }
      if (retracted || late) log.warn({ feed, retracted, late }, 'change feed: a chain reorganisation changed published assignments')
      const published = late + (await forward())
      if (published) {
        parameters.metrics?.feedPublished.inc(published)
        log.debug({ published, position: describe(position) }, 'change feed published')
      }
      return published + retracted
    },
    /** Forget the in-memory position (after losing leadership another replica may move it). */
    reset() {
      loaded = false
      position = undefined
    },
  }
}

/** A position as a log field. */
function describe(position: FeedPosition | undefined) {
  return position && { blockNumber: String(position.blockNumber), logIndex: position.logIndex }
}
