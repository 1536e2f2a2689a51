import { type QueryCreator, sql } from 'kysely'
import type { Database } from './database.ts'
import { type Page, paginate } from './paginate.ts'
import type { AssignmentRow, JobRow, PaymentRow } from './tables/views.table.ts'

export const jobStatuses = ['OPEN', 'ASSIGNED', 'COMMITTED', 'REVEALED', 'COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'] as const
export type JobStatus = (typeof jobStatuses)[number]

/** Filters of `jobs(where:)`; addresses lower-case, ids as decimal strings. */
export type JobFilter = {
  status?: JobStatus | null
  statusIn?: readonly JobStatus[] | null
  requester?: string | null
  provider?: string | null
  idIn?: readonly string[] | null
  modelHash?: string | null
}

/** Columns `jobs(orderBy:)` may sort on (all numeric, so keyset cursors compare as numbers). */
export const jobOrderColumns = {
  ID: 'id',
  SUBMITTED_AT: 'submittedAt',
  DEADLINE: 'deadline',
  MAX_PRICE_PER_UNIT: 'maxPricePerUnit',
  UNITS: 'units',
  ESCROW: 'escrow',
} as const
export type JobOrderBy = keyof typeof jobOrderColumns

function filteredJobs(views: QueryCreator<Database>, filter: JobFilter) {
  let q = views.selectFrom('job').selectAll('job')
  if (filter.status) q = q.where('job.status', '=', filter.status)
  if (filter.statusIn) q = filter.statusIn.length ? q.where('job.status', 'in', filter.statusIn) : q.where(sql<boolean>`false`)
  if (filter.requester) q = q.where('job.requester', '=', filter.requester.toLowerCase())
  if (filter.modelHash) q = q.where('job.modelHash', '=', filter.modelHash.toLowerCase())
  if (filter.idIn) q = filter.idIn.length ? q.where(sql<boolean>`job.id = any(${filter.idIn}::numeric[])`) : q.where(sql<boolean>`false`)
  if (filter.provider) {
    const provider = filter.provider.toLowerCase()
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

/** One page of jobs, keyset-paginated on `(orderBy, id)`. */
export async function findJobs(
  views: QueryCreator<Database>,
  parameters: {
    where?: JobFilter | null
    orderBy?: JobOrderBy | null
    orderDirection?: 'asc' | 'desc' | null
    first?: number | null
    after?: string | null
  },
): Promise<Page<JobRow>> {
  const orderKey = jobOrderColumns[parameters.orderBy ?? 'ID']
  return paginate({
    query: filteredJobs(views, parameters.where ?? {}),
    orderColumn: `job.${orderKey.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`,
    idColumn: 'job.id',
    orderKey,
    idKey: 'id',
    direction: parameters.orderDirection ?? 'desc',
    first: parameters.first,
    after: parameters.after,
  }) as Promise<Page<JobRow>>
}

/** Jobs by id, in no particular order (for dataloaders). */
export async function findJobsByIds(views: QueryCreator<Database>, ids: readonly string[]): Promise<JobRow[]> {
  if (!ids.length) return []
  return views.selectFrom('job').selectAll().where(sql<boolean>`id = any(${ids}::numeric[])`).execute()
}

/** Assignments of the given jobs, ordered by job then slot. */
export async function findAssignmentsByJobIds(views: QueryCreator<Database>, jobIds: readonly string[]): Promise<AssignmentRow[]> {
  if (!jobIds.length) return []
  return views
    .selectFrom('assignment')
    .selectAll()
    .where(sql<boolean>`job_id = any(${jobIds}::numeric[])`)
    .orderBy('jobId')
    .orderBy('slot')
    .execute()
}

/** Payments tied to the given jobs, in chain order. */
export async function findPaymentsByJobIds(views: QueryCreator<Database>, jobIds: readonly string[]): Promise<PaymentRow[]> {
  if (!jobIds.length) return []
  return views
    .selectFrom('payment')
    .selectAll()
    .where(sql<boolean>`job_id = any(${jobIds}::numeric[])`)
    .orderBy('blockNumber')
    .orderBy('id')
    .execute()
}

/** Job counts per status plus fee totals over finalized jobs. */
export async function jobStats(
  views: QueryCreator<Database>,
): Promise<{ byStatus: Record<string, number>; totalFees: bigint; totalBurned: bigint }> {
  const counts = await views
    .selectFrom('job')
    .select(['status', sql<string>`count(*)`.as('n')])
    .groupBy('status')
    .execute()
  const sums = await views
    .selectFrom('job')
    .select([sql<string>`coalesce(sum(fees), 0)`.as('fees'), sql<string>`coalesce(sum(burned), 0)`.as('burned')])
    .executeTakeFirst()
  const byStatus: Record<string, number> = {}
  for (const c of counts) byStatus[c.status] = Number(c.n)
  return { byStatus, totalFees: BigInt(sums?.fees ?? '0'), totalBurned: BigInt(sums?.burned ?? '0') }
}

/** OPEN jobs whose deadline is after `now`, oldest first (the matcher's input). */
export async function findOpenJobs(views: QueryCreator<Database>, now: bigint, limit: number): Promise<JobRow[]> {
  return views
    .selectFrom('job')
    .selectAll()
    .where('status', '=', 'OPEN')
    .where(sql<boolean>`deadline > ${now.toString()}::numeric`)
    .orderBy('id')
    .limit(limit)
    .execute()
}

/** Jobs a keeper transaction can move on at chain time `now`. */
export async function findKeeperWork(
  views: QueryCreator<Database>,
  now: bigint,
  limit: number,
): Promise<{ finalize: string[]; expire: string[]; expireAssignment: string[] }> {
  const t = now.toString()
  const ids = async (where: ReturnType<typeof sql<boolean>>) =>
    (await views.selectFrom('job').select('id').where(where).orderBy('id').limit(limit).execute()).map((r) => String(r.id))
  const [finalize, expire, expireAssignment] = await Promise.all([
    ids(sql<boolean>`status = 'REVEALED' or (status = 'COMMITTED' and reveal_deadline < ${t}::numeric)`),
    ids(sql<boolean>`status = 'OPEN' and deadline < ${t}::numeric`),
    ids(sql<boolean>`status = 'ASSIGNED' and commit_deadline < ${t}::numeric`),
  ])
  return { finalize, expire, expireAssignment }
}
