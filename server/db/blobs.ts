import type { Kysely } from 'kysely'
import type { Database } from './database.ts'
import type { BlobRow } from './tables/blob.table.ts'

export async function insertBlob(db: Kysely<Database>, blob: { sha256: string; size: bigint }): Promise<void> {
  await db
    .insertInto('app.blob')
    .values({ sha256: blob.sha256, size: blob.size.toString() })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute()
}

export async function findBlob(db: Kysely<Database>, sha256: string): Promise<BlobRow | undefined> {
  return db.selectFrom('app.blob').selectAll().where('sha256', '=', sha256).executeTakeFirst()
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
