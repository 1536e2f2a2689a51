import type { ColumnType, Insertable, Selectable } from 'kysely'

/** `app.feed_cursor`: how far each change feed has published, as (block_number, log_index). */
export interface FeedCursorTable {
  name: string
  blockNumber: ColumnType<string, string | bigint, string | bigint>
  logIndex: number
  /**
   * Whether the feed records what it publishes in `app.published_assignment` (false: a cursor left by a feed from
   * before it did, whose window is taken as published once).
   */
  recordsPublished: ColumnType<boolean, boolean | undefined, boolean>
  updatedAt: ColumnType<Date, Date | undefined, Date>
}

export type FeedCursorRow = Selectable<FeedCursorTable>
export type NewFeedCursor = Insertable<FeedCursorTable>
