import { type Kysely, sql } from 'kysely'

/**
 * Adds `app.heartbeat.models`: the model hashes (lower-case, sorted) a provider reported warm in its latest heartbeat,
 * which the matcher prefers for jobs of those models. Heartbeats from before, or from agents that report none, hold `{}`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('app')
    .alterTable('heartbeat')
    .addColumn('models', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('app').alterTable('heartbeat').dropColumn('models').execute()
}
