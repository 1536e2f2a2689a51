import type { Selectable } from 'kysely'
import type { Numeric } from './numeric.ts'

/** Ponder's own `_ponder_checkpoint` table, exposed in the views schema next to the indexer's tables. */
export interface PonderCheckpointTable {
  chainName: string
  chainId: Numeric | number
  /** Fixed-width digits: timestamp(10) chainId(16) blockNumber(16) … */
  latestCheckpoint: string
  safeCheckpoint: string
  finalizedCheckpoint: string
}

export type PonderCheckpointRow = Selectable<PonderCheckpointTable>
