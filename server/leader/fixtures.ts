import type { Address } from 'viem'
import { TSR } from '../../protocol/units.ts'
import type { MatchJob, MatchProvider } from './matchJobs.ts'

/** Test fixtures of the matcher's inputs. */

/** The address `0x00…0n`. */
export const addr = (n: number): Address => `0x${n.toString(16).padStart(40, '0')}`

export const regionEu = `0x${'65'.padEnd(64, '0')}`
export const regionUs = `0x${'75'.padEnd(64, '0')}`

/**
 * A live, registered provider in the EU with 1000 TSR staked, asking 10 per unit, idle, a newcomer's reputation (0.5),
 * no model warm, unless `over` says otherwise.
 */
export const provider = (n: number, over: Partial<MatchProvider> = {}): MatchProvider => ({
  address: addr(n),
  registered: true,
  paused: false,
  stake: 1000n * TSR,
  locked: 0n,
  pendingUnstake: 0n,
  pricePerUnit: 10n,
  vramMib: 24_000n,
  gpuModel: 1n,
  region: regionEu,
  live: true,
  activeAssignments: 0,
  reputation: 0.5,
  warmModels: [],
  ...over,
})

/** The model hash of {@link job}s unless told otherwise. */
export const modelA = `0x${'a1'.repeat(32)}`

/**
 * A redundant k=2 job of {@link modelA}, 10 units at up to 100 per unit, needing 8000 MiB, due at 2000, unless `over`
 * says otherwise.
 */
export const job = (id: bigint, over: Partial<MatchJob> = {}): MatchJob => ({
  id,
  modelHash: modelA,
  maxPricePerUnit: 100n,
  units: 10n,
  redundancy: 2,
  verification: 'REDUNDANT',
  minVramMib: 8000n,
  gpuModel: 0n,
  regions: [],
  deadline: 2000n,
  ...over,
})
