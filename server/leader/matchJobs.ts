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
  /** Assignments still in flight (ASSIGNED/COMMITTED/REVEALED jobs), for spreading load. */
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

/** An OPEN job as the matcher sees it. */
export type MatchJob = JobSpec & {
  id: bigint
  /** Unix seconds. */
  deadline: bigint
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
  assignments: { jobId: bigint; providers: Address[]; collateral: bigint }[]
  /** Jobs left unassigned this round and why (for logs and `quote`). */
  skipped: { jobId: bigint; reason: 'DEADLINE_PASSED' | 'NOT_ENOUGH_PROVIDERS'; eligible: number }[]
}

/**
 * Whether `provider` could take a slot of `job` (the contract's `assign` checks, plus liveness):
 * registered, not paused, stake − pending ≥ minStake, free stake (less `reserved`) ≥ collateral,
 * ask ≤ max price, VRAM ≥ min, GPU model match when the job names one, region allowed.
 */
export function isEligible(
  provider: MatchProvider,
  job: Pick<JobSpec, 'maxPricePerUnit' | 'minVramMib' | 'gpuModel' | 'regions'>,
  parameters: { minStake: bigint; collateral: bigint; reserved: bigint },
): boolean {
  if (!provider.registered || provider.paused || !provider.live) return false
  if (provider.stake - provider.pendingUnstake < parameters.minStake) return false
  if (provider.stake - provider.locked - provider.pendingUnstake - parameters.reserved < parameters.collateral) return false
  if (provider.pricePerUnit > job.maxPricePerUnit) return false
  if (provider.vramMib < job.minVramMib) return false
  if (job.gpuModel !== 0n && provider.gpuModel !== job.gpuModel) return false
  if (job.regions.length && !job.regions.some((r) => r.toLowerCase() === provider.region.toLowerCase())) return false
  return true
}

/**
 * Picks providers for open jobs, oldest job first: the k cheapest distinct eligible providers,
 * ties broken by fewer active assignments, then by address. Collateral and load picked for one job
 * count against the same providers for the next, so one round never over-commits a provider.
 * Pure: no I/O, deterministic for the same input.
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
    const collateral = collateralOf(job, parameters.params.market)
    const { minStake } = parameters.params.registry
    const eligible = parameters.providers.filter((p) =>
      isEligible(p, job, { minStake, collateral, reserved: reserved.get(p.address.toLowerCase()) ?? 0n }),
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
    for (const p of chosen) {
      const key = p.address.toLowerCase()
      reserved.set(key, (reserved.get(key) ?? 0n) + collateral)
      load.set(key, (load.get(key) ?? 0) + 1)
    }
    assignments.push({ jobId: job.id, providers: chosen.map((p) => p.address), collateral })
  }
  return { assignments, skipped }
}
