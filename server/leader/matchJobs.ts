import type { Address } from 'viem'
import type { MarketParams, RegistryParams } from '../../protocol/deployment.ts'
import { collateralOf } from '../../protocol/settlement.ts'

/** A provider as the matcher sees it (from the indexer's `provider` row plus liveness). */
export type MatchProvider = {
  address: Address
  registered: boolean
  paused: boolean
  stake: bigint
  locked: bigint
  pendingUnstake: bigint
  pricePerUnit: bigint
  /** uint32 on chain, so a bigint as the indexer's `numeric` column. */
  vramMib: bigint
  gpuModel: bigint
  /** bytes32, lower-case hex. */
  region: string
  /** Heartbeat within the liveness window. */
  live: boolean
  /** Assignments of a round in flight (ASSIGNED/COMMITTED/REVEALED jobs), for spreading load. */
  activeAssignments: number
}

/** What a job asks of its providers and pays them: the spec the matcher and `quoteJob` judge. */
export type JobSpec = {
  maxPricePerUnit: bigint
  units: bigint
  /** k: how many providers run it. */
  redundancy: number
  /** uint32 on chain, so a bigint as the indexer's `numeric` column. */
  minVramMib: bigint
  /** uint32; 0 = any. */
  gpuModel: bigint
  /** Allowed regions (bytes32 lower-case hex); empty = any. */
  regions: readonly string[]
}

/** A job waiting for providers (OPEN, or DISPUTED for its tie-break) as the matcher sees it. */
export type MatchJob = JobSpec & {
  id: bigint
  /** Unix seconds. */
  deadline: bigint
  /** Providers (any case) that no-showed this job: JobMarket never assigns them it again (`ProviderWasNoShow`). */
  noShows?: readonly string[]
  /** A disputed job's first round (any case): its tie-break needs fresh providers (`ProviderInDispute`). */
  disputedProviders?: readonly string[]
}

/** The deployment parameters eligibility depends on (pass `deployment.params`). */
export type MatchParams = { registry: Pick<RegistryParams, 'minStake'>; market: Pick<MarketParams, 'collateralBps'> }

export type MatchJobsParameters = {
  jobs: readonly MatchJob[]
  providers: readonly MatchProvider[]
  params: MatchParams
  /** Chain time (latest block timestamp), unix seconds. */
  now: bigint
  /** Collateral already promised by assign transactions not yet indexed, per lower-case address. */
  reserved?: ReadonlyMap<string, bigint>
}

export type MatchJobsReturnType = {
  /** `collaterals[i]` is what `providers[i]` locks: its own ask × units × collateralBps / BPS. */
  assignments: { jobId: bigint; providers: Address[]; collaterals: bigint[] }[]
  /** Jobs left unassigned this round and why (for logs and `quote`). */
  skipped: { jobId: bigint; reason: 'DEADLINE_PASSED' | 'NOT_ENOUGH_PROVIDERS'; eligible: number }[]
}

/** What `provider` locks for a slot of `job`: collateral follows its own ask (JobMarket `collateralOf`). */
export function slotCollateralOf(provider: Pick<MatchProvider, 'pricePerUnit'>, job: Pick<JobSpec, 'units'>, params: MatchParams): bigint {
  return collateralOf({ ask: provider.pricePerUnit, units: job.units }, params.market)
}

/**
 * Whether `provider` could take a slot of `job` (the contract's `assign` checks, plus liveness):
 * not a no-show of the job nor a party to its dispute, registered, not paused, stake − pending ≥ minStake, free stake (less
 * `reserved`) ≥ its collateral for the job, ask ≤ max price, VRAM ≥ min, GPU model match when the
 * job names one, region allowed.
 */
export function isEligible(
  provider: MatchProvider,
  job: Pick<MatchJob, 'maxPricePerUnit' | 'units' | 'minVramMib' | 'gpuModel' | 'regions' | 'noShows' | 'disputedProviders'>,
  parameters: { params: MatchParams; reserved: bigint },
): boolean {
  const address = provider.address.toLowerCase()
  const refused = (providers: readonly string[] | undefined) => providers?.some((p) => p.toLowerCase() === address)
  if (refused(job.noShows) || refused(job.disputedProviders)) return false
  if (!provider.registered || provider.paused || !provider.live) return false
  if (provider.stake - provider.pendingUnstake < parameters.params.registry.minStake) return false
  const collateral = slotCollateralOf(provider, job, parameters.params)
  if (provider.stake - provider.locked - provider.pendingUnstake - parameters.reserved < collateral) return false
  if (provider.pricePerUnit > job.maxPricePerUnit) return false
  if (provider.vramMib < job.minVramMib) return false
  if (job.gpuModel !== 0n && provider.gpuModel !== job.gpuModel) return false
  if (job.regions.length && !job.regions.some((r) => r.toLowerCase() === provider.region.toLowerCase())) return false
  return true
}

/**
 * Picks providers for jobs waiting for them, oldest job first: the k cheapest distinct eligible providers (never
 * one that no-showed the job, nor, for a disputed job's tie-break, one of its first round), ties broken by fewer active assignments, then by address. Collateral
 * and load picked for one job count against the same providers for the next, so one round never
 * over-commits a provider. Pure: no I/O, deterministic for the same input.
 */
export function matchJobs(parameters: MatchJobsParameters): MatchJobsReturnType {
  const reserved = new Map(parameters.reserved ?? [])
  const load = new Map(parameters.providers.map((p) => [p.address.toLowerCase(), p.activeAssignments]))
  const assignments: MatchJobsReturnType['assignments'] = []
  const skipped: MatchJobsReturnType['skipped'] = []
  const jobs = [...parameters.jobs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (const job of jobs) {
    if (job.deadline <= parameters.now) {
      skipped.push({ jobId: job.id, reason: 'DEADLINE_PASSED', eligible: 0 })
      continue
    }
    const eligible = parameters.providers.filter((p) =>
      isEligible(p, job, { params: parameters.params, reserved: reserved.get(p.address.toLowerCase()) ?? 0n }),
    )
    if (eligible.length < job.redundancy || job.redundancy < 1) {
      skipped.push({ jobId: job.id, reason: 'NOT_ENOUGH_PROVIDERS', eligible: eligible.length })
      continue
    }
    eligible.sort((a, b) => {
      if (a.pricePerUnit !== b.pricePerUnit) return a.pricePerUnit < b.pricePerUnit ? -1 : 1
      const la = load.get(a.address.toLowerCase()) ?? 0
      const lb = load.get(b.address.toLowerCase()) ?? 0
      if (la !== lb) return la - lb
      const aa = a.address.toLowerCase()
      const ba = b.address.toLowerCase()
      return aa < ba ? -1 : aa > ba ? 1 : 0
    })
    const chosen = eligible.slice(0, job.redundancy)
    const collaterals = chosen.map((p) => slotCollateralOf(p, job, parameters.params))
    for (const [i, p] of chosen.entries()) {
      const key = p.address.toLowerCase()
      reserved.set(key, (reserved.get(key) ?? 0n) + collaterals[i])
      load.set(key, (load.get(key) ?? 0) + 1)
    }
    assignments.push({ jobId: job.id, providers: chosen.map((p) => p.address), collaterals })
  }
  return { assignments, skipped }
}
