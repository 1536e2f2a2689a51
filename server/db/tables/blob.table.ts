import type { ColumnType, Insertable, Selectable } from 'kysely'

/**
 * `app.blob`: one row per stored content-addressed blob; the bytes live under `<dataDir>/blobs/`. Who uploaded it, and
 * whether they made it public, is in `app.blob_upload`.
 */
export interface BlobTable {
  /** `0x`-prefixed lower-case sha256 of the bytes. */
  sha256: string
  /** bigint in SQL; pg returns it as a string. */
  size: ColumnType<string, string | bigint, never>
  createdAt: ColumnType<Date, never, never>
  /** The latest upload (or the server's own write) of these bytes: the blob expires a TTL after it unless referenced. */
  lastUploadedAt: ColumnType<Date, Date | undefined, Date>
  /** When the sweep first saw a job (or a gateway request) reference it: it is kept for good and leaves every quota. */
  referencedAt: ColumnType<Date | null, Date | null | undefined, Date | null>
  /** What an upload said the bytes are, once checked (`PUT /blobs?kind=`); null when none said. */
  kind: ColumnType<'model' | 'input' | null, 'model' | 'input' | null | undefined, 'model' | 'input' | null>
}

export type BlobRow = Selectable<BlobTable>
export type NewBlob = Insertable<BlobTable>
