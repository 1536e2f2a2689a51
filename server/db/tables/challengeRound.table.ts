import type { Selectable } from 'kysely'
import type { Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/**
 * The indexer's `challenge_round` table, read through the views schema: one row per round of challenge jobs
 * (ChallengeLedger `RoundCommitted`), its seed once revealed (`RoundRevealed`) and counts of its records.
 */
export interface ChallengeRoundTable {
  /** uint64, from 1. */
  round: Numeric
  /** keccak256(abi.encode(seed)), lower-case. */
  seedHash: Hex
  /** Null until revealed. */
  seed: Hex | null
  /** Unix seconds (chain time) of the commit and of the reveal (null until then). */
  committedAt: Numeric
  revealedAt: Numeric | null
  recorded: number
  passed: number
  failed: number
  blockNumber: Numeric
  txHash: Hex
}

export type ChallengeRoundRow = Selectable<ChallengeRoundTable>
