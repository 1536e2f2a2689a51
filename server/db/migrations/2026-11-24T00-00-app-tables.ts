import { type Kysely, sql } from 'kysely'

/** Creates the server-owned `app` tables: blobs, heartbeats, change-feed cursors. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createSchema('app').ifNotExists().execute()
  await db.schema
    .withSchema('app')
    .createTable('blob')
    .addColumn('sha256', 'text', (c) => c.primaryKey())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema
    .withSchema('app')
    .createTable('heartbeat')
    .addColumn('provider', 'text', (c) => c.primaryKey())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema
    .withSchema('app')
    .createTable('feed_cursor')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('block_number', sql`numeric(78,0)`, (c) => c.notNull())
    .addColumn('log_index', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('app').dropTable('feed_cursor').ifExists().execute()
  await db.schema.withSchema('app').dropTable('heartbeat').ifExists().execute()
  await db.schema.withSchema('app').dropTable('blob').ifExists().execute()
}
