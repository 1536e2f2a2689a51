import type { Selectable } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/** The indexer's `challenge_record` table, read through the views schema: one `ChallengeRecorded` per row. */
export interface ChallengeRecordTable {
  id: string
  round: Numeric
  jobId: Numeric
  /** Lower-case. */
  provider: Address
  passed: boolean
  /** uint64: the throughput the challenge showed. */
  unitsPerHour: Numeric
  blockNumber: Numeric
  logIndex: number
  timestamp: Numeric
  txHash: Hex
}

export type ChallengeRecordRow = Selectable<ChallengeRecordTable>
