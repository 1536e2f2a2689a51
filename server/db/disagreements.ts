import { anyOf } from './anyOf.ts'
import { type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
import type { DisagreementRow } from './tables/disagreement.table.ts'

const numericColumns = ['jobId', 'elementIndex', 'blockNumber', 'timestamp'] as const satisfies readonly (keyof DisagreementRow)[]

/** A disagreement under the tolerance proven on chain: the indexer's row, numbers as bigints. */
export type IndexedDisagreement = WithBigInts<DisagreementRow, (typeof numericColumns)[number]>

/** Disagreements proven in the given jobs, in chain order. */
export async function findDisagreementsByJobIds(views: Views, jobIds: readonly string[]): Promise<IndexedDisagreement[]> {
  const rows = await views
    .selectFrom('disagreement')
    .selectAll()
    .where(anyOf('jobId', jobIds, 'numeric'))
    .orderBy('blockNumber')
    .orderBy('logIndex')
    .execute()
  return rows.map((row) => withBigInts(row, numericColumns))
}
