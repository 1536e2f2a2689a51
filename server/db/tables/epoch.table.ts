import type { Selectable } from 'kysely'
import type { Hex } from 'viem'
import type { Numeric } from './numeric.ts'

/**
 * The indexer's `epoch` table, read through the views schema: one row per closed epoch (`EpochAdvanced`), plus
 * the rewards claimed from it. WAD fields are 1e18 fixed point.
 */
export interface EpochTable {
  id: Numeric
  fees: Numeric
  units: Numeric
  /** Paid units counted as compute: each provider's only up to its attested capacity. */
  compute: Numeric
  /** Capacity (units per epoch) of the providers that passed a challenge in the epoch. */
  attested: Numeric
  utilisation: Numeric
  feeEma: Numeric
  utilisationEma: Numeric
  phi: Numeric
  baseAvailability: Numeric
  usageEmission: Numeric
  availabilityEmission: Numeric
  forfeited: Numeric
  cap: Numeric
  /** economics' `Limiter` value. */
  limiter: number
  claimed: Numeric
  blockNumber: Numeric
  timestamp: Numeric
  txHash: Hex
}

export type EpochRow = Selectable<EpochTable>
