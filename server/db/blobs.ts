import type { Kysely } from 'kysely'
import { toBigInt } from './convert.ts'
import type { Database } from './database.ts'

/** A stored blob's record; the bytes live under `<dataDir>/blobs/`. */
export type StoredBlob = { sha256: string; size: bigint; createdAt: Date }

/** Records a stored blob; a blob already recorded stays as it is. */
export async function insertBlob(db: Kysely<Database>, blob: { sha256: string; size: bigint }): Promise<void> {
  await db
    .insertInto('app.blob')
    .values({ sha256: blob.sha256, size: blob.size.toString() })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute()
}

/** The record of a stored blob, if there is one. */
export async function findBlob(db: Kysely<Database>, sha256: string): Promise<StoredBlob | undefined> {
  const row = await db.selectFrom('app.blob').selectAll().where('sha256', '=', sha256).executeTakeFirst()
  return row && { sha256: row.sha256, size: toBigInt(row.size), createdAt: row.createdAt }
}

/** Of `hashes` (0x lower-case sha256), those with a stored blob. */
export async function findStoredBlobs(db: Kysely<Database>, hashes: readonly string[]): Promise<Set<string>> {
  if (!hashes.length) return new Set()
  const rows = await db
    .selectFrom('app.blob')
    .select('sha256')
    .where('sha256', 'in', [...new Set(hashes)])
    .execute()
  return new Set(rows.map((r) => r.sha256))
}
