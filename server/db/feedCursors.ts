import type { Kysely } from 'kysely'
import type { Database } from './database.ts'

/** A change-feed position: the last (block_number, log_index) published. */
export type FeedPosition = { blockNumber: bigint; logIndex: number }

/**
 * How far the change feed `name` has published, if it ever has, and whether it records what it publishes in
 * `app.published_assignment` (false for a cursor written before feeds did).
 */
export async function readFeedCursor(
  db: Kysely<Database>,
  name: string,
): Promise<{ position: FeedPosition; recordsPublished: boolean } | undefined> {
  const row = await db.selectFrom('app.feedCursor').selectAll().where('name', '=', name).executeTakeFirst()
  return row && { position: { blockNumber: BigInt(row.blockNumber), logIndex: row.logIndex }, recordsPublished: row.recordsPublished }
}

/** Records how far the change feed `name` has published (a feed that records what it publishes: see `readFeedCursor`). */
export async function writeFeedCursor(db: Kysely<Database>, name: string, position: FeedPosition): Promise<void> {
  const values = {
    name,
    blockNumber: position.blockNumber.toString(),
    logIndex: position.logIndex,
    recordsPublished: true,
    updatedAt: new Date(),
  }
  const { blockNumber, logIndex, recordsPublished, updatedAt } = values
  await db
    .insertInto('app.feedCursor')
    .values(values)
    .onConflict((oc) => oc.column('name').doUpdateSet({ blockNumber, logIndex, recordsPublished, updatedAt }))
    .execute()
}
