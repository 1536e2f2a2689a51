import { sql } from 'kysely'
import type { Address, Hex } from 'viem'
import { type JobStatusName, jobStatusNames, type VerificationName, verificationNames } from '../../protocol/enums.ts'
import { anyOf } from './anyOf.ts'
import { toBigInt, type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
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

/** Ids of the jobs a keeper transaction can move on at chain time `now`, per JobMarket function. */
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
 * Jobs the keeper acts on at chain time `now`, at most `limit` per action: `finalize` once the reveals are over and,
 * when revealed results differ, the proof window (`proofWindow` seconds after) has closed; `expire` and
 * `expireAssignment` past their deadlines.
 */
export async function findKeeperWork(
  views: Views,
  now: bigint,
  proofWindow: bigint,
  limit: number,
): Promise<{ finalize: bigint[]; expire: bigint[]; expireAssignment: bigint[] }> {
  const t = now.toString()
  const ids = async (where: ReturnType<typeof sql<boolean>>) =>
    (await views.selectFrom('job').select('id').where(where).orderBy('id').limit(limit).execute()).map((r) => toBigInt(r.id))
  const [finalize, expire, expireAssignment] = await Promise.all([
    (
      await views
        .selectFrom('job')
        .select('id')
        .where(sql<boolean>`(status = 'REVEALED' or (status = 'COMMITTED' and reveal_deadline < ${t}::numeric))`)
        .where((eb) =>
          eb.or([sql<boolean>`reveal_deadline + ${proofWindow.toString()}::numeric < ${t}::numeric`, eb(distinctResults(views), '<=', 1)]),
        )
        .orderBy('id')
        .limit(limit)
        .execute()
    ).map((r) => toBigInt(r.id)),
    ids(sql<boolean>`status in (${sql.join(matchableStatuses)}) and deadline < ${t}::numeric`),
    ids(sql<boolean>`status = 'ASSIGNED' and commit_deadline < ${t}::numeric`),
  ])
  return { finalize, expire, expireAssignment }
}

/** A job whose revealed results differ, in its proof window: what a keeper proves disagreements on. */
export type ContestedJob = {
  jobId: bigint
  outputTolerance: number
  /** When the proof window closes (`revealDeadline + proofWindow`). */
  closesAt: bigint
  /** Block of the job's last change, from which its `OpeningRequested` logs are searched. */
  submittedBlock: bigint
  results: { provider: Address; fingerprint: Hex; outputHash: Hex }[]
}

/**
 * Jobs past their reveals (REVEALED, or COMMITTED past the reveal deadline) whose revealed results differ and whose
 * proof window is still open at `now`, oldest first, with every pending revealed result of both rounds.
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
  const results = await views
    .selectFrom('assignment')
    .select(['jobId', 'provider', 'fingerprint', 'outputHash'])
    .where(
      anyOf(
        'assignment.jobId',
        jobs.map((j) => toBigInt(j.id)),
        'numeric',
      ),
    )
    .where('outcome', '=', 'PENDING')
    .where(sql<boolean>`fingerprint > ${lastFailureCode}`)
    .orderBy('jobId')
    .orderBy('provider')
    .execute()
  return jobs.map((j) => ({
    jobId: toBigInt(j.id),
    outputTolerance: Number(j.outputTolerance),
    closesAt: toBigInt(j.revealDeadline as string) + proofWindow,
    submittedBlock: toBigInt(j.submittedBlock),
    results: results
      .filter((r) => r.jobId === j.id)
      .map((r) => ({ provider: r.provider as Address, fingerprint: r.fingerprint as Hex, outputHash: r.outputHash as Hex })),
  }))
}
