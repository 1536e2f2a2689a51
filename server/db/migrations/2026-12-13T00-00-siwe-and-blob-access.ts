import { type Kysely, sql } from 'kysely'

/**
 * Sign-In with Ethereum and who may use the blob store:
 * - `app.siwe_nonce` (single-use nonces with an expiry) and `app.session` (bearer tokens, stored as their sha256);
 * - `app.blob_upload`: who uploaded each blob, when, and whether they made it public (quotas and reads go by it);
 * - `app.blob.last_uploaded_at` (blobs stored before this count as uploaded when they were created) and
 *   `app.blob.referenced_at`, set once a job references the blob: the sweep deletes unreferenced blobs a TTL after
 *   their last upload.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('app')
    .createTable('siwe_nonce')
    .addColumn('nonce', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.withSchema('app').createIndex('siwe_nonce_expires').on('siwe_nonce').column('expires_at').execute()
  await db.schema
    .withSchema('app')
    .createTable('session')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.withSchema('app').createIndex('session_expires').on('session').column('expires_at').execute()
  await db.schema
    .withSchema('app')
    .alterTable('blob')
    .addColumn('last_uploaded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('referenced_at', 'timestamptz')
    .execute()
  await sql`update app.blob set last_uploaded_at = created_at`.execute(db)
  await sql`create index blob_unreferenced on app.blob (last_uploaded_at) where referenced_at is null`.execute(db)
  await db.schema
    .withSchema('app')
    .createTable('blob_upload')
    .addColumn('sha256', 'text', (c) => c.notNull().references('app.blob.sha256').onDelete('cascade'))
    .addColumn('uploader', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('public', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('uploaded_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_upload_pkey', ['sha256', 'uploader'])
    .execute()
  await db.schema.withSchema('app').createIndex('blob_upload_uploader').on('blob_upload').column('uploader').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('app').dropTable('blob_upload').ifExists().execute()
  await db.schema.withSchema('app').alterTable('blob').dropColumn('referenced_at').dropColumn('last_uploaded_at').execute()
  await db.schema.withSchema('app').dropTable('session').ifExists().execute()
  await db.schema.withSchema('app').dropTable('siwe_nonce').ifExists().execute()
}
