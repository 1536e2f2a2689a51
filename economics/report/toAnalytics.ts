import {
  type AnalyticsEpoch,
  type AnalyticsParams,
  type EmissionsInterval,
  type EmissionsReport,
  type EpochClock,
  emissionsReport,
  limiterName,
} from '../analytics.ts'
import { emissionParams } from '../params.ts'
import { defaultMarketRules, EPOCH_SECONDS, HOURS_PER_EPOCH } from '../simulation/market.ts'
import { GENESIS_SUPPLY } from '../simulation/simulate.ts'
import type { SimulatedEpoch, SimulationRun } from '../simulation/types.ts'

/**
 * A simulated run as the analytics the API serves read it: one {@link AnalyticsEpoch} row per simulated epoch, so the
 * simulator's report and `emissionsVsUsage` compute every metric with the same functions of `analytics.ts`.
 *
 * The simulator reports its market in aggregate, not per address, so the per-address maps hold parties: payers
 * `organic` (all organic demand) and `attacker` (its self-dealt jobs); providers paid `market` (organic fees) and
 * `attacker` (wash fees); emission `honest` and `attacker`; attested capacity one `market` entry. Sums (gross and
 * supply-side fees, attested capacity) are exact; the counts and concentrations of those maps (providers paid, unique
 * payers, Herfindahl, top-10 share, repeat rate) count parties, and the emission Herfindahl reads the attacker's share
 * against the honest providers'. Jobs and challenges aren't reported per epoch: their counts are 0.
 */

/** The simulator's epoch clock: daily epochs from time 0 (the simulator has no chain time). */
export const simulationClock: EpochClock = { genesis: 0n, epochLength: EPOCH_SECONDS }

/** τ, κ, U* and db of a run with the simulator's defaults (`emissionParams`, `defaultMarketRules`). */
export const simulationAnalyticsParams: AnalyticsParams = {
  market: { takeBps: defaultMarketRules.takeBps },
  emission: emissionParams({ epochLength: EPOCH_SECONDS }),
}

/** A map of the parties with a non-zero amount (a party without one isn't there, as an address without a job). */
function parties(entries: [string, bigint][]): Map<string, bigint> {
  return new Map(entries.filter(([, amount]) => amount !== 0n))
}

/**
 * One {@link AnalyticsEpoch} per epoch of `run`, ascending.
 *
 * Minted and the other burns (stake slashed for failed challenges) come from the supply, which `simulate` keeps as
 * genesis + minted − burned: an epoch's supply change plus its burned take is `minted − otherBurned`. The simulator
 * pays every claim in the epoch that closes it, so an epoch mints the emission of the epochs it closed; in a keeper
 * outage no epoch closes and the supply only falls (a change ≤ 0: nothing minted), and the catch-up mints them all.
 * An epoch whose slashes outweigh its emission reads as closed late too, its emission minted with the next one's: the
 * totals stay exact.
 */
export function toAnalyticsEpochs(parameters: { run: SimulationRun; genesisSupply?: bigint }): AnalyticsEpoch[] {
  let supply = parameters.genesisSupply ?? GENESIS_SUPPLY
  let unminted = 0n
  return parameters.run.epochs.map((epoch: SimulatedEpoch) => {
    const { law } = epoch
    unminted += law.usageEmission + law.availabilityEmission
    const mintedLessOtherBurned = epoch.supply - supply + epoch.burned
    const minted = mintedLessOtherBurned > 0n ? unminted : 0n
    unminted -= minted
    supply = epoch.supply
    return {
      epoch: law.epoch,
      fees: law.fees,
      units: law.units,
      compute: law.compute,
      attested: law.attested,
      utilisation: law.utilisation,
      feeEma: law.feeEma,
      utilisationEma: law.utilisationEma,
      phi: law.phi,
      baseAvailability: law.baseAvailability,
      usageEmission: law.usageEmission,
      availabilityEmission: law.availabilityEmission,
      forfeited: law.forfeited,
      cap: law.cap,
      limiter: limiterName(law.limiter),
      takeBurned: epoch.burned,
      otherBurned: minted - mintedLessOtherBurned,
      minted,
      supply: epoch.supply,
      jobsCompleted: 0,
      jobsFailed: 0,
      payerFees: parties([
        ['organic', epoch.organicFees],
        ['attacker', epoch.washFees],
      ]),
      providerFees: parties([
        ['market', epoch.organicFees],
        ['attacker', epoch.washFees],
      ]),
      providerRewards: parties([
        ['honest', epoch.honestRewards],
        ['attacker', epoch.attackerRewards],
      ]),
      attestedCapacity: new Map([['market', epoch.attestedCapacity / BigInt(HOURS_PER_EPOCH)]]),
      challengesRecorded: 0,
      challengesPassed: 0,
    }
  })
}

/**
 * `emissionsReport` over a whole simulated run: a point per epoch (its own window for `EPOCH`, the rolling 7 or 30
 * ending at it for `D7`/`D30`), the run's totals and them annualised. `params` are the run's τ, κ, U*, db (the
 * simulator's defaults unless the run overrode them).
 */
export function simulationReport(parameters: {
  run: SimulationRun
  interval: EmissionsInterval
  params?: AnalyticsParams
  genesisSupply?: bigint
}): EmissionsReport {
  const rows = toAnalyticsEpochs(parameters)
  const last = rows[rows.length - 1]
  return emissionsReport({
    rows,
    from: rows[0]?.epoch ?? 0n,
    to: last?.epoch ?? -1n,
    interval: parameters.interval,
    clock: simulationClock,
    params: parameters.params ?? simulationAnalyticsParams,
  })
}
