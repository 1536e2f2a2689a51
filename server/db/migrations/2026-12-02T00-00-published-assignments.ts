import { type Kysely, sql } from 'kysely'

/**
 * Adds `app.published_assignment`, what each change feed published in its recent window (so a leader after failover
 * can retract what a reorg removed), and `app.feed_cursor.records_published`: false on a cursor left by a feed from
 * before that table, whose window the next feed takes as published once instead of publishing it again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('app')
    .createTable('published_assignment')
    .addColumn('feed', 'text', (c) => c.notNull())
    .addColumn('block_number', sql`numeric(78,0)`, (c) => c.notNull())
    .addColumn('log_index', 'integer', (c) => c.notNull())
    .addColumn('job_id', sql`numeric(78,0)`, (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('commit_deadline', sql`numeric(78,0)`, (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('round', 'integer', (c) => c.notNull())
    .addColumn('slot', 'integer', (c) => c.notNull())
    .addColumn('price_per_unit', sql`numeric(78,0)`, (c) => c.notNull())
    .addColumn('collateral', sql`numeric(78,0)`, (c) => c.notNull())
    .addPrimaryKeyConstraint('published_assignment_pkey', ['feed', 'block_number', 'log_index', 'job_id', 'provider', 'commit_deadline'])
    .execute()
  await db.schema
    .withSchema('app')
    .alterTable('feed_cursor')
    .addColumn('records_published', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('app').alterTable('feed_cursor').dropColumn('records_published').execute()
  await db.schema.withSchema('app').dropTable('published_assignment').ifExists().execute()
}
