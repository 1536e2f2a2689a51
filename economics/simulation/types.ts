import type { EpochOutputs } from '../emissionLaw.ts'

/**
 * What one simulated run produces, shared by the simulator (`simulate.ts`, the scenarios), the CLI's report and charts
 * (`report.ts`, `charts.ts`) and the scenario tests. Token amounts are TSR wei (bigint); ratios are numbers.
 */

/** One simulated epoch (one economic day): the law's outputs and the market around them. */
export type SimulatedEpoch = {
  /** The controller's `EpochAdvanced` fields for the epoch, exactly as `stepEpoch` computed them. */
  law: EpochOutputs
  /** Fees requesters paid for organic (honest) jobs: supply-side fees to providers. */
  organicFees: bigint
  /** Fees of the attacker's self-dealt jobs (0 without an attacker). */
  washFees: bigint
  /** The take burned: τ·fees rounded up per job, at least the minimum take per job. */
  burned: bigint
  /** Rewards minted to honest providers for the epoch (usage + availability). */
  honestRewards: bigint
  /** Rewards minted to the attacker's identities for the epoch. */
  attackerRewards: bigint
  /** The attacker's costs for the epoch: burned take of its wash jobs, stake slashed, hardware it runs. */
  attackerCosts: bigint
  /** Token supply after the epoch's claims and burns. */
  supply: bigint
  /** Providers active (registered and serving) at the end of the epoch. */
  providers: number
  /** Attested capacity (units per epoch) of the providers that passed a challenge. */
  attestedCapacity: bigint
  /** Clearing price per unit, per GPU class, from the matcher's rules (TSR wei per unit). */
  clearingPrice: Record<string, bigint>
}

/** A scenario's pass bar and whether the run met it. */
export type BarVerdict = {
  /** e.g. "coverage ≥ 0.5 by year 2". */
  bar: string
  /** The measured value the bar reads, in the bar's own units. */
  measured: number
  /** The threshold the measured value is compared with. */
  threshold: number
  passed: boolean
}

/** One run of one scenario (one cell of S6 is one run). */
export type SimulationRun = {
  /** Scenario id and, for a grid, the cell: "S1", "S6 share=0.2 wash=1.0 regime=demand". */
  name: string
  seed: number
  epochs: SimulatedEpoch[]
  verdicts: BarVerdict[]
  /** Headline numbers for the report (e.g. "coverage year 2": 0.61). */
  headline: Record<string, number>
}
