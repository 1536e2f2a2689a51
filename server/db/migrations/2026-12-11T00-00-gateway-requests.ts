import { type Kysely, sql } from 'kysely'

/**
 * Adds `app.gateway_request`: the requests the job gateway accepted (submit, cancel, withdraw; protocol/gateway.ts),
 * each with its signature and what became of it. A request's `amount` is held from its account's balance while it is
 * QUEUED, SENDING or DONE; a FAILED one holds nothing. An account uses each nonce once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('app')
    .createTable('gateway_request')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('account', 'text', (c) => c.notNull())
    .addColumn('nonce', sql`numeric(20,0)`, (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('amount', sql`numeric(78,0)`, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('job_id', sql`numeric(78,0)`)
    .addColumn('tx_hash', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('gateway_request_account_nonce', ['account', 'nonce'])
    .execute()
  await db.schema.withSchema('app').createIndex('gateway_request_status').on('gateway_request').columns(['status', 'seq']).execute()
  await db.schema.withSchema('app').createIndex('gateway_request_job').on('gateway_request').column('job_id').execute()
  await db.schema.withSchema('app').createIndex('gateway_request_tx').on('gateway_request').column('tx_hash').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('app').dropTable('gateway_request').ifExists().execute()
}
