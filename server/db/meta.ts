import { type QueryCreator, sql } from 'kysely'
import type { Database } from './database.ts'

/**
 * The last block the indexer has processed, from Ponder's `_ponder_checkpoint` (exposed in the
 * views schema). A checkpoint is fixed-width digits: timestamp(10) chainId(16) blockNumber(16) …
 */
export async function indexedBlock(views: QueryCreator<Database>): Promise<{ blockNumber: bigint; timestamp: bigint } | undefined> {
  const row = await views.selectFrom('_ponderCheckpoint').select('latestCheckpoint').orderBy('chainId').limit(1).executeTakeFirst()
  if (!row) return undefined
  const c = row.latestCheckpoint
  return { timestamp: BigInt(c.slice(0, 10)), blockNumber: BigInt(c.slice(26, 42)) }
}

/** Whether the views schema exists and has the indexer's tables. */
export async function viewsSchemaPresent(db: { selectFrom: QueryCreator<any>['selectFrom'] }, viewsSchema: string): Promise<boolean> {
  const r = await (db as QueryCreator<any>)
    .selectFrom('information_schema.tables')
    .select(sql<string>`count(*)`.as('n'))
    .where('table_schema', '=', viewsSchema)
    .where('table_name', 'in', ['job', 'provider', 'assignment'])
    .executeTakeFirst()
  return Number((r as { n?: string } | undefined)?.n ?? 0) === 3
}
