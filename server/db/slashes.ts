import { anyOf } from './anyOf.ts'
import { type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
import type { SlashRow } from './tables/slash.table.ts'

const numericColumns = [
  'jobId',
  'amount',
  'toBeneficiary',
  'burned',
  'blockNumber',
  'timestamp',
] as const satisfies readonly (keyof SlashRow)[]

/** A ProviderRegistry `Slashed`: the indexer's row, amounts as bigints. */
export type IndexedSlash = WithBigInts<SlashRow, (typeof numericColumns)[number]>

/** The slashes of the given jobs, in chain order. */
export async function findSlashesByJobIds(views: Views, jobIds: readonly string[]): Promise<IndexedSlash[]> {
  const rows = await views
    .selectFrom('slash')
    .selectAll()
    .where(anyOf('jobId', jobIds, 'numeric'))
    .orderBy('blockNumber')
    .orderBy('logIndex')
    .execute()
  return rows.map((row) => withBigInts(row, numericColumns))
}
