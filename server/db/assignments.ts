import { sql } from 'kysely'
import type { Address, Hex } from 'viem'
import { anyOf } from './anyOf.ts'
import { type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
import type { FeedPosition } from './feedCursors.ts'
import { InvalidCursorError } from './paginate.ts'
import type { AssignmentRow } from './tables/assignment.table.ts'

const numericColumns = [
  'jobId',
  'pricePerUnit',
  'collateral',
  'commitDeadline',
  'assignedAt',
  'blockNumber',
  'committedAt',
  'revealedAt',
  'settledAt',
  'paid',
] as const satisfies readonly (keyof AssignmentRow)[]

/** A provider assigned to a job (the latest round per job and provider): the indexer's row, amounts as bigints. */
export type IndexedAssignment = WithBigInts<AssignmentRow, (typeof numericColumns)[number]>

/** The domain value of an `assignment` row. */
function assignmentOf(row: AssignmentRow): IndexedAssignment {
  return withBigInts(row, numericColumns)
}

/** The largest log index a cursor may carry (Postgres `integer`): `endOfBlock` positions use it. */
const maxLogIndex = 2 ** 31 - 1

/** Opaque cursor of an assignment in the change feed: its (block_number, log_index). */
export function encodeAssignmentCursor(position: FeedPosition): string {
  return Buffer.from(`a:${position.blockNumber}:${position.logIndex}`).toString('base64url')
}

/** Decodes `encodeAssignmentCursor` (the `after` of `jobAssignments`); throws `InvalidCursorError` for anything this server did not issue. */
export function decodeAssignmentCursor(cursor: string): FeedPosition {
  // `a:` and two numbers of 30 and 10 digits at most, in base64url: 60 characters.
  const m = cursor.length <= 64 ? /^a:(\d{1,30}):(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null
  if (!m || Number(m[2]) > maxLogIndex || encodeAssignmentCursor({ blockNumber: BigInt(m[1]), logIndex: Number(m[2]) }) !== cursor)
    throw new InvalidCursorError(cursor, { argument: 'after', kind: 'assignment', hint: 'pass the cursor of a JobAssignment you received' })
  return { blockNumber: BigInt(m[1]), logIndex: Number(m[2]) }
}

/** An assignment's position in the change feed. */
export function positionOf(assignment: FeedPosition): FeedPosition {
  return { blockNumber: assignment.blockNumber, logIndex: assignment.logIndex }
}

/** The last position of block `blockNumber`: after every log in it, before the next block's. */
export function endOfBlock(blockNumber: bigint): FeedPosition {
  return { blockNumber, logIndex: maxLogIndex }
}

/** Strict feed order: is `a` after `b`? */
export function isAfter(a: FeedPosition, b: FeedPosition): boolean {
  return a.blockNumber > b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex > b.logIndex)
}

/**
 * What tells one assignment from another across a chain reorganisation: its job, provider, commit deadline and
 * position. The indexer's row id (job, provider) is not enough: a reorganisation can put the same job's assignment
 * in another block, or another assignment at the same position.
 */
export function assignmentKey(
  assignment: Pick<IndexedAssignment, 'jobId' | 'provider' | 'commitDeadline' | 'blockNumber' | 'logIndex'>,
): string {
  const { jobId, provider, commitDeadline, blockNumber, logIndex } = assignment
  return `${jobId}:${provider.toLowerCase()}:${commitDeadline}:${blockNumber}:${logIndex}`
}

/**
 * Assignments after `after` (up to `through`, when given) in feed order, optionally for one provider (any case). A
 * reassignment overwrites the (job, provider) row with a later position, so each round shows once.
 */
export async function findAssignmentsAfter(
  views: Views,
  parameters: { after?: FeedPosition; through?: FeedPosition; provider?: string; limit: number },
): Promise<IndexedAssignment[]> {
  let q = views.selectFrom('assignment').selectAll().where(between(parameters))
  if (parameters.provider) q = q.where('provider', '=', parameters.provider.toLowerCase() as Address)
  return (await q.orderBy('blockNumber').orderBy('logIndex').limit(parameters.limit).execute()).map(assignmentOf)
}

/**
 * Feed positions after `after` and up to `through` (either end open when not given), over a table with the
 * assignment's `block_number` and `log_index` (`assignment`, `app.published_assignment`).
 */
export function between({ after, through }: { after?: FeedPosition; through?: FeedPosition }) {
  const bounds = [
    after && sql`(block_number, log_index) > (${after.blockNumber.toString()}::numeric, ${after.logIndex}::integer)`,
    through && sql`(block_number, log_index) <= (${through.blockNumber.toString()}::numeric, ${through.logIndex}::integer)`,
  ].filter((b) => b !== undefined)
  return sql<boolean>`${bounds.length ? sql.join(bounds, sql` and `) : sql`true`}`
}

/**
 * A set of assignments in brief: how many, and the sum of their `assignmentKey`s' 64-bit hashes. Two sets with equal
 * digests hold the same keys (bar a hash collision), so the change feed compares its window with what it published
 * without reading either.
 */
export type AssignmentDigest = { count: number; hashSum: string }

/** `assignmentKey` in SQL, the same text, over a table with the assignment's columns (`assignment`, `app.published_assignment`). */
export const assignmentKeySql = sql<string>`job_id::text || ':' || lower(provider) || ':' || commit_deadline::text || ':' || block_number::text || ':' || log_index::text`

/** The SQL selections of an {@link AssignmentDigest}. */
export const assignmentDigestSql = [
  sql<number>`count(*)::integer`.as('count'),
  sql<string>`coalesce(sum(hashtextextended(${assignmentKeySql}, 0)), 0)::text`.as('hashSum'),
] as const

/** The digest of the indexed assignments after `after` and up to `through`. */
export async function digestAssignmentsBetween(
  views: Views,
  range: { after?: FeedPosition; through: FeedPosition },
): Promise<AssignmentDigest> {
  return views.selectFrom('assignment').select(assignmentDigestSql).where(between(range)).executeTakeFirstOrThrow()
}

/** `findAssignmentsAfter` page by page (`pageSize` rows a query): every assignment after `after` (up to `through`). */
export async function* eachAssignmentAfter(
  views: Views,
  parameters: { after?: FeedPosition; through?: FeedPosition; provider?: string; pageSize: number },
): AsyncGenerator<IndexedAssignment> {
  let after = parameters.after
  for (;;) {
    const page = await findAssignmentsAfter(views, { ...parameters, after, limit: parameters.pageSize })
    yield* page
    const last = page.at(-1)
    if (!last || page.length < parameters.pageSize) return
    after = positionOf(last)
  }
}

/** Assignments of the given jobs, ordered by job, round (a tie-break after its disputed first round), then slot. */
export async function findAssignmentsByJobIds(views: Views, jobIds: readonly string[]): Promise<IndexedAssignment[]> {
  const ofJobs = anyOf('jobId', jobIds, 'numeric')
  return (await views.selectFrom('assignment').selectAll().where(ofJobs).orderBy('jobId').orderBy('round').orderBy('slot').execute()).map(
    assignmentOf,
  )
}

/** A provider's assignments (any case of address), newest first. */
export async function findAssignmentsOfProvider(views: Views, provider: string, limit: number): Promise<IndexedAssignment[]> {
  return (
    await views
      .selectFrom('assignment')
      .selectAll()
      .where('provider', '=', provider.toLowerCase() as Address)
      .orderBy('blockNumber', 'desc')
      .orderBy('logIndex', 'desc')
      .limit(limit)
      .execute()
  ).map(assignmentOf)
}

/**
 * Number of assignments of a round in flight (job ASSIGNED, COMMITTED or REVEALED, the job's current round) per
 * provider (lower-case). A disputed first round waits on its tie-break with nothing to run, so it isn't counted.
 */
export async function countActiveAssignments(views: Views): Promise<Map<string, number>> {
  const rows = await views
    .selectFrom('assignment')
    .innerJoin('job', 'job.id', 'assignment.jobId')
    .select(['assignment.provider', sql<string>`count(*)`.as('n')])
    .where('assignment.outcome', '=', 'PENDING')
    .where('job.status', 'in', ['ASSIGNED', 'COMMITTED', 'REVEALED'])
    .whereRef('assignment.round', '=', 'job.round')
    .groupBy('assignment.provider')
    .execute()
  return new Map(rows.map((r) => [r.provider, Number(r.n)]))
}

/**
 * The providers (lower-case) that no-showed each of the given jobs, keyed by job id in decimal. A no-show's row keeps
 * its NO_SHOW outcome: JobMarket never assigns it the same job again (`ProviderWasNoShow`), so no later round
 * overwrites it.
 */
export async function findNoShows(views: Views, jobIds: readonly bigint[]): Promise<Map<string, string[]>> {
  const rows = await views
    .selectFrom('assignment')
    .select(['jobId', 'provider'])
    .where(anyOf('jobId', jobIds, 'numeric'))
    .where('outcome', '=', 'NO_SHOW')
    .execute()
  const noShows = new Map<string, string[]>()
  for (const row of rows) {
    const key = String(row.jobId)
    noShows.set(key, [...(noShows.get(key) ?? []), row.provider.toLowerCase()])
  }
  return noShows
}

/** A completed job's agreed output: the result the majority revealed, and the output blob of one provider that revealed it. */
export type JobOutput = {
  jobId: bigint
  /** The winning fingerprint (`job.fingerprint`). */
  fingerprint: Hex
  /** sha256 of the output blob that provider uploaded (`GET /blobs/<outputHash>`). */
  outputHash: Hex
  /** The agreeing provider whose output this is: the first by round, then slot. */
  provider: Address
}

/**
 * The agreed outputs of the given jobs (decimal ids) that COMPLETED: for each, the output hash revealed by its first
 * agreeing provider (by round, then slot) with the winning fingerprint. Agreeing providers may have uploaded different
 * bytes within the job's tolerance; they share the fingerprint. Jobs not completed have none.
 */
export async function findJobOutputs(views: Views, jobIds: readonly string[]): Promise<JobOutput[]> {
  const rows = await views
    .selectFrom('assignment')
    .innerJoin('job', 'job.id', 'assignment.jobId')
    .select(['assignment.jobId', 'assignment.provider', 'assignment.fingerprint', 'assignment.outputHash'])
    .where(anyOf('assignment.jobId', jobIds, 'numeric'))
    .where('job.status', '=', 'COMPLETED')
    .where('assignment.outcome', '=', 'AGREED')
    .whereRef('assignment.fingerprint', '=', 'job.fingerprint')
    .where('assignment.outputHash', 'is not', null)
    .orderBy('assignment.jobId')
    .orderBy('assignment.round')
    .orderBy('assignment.slot')
    .execute()
  const outputs = new Map<string, JobOutput>()
  for (const r of rows) {
    const jobId = String(r.jobId)
    if (outputs.has(jobId)) continue
    outputs.set(jobId, {
      jobId: BigInt(jobId),
      fingerprint: r.fingerprint as Hex,
      outputHash: r.outputHash as Hex,
      provider: r.provider,
    })
  }
  return [...outputs.values()]
}
