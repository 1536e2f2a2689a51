import type { Kysely } from 'kysely'
import { sql } from 'kysely'

/**
 * `app.blob.kind`: what an upload said the bytes are (`PUT /blobs?kind=model|input`) once the server checked them (a
 * model that loads in onnxruntime, an input that is a tensor blob); null for bytes stored without a kind. The public
 * models are listed by it (`Query.models`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('app').alterTable('blob').addColumn('kind', 'text').execute()
  await sql`create index blob_models on app.blob (created_at) where kind = 'model'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists app.blob_models`.execute(db)
  await db.schema.withSchema('app').alterTable('blob').dropColumn('kind').execute()
}
