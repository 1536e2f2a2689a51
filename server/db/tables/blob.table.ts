import type { ColumnType, Insertable, Selectable } from 'kysely'

/** `app.blob`: one row per stored content-addressed blob; the bytes live under `<dataDir>/blobs/`. */
export interface BlobTable {
  /** `0x`-prefixed lower-case sha256 of the bytes. */
  sha256: string
  /** bigint in SQL; pg returns it as a string. */
  size: ColumnType<string, string | bigint, never>
  createdAt: ColumnType<Date, never, never>
}

export type BlobRow = Selectable<BlobTable>
export type NewBlob = Insertable<BlobTable>
