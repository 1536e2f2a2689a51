import type { Kysely } from 'kysely'
import type { Database } from './database.ts'
import type { BlobRow } from './tables/blob.table.ts'

export async function insertBlob(db: Kysely<Database>, blob: { sha256: string; size: bigint }): Promise<void> {
  await db.insertInto('app.blob').values({ sha256: blob.sha256, size: blob.size.toString() }).onConflict((oc) => oc.column('sha256').doNothing()).execute()
}

export async function findBlob(db: Kysely<Database>, sha256: string): Promise<BlobRow | undefined> {
  return db.selectFrom('app.blob').selectAll().where('sha256', '=', sha256).executeTakeFirst()
}
