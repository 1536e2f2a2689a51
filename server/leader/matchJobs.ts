import type { Address } from 'viem'
import type { MarketParams, RegistryParams } from '../../protocol/deployment.ts'
import type { VerificationName } from '../../protocol/enums.ts'
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
  /** `reputationOf(…).score` in [0, 1]; 0.5 for a newcomer. */
  reputation: number
  /** Model hashes (any case) its last heartbeat reported warm. */
  warmModels: readonly string[]
}

/** What a job asks of its providers and pays them: the spec the matcher and `quoteJob` judge. */
export type JobSpec = {
  maxPricePerUnit: bigint
  units: bigint
  /**
   * k: how many providers the round takes: the spec's k, 1 for an optimistic job, and for an optimistic job's audit
   * the auditors it asks for (1, then 2 when the auditor disagreed: the indexed row follows `AuditStarted`).
   */
  redundancy: number
  /** Redundant (k providers agree) or optimistic (one provider, spot-checked); an optimistic slot locks more collateral. */
  verification: VerificationName
  /** uint32 on chain, so a bigint as the indexer's `numeric` column. */
  minVramMib: bigint
  /** uint32; 0 = any. */
  gpuModel: bigint
  /** Allowed regions (bytes32 lower-case hex); empty = any. */
  regions: readonly string[]
}

/** A job waiting for providers (OPEN, or DISPUTED for its tie-break or an optimistic job's audit) as the matcher sees it. */
export type MatchJob = JobSpec & {
  id: bigint
  /** sha256 of the model (any case): a provider holding it warm is preferred. */
  modelHash: string
  /** Unix seconds. */
  deadline: bigint
  /** Providers (any case) that no-showed this job: JobMarket never assigns them it again (`ProviderWasNoShow`). */
  noShows?: readonly string[]
  /**
   * A disputed job's first round (any case): its tie-break needs fresh providers (`ProviderInDispute`). For an
   * optimistic job's audit, the original provider, then the auditor too once the audit escalated.
   */
  disputedProviders?: readonly string[]
  /**
   * The one provider (any case) this job's first round may go to: a challenge job (server/leader/challengeIssuer.ts)
   * is for its target alone. Never set for an audit, which needs fresh providers.
   */
  reservedFor?: string
}

/** The deployment parameters eligibility depends on (pass `deployment.params`). */
export type MatchParams = {
  registry: Pick<RegistryParams, 'minStake'>
  market: Pick<MarketParams, 'collateralBps' | 'optimisticCollateralBps'>
}

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
  /** `collaterals[i]` is what `providers[i]` locks: its own ask × units × collateralBps (optimisticCollateralBps) / BPS. */
  assignments: { jobId: bigint; providers: Address[]; collaterals: bigint[] }[]
  /** Jobs left unassigned this round and why (for logs and `quote`). */
  skipped: { jobId: bigint; reason: 'DEADLINE_PASSED' | 'NOT_ENOUGH_PROVIDERS'; eligible: number }[]
}

/**
 * What `provider` locks for a slot of `job`: collateral follows its own ask, `optimisticCollateralBps` of it in every
 * round of an optimistic job (JobMarket `collateralOf`).
 */
export function slotCollateralOf(
  provider: Pick<MatchProvider, 'pricePerUnit'>,
  job: Pick<JobSpec, 'units' | 'verification'>,
  params: MatchParams,
): bigint {
  return collateralOf({ ask: provider.pricePerUnit, units: job.units, verification: job.verification }, params.market)
}

/**
 * Whether `provider` could take a slot of `job` (the contract's `assign` checks, plus liveness):
 * not a no-show of the job nor a party to its dispute, the job's reserved provider when it names one, registered, not paused, stake − pending ≥ minStake, free stake (less
 * `reserved`) ≥ its collateral for the job, ask ≤ max price, VRAM ≥ min, GPU model match when the
 * job names one, region allowed.
 */
export function isEligible(
  provider: MatchProvider,
  job: Pick<
    MatchJob,
    'maxPricePerUnit' | 'units' | 'verification' | 'minVramMib' | 'gpuModel' | 'regions' | 'noShows' | 'disputedProviders' | 'reservedFor'
  >,
  parameters: { params: MatchParams; reserved: bigint },
): boolean {
  const address = provider.address.toLowerCase()
  const refused = (providers: readonly string[] | undefined) => providers?.some((p) => p.toLowerCase() === address)
  if (refused(job.noShows) || refused(job.disputedProviders)) return false
  if (job.reservedFor !== undefined && job.reservedFor.toLowerCase() !== address) return false
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
 * How much each term of {@link candidateScore}'s quality counts; they sum to 1. Reputation leads: a fault costs the
 * requester a tie-break or a lost round, more than a higher ask within its max. Price next: every agreeing provider is
 * paid its own ask. A warm model saves the download and load before the commit deadline.
 */
export const matchWeights = { reputation: 0.45, price: 0.35, warm: 0.2 } as const

/**
 * Assignments in flight that halve a provider's score. Load divides the score rather than adding a bounded term: a
 * provider's queue decides the latency of every job it is given, so however much better one scores idle, a queue long
 * enough hands jobs to the next. (As a term of the sum, at most 0.15 apart, a veteran with a hundred jobs in flight
 * still outscored an idle newcomer by its reputation alone, and the newcomer, never given work, never earned any.)
 */
export const loadHalving = 4

/**
 * How well `provider` suits `job`, in [0, 1], higher first: its quality, a weighted sum ({@link matchWeights}) of its
 * reputation, its ask's discount below the job's max price (1 − ask / max) and whether it holds the job's model warm
 * (1 or 0), divided by 1 + assignments in flight / {@link loadHalving}. So an idle, reputable, warm provider asking
 * nothing scores 1. Every term is a pure function of the inputs, so equal inputs score exactly equal and ties fall to
 * the address.
 */
export function candidateScore(
  provider: Pick<MatchProvider, 'reputation' | 'pricePerUnit' | 'warmModels'>,
  job: Pick<MatchJob, 'maxPricePerUnit' | 'modelHash'>,
  load: number,
): number {
  // ask ≤ max for an eligible provider; in millionths so asks of any size (uint256) divide exactly enough.
  const discount = job.maxPricePerUnit > 0n ? 1 - Number((provider.pricePerUnit * 1_000_000n) / job.maxPricePerUnit) / 1_000_000 : 1
  const model = job.modelHash.toLowerCase()
  const warm = provider.warmModels.some((m) => m.toLowerCase() === model) ? 1 : 0
  const reputation = Math.min(1, Math.max(0, provider.reputation))
  const quality = matchWeights.reputation * reputation + matchWeights.price * discount + matchWeights.warm * warm
  return quality / (1 + load / loadHalving)
}

/**
 * Picks providers for jobs waiting for them, oldest job first: the k distinct eligible providers (never one that
 * no-showed the job, nor, for a disputed job's tie-break or audit, one of the providers it judges) with the highest
 * {@link candidateScore} (reputation, price, warm model, load), ties broken by address. Collateral and load picked for
 * one job count against the same providers for the next, so one round never over-commits a provider and spreads jobs.
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
    const eligible = parameters.providers.filter((p) =>
      isEligible(p, job, { params: parameters.params, reserved: reserved.get(p.address.toLowerCase()) ?? 0n }),
    )
    if (eligible.length < job.redundancy || job.redundancy < 1) {
      skipped.push({ jobId: job.id, reason: 'NOT_ENOUGH_PROVIDERS', eligible: eligible.length })
      continue
    }
    const ranked = eligible
      .map((p) => ({ p, address: p.address.toLowerCase(), score: candidateScore(p, job, load.get(p.address.toLowerCase()) ?? 0) }))
      .sort((a, b) => b.score - a.score || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
    const chosen = ranked.slice(0, job.redundancy).map(({ p }) => p)
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
