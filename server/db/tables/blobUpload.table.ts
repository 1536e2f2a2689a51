import type { ColumnType, Insertable, Selectable } from 'kysely'
import type { Address } from 'viem'

/**
 * `app.blob_upload`: one row per (blob, account that uploaded it). The same bytes uploaded by two accounts count
 * against both quotas, and either may read them; a blob is public when any of its uploaders said so.
 */
export interface BlobUploadTable {
  /** `0x`-prefixed lower-case sha256; deleted with its `app.blob` row. */
  sha256: string
  /** Lower-case. */
  uploader: Address
  /** The blob's size, repeated here so a quota sums one table. */
  size: ColumnType<string, string | bigint, string | bigint>
  public: boolean
  uploadedAt: Date
}

export type BlobUploadRow = Selectable<BlobUploadTable>
export type NewBlobUpload = Insertable<BlobUploadTable>
