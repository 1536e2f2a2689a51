import type { ColumnType, Insertable, Selectable } from 'kysely'

/** `app.feed_cursor`: how far each change feed has published, as (block_number, log_index). */
export interface FeedCursorTable {
  name: string
  blockNumber: ColumnType<string, string | bigint, string | bigint>
  logIndex: number
  updatedAt: ColumnType<Date, Date | undefined, Date>
}

export type FeedCursorRow = Selectable<FeedCursorTable>
export type NewFeedCursor = Insertable<FeedCursorTable>
