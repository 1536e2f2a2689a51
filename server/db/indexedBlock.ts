import type { Views } from './database.ts'

/**
 * The last block the indexer has processed, from Ponder's `_ponder_checkpoint` (exposed in the views schema);
 * undefined before it processed any. A checkpoint is fixed-width digits: timestamp(10) chainId(16) blockNumber(16) …
 */
export async function indexedBlock(views: Views): Promise<{ blockNumber: bigint; timestamp: bigint } | undefined> {
  const row = await views.selectFrom('_ponderCheckpoint').select('latestCheckpoint').orderBy('chainId').limit(1).executeTakeFirst()
  if (!row) return undefined
  const c = row.latestCheckpoint
  return { timestamp: BigInt(c.slice(0, 10)), blockNumber: BigInt(c.slice(26, 42)) }
}
