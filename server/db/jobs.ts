import { type ExpressionBuilder, sql } from 'kysely'
import type { Address, Hex } from 'viem'
import { type JobStatusName, jobStatusNames, Verification, type VerificationName, verificationNames } from '../../protocol/enums.ts'
import { type AuditKindName, auditKindNames } from '../../protocol/spotCheck.ts'
import { anyOf } from './anyOf.ts'
import { toBigInt, type WithBigInts, withBigInts } from './convert.ts'
import type { Database, Views } from './database.ts'
import { type Keyset, orderColumns, type Page, type PageParameters, paginate } from './paginate.ts'
import type { JobRow } from './tables/job.table.ts'

const numericColumns = [
  'id',
  'units',
  'maxPricePerUnit',
  'minVramMib',
  'gpuModel',
  'deadline',
  'escrow',
  'commitDeadline',
  'revealDeadline',
  'revealBlock',
  'fees',
  'burned',
  'refunded',
  'openedAt',
  'firstClaimedAt',
  'submittedAt',
  'submittedBlock',
  'updatedBlock',
  'finalizedAt',
] as const satisfies readonly (keyof JobRow)[]

/** A job, its spec as submitted and its lifecycle: the indexer's row, amounts as bigints, verification by name. */
export type IndexedJob = WithBigInts<Omit<JobRow, 'verification'>, (typeof numericColumns)[number]> & { verification: VerificationName }

/** The domain value of a `job` row. */
function jobOf(row: JobRow): IndexedJob {
  return { ...withBigInts(row, numericColumns), verification: verificationNames[row.verification] ?? 'REDUNDANT' }
}

/** Filters of `jobs(where:)`, named as the API names them; any case of address and hash. */
export type JobFilter = {
  status?: JobStatusName | null
  status_in?: readonly JobStatusName[] | null
  requester?: string | null
  /** Jobs this provider was assigned to. */
  provider?: string | null
  id_in?: readonly bigint[] | null
  modelHash?: string | null
  /** Jobs (re)opened at or before this unix time (JobMarket's `openedAt`): waiting at least that long for providers. */
  openedBefore?: bigint | null
  verification?: VerificationName | null
  /** Optimistic jobs audited for this reason; NONE: optimistic jobs not audited (so far). */
  auditKind?: AuditKindName | null
}

/** Columns `jobs(orderBy:)` may sort on (all numeric, so keyset cursors compare as numbers). */
export const jobOrderColumns = orderColumns(['id', 'submittedAt', 'deadline', 'maxPricePerUnit', 'units', 'escrow'])
export type JobOrderBy = keyof typeof jobOrderColumns

function filteredJobs(views: Views, filter: JobFilter) {
  let q = views.selectFrom('job').selectAll('job')
  if (filter.status) q = q.where('job.status', '=', filter.status)
  if (filter.status_in) q = q.where(anyOf('job.status', filter.status_in))
  if (filter.requester) q = q.where('job.requester', '=', filter.requester.toLowerCase() as Address)
  if (filter.modelHash) q = q.where('job.modelHash', '=', filter.modelHash.toLowerCase() as Hex)
  if (filter.id_in) q = q.where(anyOf('job.id', filter.id_in, 'numeric'))
  if (filter.openedBefore != null) q = q.where(sql<boolean>`job.opened_at <= ${filter.openedBefore.toString()}::numeric`)
  if (filter.verification) q = q.where('job.verification', '=', verificationNames.indexOf(filter.verification))
  if (filter.auditKind) {
    const kind = auditKindNames.indexOf(filter.auditKind)
    const audited = (eb: ExpressionBuilder<Database, 'job'>) =>
      eb.exists(
        eb
          .selectFrom('audit')
          .select(sql`1`.as('one'))
          .whereRef('audit.jobId', '=', 'job.id')
          .where('audit.kind', kind === 0 ? '>' : '=', kind),
      )
    q = q.where('job.verification', '=', Verification.Optimistic)
    q = q.where((eb) => (kind === 0 ? eb.not(audited(eb)) : audited(eb)))
  }
  if (filter.provider) {
    const provider = filter.provider.toLowerCase() as Address
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('assignment')
          .select(sql`1`.as('one'))
          .whereRef('assignment.jobId', '=', 'job.id')
          .where('assignment.provider', '=', provider),
      ),
    )
  }
  return q
}

/** One page of jobs, keyset-paginated on `(orderBy, id)`, newest first unless asked otherwise. */
export async function findJobs(
  views: Views,
  parameters: PageParameters & { where?: JobFilter | null; orderBy?: JobOrderBy | null },
): Promise<Page<IndexedJob>> {
  const keyset: Keyset = { table: 'job', orderKey: jobOrderColumns[parameters.orderBy ?? 'ID'], idKey: 'id', direction: 'desc' }
  return paginate(filteredJobs(views, parameters.where ?? {}), keyset, parameters, jobOf)
}

/** Jobs by id (decimal strings), in no particular order (for dataloaders). */
export async function findJobsByIds(views: Views, ids: readonly string[]): Promise<IndexedJob[]> {
  return (
    await views
      .selectFrom('job')
      .selectAll()
      .where(anyOf('id', ids, 'numeric'))
      .execute()
  ).map(jobOf)
}

/** The jobs `requester` submitted at or after `since` (unix s, chain time), oldest first. */
export async function findJobsOfRequesterSince(views: Views, parameters: { requester: string; since: bigint }): Promise<IndexedJob[]> {
  const rows = await views
    .selectFrom('job')
    .selectAll()
    .where('requester', '=', parameters.requester.toLowerCase() as Address)
    .where(sql<boolean>`submitted_at >= ${parameters.since.toString()}::numeric`)
    .orderBy('id')
    .execute()
  return rows.map(jobOf)
}

/** How many jobs there are in each status (every status, in lifecycle order), and fee totals over finalized jobs. */
export async function jobStats(
  views: Views,
): Promise<{ total: number; byStatus: { status: JobStatusName; count: number }[]; totalFees: bigint; totalBurned: bigint }> {
  const [counts, sums] = await Promise.all([
    views
      .selectFrom('job')
      .select(['status', sql<string>`count(*)`.as('n')])
      .groupBy('status')
      .execute(),
    views
      .selectFrom('job')
      .select([sql<string>`coalesce(sum(fees), 0)`.as('fees'), sql<string>`coalesce(sum(burned), 0)`.as('burned')])
      .executeTakeFirst(),
  ])
  const count = new Map(counts.map((c) => [c.status, Number(c.n)]))
  return {
    total: counts.reduce((total, c) => total + Number(c.n), 0),
    byStatus: jobStatusNames.map((status) => ({ status, count: count.get(status) ?? 0 })),
    totalFees: toBigInt(sums?.fees ?? '0'),
    totalBurned: toBigInt(sums?.burned ?? '0'),
  }
}

/** The statuses in which a job waits for providers, OPEN and DISPUTED (for its tie-break): JobMarket's `assign` and `expire` take these. */
const matchableStatuses = ['OPEN', 'DISPUTED'] as const satisfies readonly JobStatusName[]

/**
 * Jobs waiting for providers (OPEN or DISPUTED) whose deadline is after `now`, oldest first (the matcher's input),
 * except a job partly claimed less than a commit window ago.
 */
export async function findMatchableJobs(
  views: Views,
  parameters: { now: bigint; limit: number; commitWindow: bigint },
): Promise<IndexedJob[]> {
  const { now, limit, commitWindow } = parameters
  return (
    await views
      .selectFrom('job')
      .selectAll()
      .where('status', 'in', matchableStatuses)
      .where(sql<boolean>`deadline > ${now.toString()}::numeric`)
      // A job its providers began to claim is theirs for a commit window (assign would revert JobPartlyClaimed);
      // after that, assign releases the claims.
      .where(
        sql<boolean>`(first_claimed_at is null or first_claimed_at + ${commitWindow.toString()}::numeric < ${now.toString()}::numeric)`,
      )
      .orderBy('id')
      .limit(limit)
      .execute()
  ).map(jobOf)
}

/** Completed jobs whose durations make {@link findJobQueue}'s `recentJobSeconds`. */
const recentJobsForEta = 50

/**
 * The queue a job submitted at `now` (unix s) joins: the jobs waiting for providers (OPEN or DISPUTED, deadline ahead)
 * and the slots their rounds need, and the median seconds from submission to settlement of the last 50 completed jobs
 * (null when none completed). What `quote` judges its ETA by. A job counts at least a second: block timestamps are whole
 * seconds, and a job settled in its submission's second (on a devnet that mines each transaction at once) took up to
 * one; a median of 0 would make every ETA 0, however long the queue.
 */
export async function findJobQueue(
  views: Views,
  now: bigint,
): Promise<{ waitingJobs: number; waitingSlots: number; recentJobSeconds: number | null }> {
  const recent = views
    .selectFrom('job')
    .select(sql<string>`greatest(finalized_at - submitted_at, 1)`.as('seconds'))
    .where('status', '=', 'COMPLETED')
    .where('finalizedAt', 'is not', null)
    .orderBy('finalizedAt', 'desc')
    .limit(recentJobsForEta)
    .as('recent')
  const [waiting, durations] = await Promise.all([
    views
      .selectFrom('job')
      .select([sql<string>`count(*)`.as('jobs'), sql<string>`coalesce(sum(redundancy), 0)`.as('slots')])
      .where('status', 'in', matchableStatuses)
      .where(sql<boolean>`deadline > ${now.toString()}::numeric`)
      .executeTakeFirst(),
    views
      .selectFrom(recent)
      .select(sql<string | null>`percentile_cont(0.5) within group (order by seconds)`.as('median'))
      .executeTakeFirst(),
  ])
  const median = durations?.median ?? null
  return {
    waitingJobs: Number(waiting?.jobs ?? 0),
    waitingSlots: Number(waiting?.slots ?? 0),
    recentJobSeconds: median === null ? null : Math.ceil(Number(median)),
  }
}

/** The largest failure code (protocol/jobInputs.ts), as a lower-case bytes32: a result's fingerprint sorts above it. */
const lastFailureCode = `0x${'0'.repeat(63)}5`

/**
 * How many different result fingerprints the job's pending reveals (both rounds of a dispute) hold: more than one means
 * the results differ and the proof window matters. Built on `views`, so it reads the views schema.
 */
const distinctResults = (views: Views) =>
  views
    .selectFrom('assignment as a')
    .select(sql<number>`count(distinct a.fingerprint)`.as('n'))
    .where(sql<boolean>`a.job_id = job.id`)
    .where('a.outcome', '=', 'PENDING')
    .where(sql<boolean>`a.fingerprint > ${lastFailureCode}`)

/**
 * An optimistic job revealed by its one provider (REVEALED, nothing disputed yet): JobMarket `finalize` first draws its
 * spot check, so it waits for the block after the reveal, then either starts the audit or waits for the challenge
 * window to close.
 */
const optimisticFirstRound = sql<boolean>`verification = ${Verification.Optimistic} and json_array_length(disputed_providers) = 0`

/** A job a keeper transaction can move on, with its round: a round's transaction never blocks the next round's. */
export type KeeperJob = { jobId: bigint; round: number }

/** An optimistic job awaiting its spot check and challenge window (see {@link findKeeperWork}). */
export type SpotCheckWork = KeeperJob & {
  /** Block of the reveal: block `revealBlock + 1` decides the spot check. */
  revealBlock: bigint
  /** `revealDeadline + challengeWindow`: past it an unselected job settles as it stands. */
  challengeClosesAt: bigint
}

/** Jobs a keeper transaction can move on, per JobMarket function, and the optimistic jobs whose finalize waits on a spot check. */
export type KeeperWork = {
  finalize: KeeperJob[]
  expire: KeeperJob[]
  expireAssignment: KeeperJob[]
  /** REVEALED optimistic jobs before any audit: the keeper finalizes each once its spot check selects it or its challenge window closed. */
  spotChecks: SpotCheckWork[]
}

/**
 * Jobs the keeper acts on at chain time `now`, at most `limit` per action: `finalize` once the reveals are over and,
 * when revealed results differ, the proof window (`proofWindow` seconds after) has closed; `expire` and
 * `expireAssignment` past their deadlines. A revealed optimistic job's first round is left to the keeper's spot-check
 * reading (`spotChecks`), since only the chain can say whether finalize would audit it.
 */
export async function findKeeperWork(
  views: Views,
  parameters: { now: bigint; proofWindow: bigint; challengeWindow: bigint; limit: number },
): Promise<KeeperWork> {
  const { proofWindow, challengeWindow, limit } = parameters
  const t = parameters.now.toString()
  const jobs = (where: ReturnType<typeof sql<boolean>>) =>
    views.selectFrom('job').select(['id', 'round']).where(where).orderBy('id').limit(limit)
  const keeperJob = (row: { id: string; round: number }): KeeperJob => ({ jobId: toBigInt(row.id), round: row.round })
  const [finalize, expire, expireAssignment, spotChecks] = await Promise.all([
    jobs(
      sql<boolean>`((status = 'REVEALED' and not (${optimisticFirstRound})) or (status = 'COMMITTED' and reveal_deadline < ${t}::numeric))`,
    )
      .where((eb) =>
        eb.or([sql<boolean>`reveal_deadline + ${proofWindow.toString()}::numeric < ${t}::numeric`, eb(distinctResults(views), '<=', 1)]),
      )
      .execute(),
    jobs(sql<boolean>`status in (${sql.join(matchableStatuses)}) and deadline < ${t}::numeric`).execute(),
    jobs(sql<boolean>`status = 'ASSIGNED' and commit_deadline < ${t}::numeric`).execute(),
    jobs(sql<boolean>`status = 'REVEALED' and ${optimisticFirstRound}`).select(['revealBlock', 'revealDeadline']).execute(),
  ])
  return {
    finalize: finalize.map(keeperJob),
    expire: expire.map(keeperJob),
    expireAssignment: expireAssignment.map(keeperJob),
    spotChecks: spotChecks.map((r) => ({
      ...keeperJob(r),
      revealBlock: toBigInt(r.revealBlock ?? '0'),
      challengeClosesAt: toBigInt(r.revealDeadline ?? '0') + challengeWindow,
    })),
  }
}

/** A job whose revealed results differ, in its proof window: what a keeper proves disagreements on. */
export type ContestedJob = {
  jobId: bigint
  outputTolerance: number
  /** When the proof window closes (`revealDeadline + proofWindow`). */
  closesAt: bigint
  /** Block of the job's last change, from which its `OpeningRequested` logs are searched. */
  submittedBlock: bigint
  /** Every pending revealed result, of all its rounds (a dispute's or an optimistic job's audit's first too). */
  results: { provider: Address; fingerprint: Hex; outputHash: Hex }[]
  /**
   * Providers of `results` proven apart already (DisagreementProven, lower-case), in any round: JobMarket records a
   * disagreement between the two fingerprints for the whole job, so a later round needn't prove it again.
   */
  proven: { a: Address; b: Address }[]
}

/**
 * Jobs past their reveals (REVEALED, or COMMITTED past the reveal deadline) whose revealed results differ and whose
 * proof window is still open at `now`, oldest first, with every pending revealed result of all rounds and the
 * disagreements already proven among them.
 */
export async function findContestedJobs(views: Views, now: bigint, proofWindow: bigint, limit: number): Promise<ContestedJob[]> {
  const t = now.toString()
  const jobs = await views
    .selectFrom('job')
    .select(['id', 'outputTolerance', 'revealDeadline', 'submittedBlock'])
    .where(
      sql<boolean>`(status = 'REVEALED' or (status = 'COMMITTED' and reveal_deadline < ${t}::numeric))
        and reveal_deadline + ${proofWindow.toString()}::numeric >= ${t}::numeric`,
    )
    .where((eb) => eb(distinctResults(views), '>', 1))
    .orderBy('id')
    .limit(limit)
    .execute()
  if (jobs.length === 0) return []
  const jobIds = jobs.map((j) => toBigInt(j.id))
  const [results, proven] = await Promise.all([
    views
      .selectFrom('assignment')
      .select(['jobId', 'provider', 'fingerprint', 'outputHash'])
      .where(anyOf('assignment.jobId', jobIds, 'numeric'))
      .where('outcome', '=', 'PENDING')
      .where(sql<boolean>`fingerprint > ${lastFailureCode}`)
      .orderBy('jobId')
      .orderBy('provider')
      .execute(),
    views
      .selectFrom('disagreement')
      .select(['jobId', 'a', 'b'])
      .where(anyOf('disagreement.jobId', jobIds, 'numeric'))
      .execute(),
  ])
  return jobs.map((j) => ({
    jobId: toBigInt(j.id),
    outputTolerance: Number(j.outputTolerance),
    closesAt: toBigInt(j.revealDeadline as string) + proofWindow,
    submittedBlock: toBigInt(j.submittedBlock),
    results: results
      .filter((r) => r.jobId === j.id)
      .map((r) => ({ provider: r.provider as Address, fingerprint: r.fingerprint as Hex, outputHash: r.outputHash as Hex })),
    proven: proven.filter((d) => d.jobId === j.id).map((d) => ({ a: d.a, b: d.b })),
  }))
}

/** Jobs submitted in one bucket of chain time: `[start, start + seconds)`. */
export type SubmissionBucket = { start: bigint; seconds: number; jobs: number }

/**
 * How many jobs were submitted in each of `buckets` consecutive buckets of `seconds` (chain time), the last one holding
 * `until`; empty buckets included, oldest first. Counted in SQL, so a busy market's rate is right however many jobs
 * the window holds.
 */
export async function countSubmissions(
  views: Views,
  parameters: { until: bigint; seconds: number; buckets: number },
): Promise<SubmissionBucket[]> {
  const { seconds, buckets } = parameters
  const size = BigInt(seconds)
  const end = (parameters.until / size + 1n) * size
  const start = end - size * BigInt(buckets)
  const rows = await views
    .selectFrom('job')
    .select([sql<string>`floor((submitted_at - ${start.toString()}::numeric) / ${seconds})`.as('bucket'), sql<string>`count(*)`.as('jobs')])
    .where(sql<boolean>`submitted_at >= ${start.toString()}::numeric and submitted_at < ${end.toString()}::numeric`)
    .groupBy('bucket')
    .execute()
  const counts = new Map(rows.map((r) => [Number(r.bucket), Number(r.jobs)]))
  return Array.from({ length: buckets }, (_, i) => ({ start: start + size * BigInt(i), seconds, jobs: counts.get(i) ?? 0 }))
}
