import { sql } from 'kysely'
import { type AuditKindName, auditKindNames } from '../../protocol/spotCheck.ts'
import { anyOf } from './anyOf.ts'
import { toBigInt, type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
import type { AuditRow } from './tables/audit.table.ts'

const numericColumns = [
  'jobId',
  'bond',
  'startedAt',
  'settledAt',
  'premium',
  'reimbursed',
  'bondToProvider',
  'bondBurned',
  'bondReturned',
  'updatedBlock',
] as const satisfies readonly (keyof AuditRow)[]

/** An optimistic job's audit and the money it moved: the indexer's row, amounts as bigints, its kind by name. */
export type IndexedAudit = WithBigInts<Omit<AuditRow, 'kind'>, (typeof numericColumns)[number]> & { kind: AuditKindName }

/** The domain value of an `audit` row. */
function auditOf(row: AuditRow): IndexedAudit {
  return { ...withBigInts(row, numericColumns), kind: auditKindNames[row.kind] ?? 'NONE' }
}

/** What an optimistic job with no audit event yet has: unaudited, unchallenged, nothing settled. */
function unauditedOf(jobId: bigint): IndexedAudit {
  return {
    jobId,
    kind: 'NONE',
    auditors: 0,
    challenger: null,
    bond: 0n,
    startedAt: null,
    settledAt: null,
    premium: null,
    reimbursed: null,
    bondToProvider: null,
    bondBurned: null,
    bondReturned: null,
    updatedBlock: 0n,
  }
}

/**
 * The audits of the given optimistic jobs (ids as decimal strings), one per id in no particular order: an unaudited
 * one (kind NONE, nothing settled) for a job that has had no audit event yet.
 */
export async function findAuditsByJobIds(views: Views, jobIds: readonly string[]): Promise<IndexedAudit[]> {
  const rows = await views
    .selectFrom('audit')
    .selectAll()
    .where(anyOf('jobId', jobIds, 'numeric'))
    .execute()
  const found = new Map(rows.map((row) => [String(toBigInt(row.jobId)), auditOf(row)]))
  return jobIds.map((id) => found.get(String(BigInt(id))) ?? unauditedOf(BigInt(id)))
}

/** Audit counts and the money audits moved, over every optimistic job indexed. */
export type AuditStats = {
  /**
   * Optimistic jobs by why they were audited (every kind, in `AuditKind` order); NONE counts those settled without an
   * audit, which paid the premium. Jobs still running unaudited are not counted.
   */
  byKind: { kind: AuditKindName; count: number }[]
  /** Audits whose auditor disagreed with the original result and went to a tie-break by two more providers. */
  escalated: number
  /** Σ premiums unaudited jobs paid into the audit fund. */
  premiums: bigint
  /** Σ paid back from the audit fund to requesters of spot-checked and challenged jobs. */
  reimbursed: bigint
  /** Σ challenge bonds paid to providers whose result stood. */
  bondsToProviders: bigint
  bondsBurned: bigint
  /** Σ challenge bonds returned to challengers (the result lost, or the job failed or expired). */
  bondsReturned: bigint
  /** What the audit fund holds: premiums − reimbursements (JobMarket `auditFund()`, once indexed). */
  fund: bigint
}

/** Counts audits by kind and sums their money (see {@link AuditStats}). */
export async function auditStats(views: Views): Promise<AuditStats> {
  const sum = (column: string) => sql<string>`coalesce(sum(${sql.ref(column)}), 0)`
  const [counts, totals] = await Promise.all([
    views
      .selectFrom('audit')
      .select(['kind', sql<string>`count(*)`.as('n')])
      .groupBy('kind')
      .execute(),
    views
      .selectFrom('audit')
      .select([
        sql<string>`count(*) filter (where auditors > 1)`.as('escalated'),
        sum('premium').as('premiums'),
        sum('reimbursed').as('reimbursed'),
        sum('bondToProvider').as('bondsToProviders'),
        sum('bondBurned').as('bondsBurned'),
        sum('bondReturned').as('bondsReturned'),
      ])
      .executeTakeFirstOrThrow(),
  ])
  const count = new Map(counts.map((c) => [c.kind, Number(c.n)]))
  const premiums = toBigInt(totals.premiums)
  const reimbursed = toBigInt(totals.reimbursed)
  return {
    byKind: auditKindNames.map((kind, value) => ({ kind, count: count.get(value) ?? 0 })),
    escalated: Number(totals.escalated),
    premiums,
    reimbursed,
    bondsToProviders: toBigInt(totals.bondsToProviders),
    bondsBurned: toBigInt(totals.bondsBurned),
    bondsReturned: toBigInt(totals.bondsReturned),
    fund: premiums - reimbursed,
  }
}
