import type { Kysely } from 'kysely'
import type { Database } from './database.ts'

/** A change-feed position: the last (block_number, log_index) published. */
export type FeedPosition = { blockNumber: bigint; logIndex: number }

/** How far the change feed `name` has published, if it ever has. */
export async function readFeedCursor(db: Kysely<Database>, name: string): Promise<FeedPosition | undefined> {
  const row = await db.selectFrom('app.feedCursor').selectAll().where('name', '=', name).executeTakeFirst()
  return row ? { blockNumber: BigInt(row.blockNumber), logIndex: row.logIndex } : undefined
}

/** Records how far the change feed `name` has published. */
export async function writeFeedCursor(db: Kysely<Database>, name: string, position: FeedPosition): Promise<void> {
  const values = { name, blockNumber: position.blockNumber.toString(), logIndex: position.logIndex, updatedAt: new Date() }
  await db
    .insertInto('app.feedCursor')
    .values(values)
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ blockNumber: values.blockNumber, logIndex: values.logIndex, updatedAt: values.updatedAt }),
    )
    .execute()
}
