import { sql } from 'kysely'
import type { Address } from 'viem'
import { anyOf } from './anyOf.ts'
import { type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
import { type Keyset, type Page, type PageParameters, paginate } from './paginate.ts'
import type { ChallengeRecordRow } from './tables/challengeRecord.table.ts'
import type { ChallengeRoundRow } from './tables/challengeRound.table.ts'

const recordNumericColumns = [
  'round',
  'jobId',
  'unitsPerHour',
  'blockNumber',
  'timestamp',
] as const satisfies readonly (keyof ChallengeRecordRow)[]
const roundNumericColumns = ['round', 'committedAt', 'revealedAt', 'blockNumber'] as const satisfies readonly (keyof ChallengeRoundRow)[]

/** A settled challenge job as ChallengeLedger recorded it: the indexer's row, numbers as bigints. */
export type IndexedChallenge = WithBigInts<ChallengeRecordRow, (typeof recordNumericColumns)[number]>

/** A round of challenge jobs: its seed commitment, the seed once revealed, and counts of its records. */
export type IndexedChallengeRound = WithBigInts<ChallengeRoundRow, (typeof roundNumericColumns)[number]>

const challengeOf = (row: ChallengeRecordRow): IndexedChallenge => withBigInts(row, recordNumericColumns)
const roundOf = (row: ChallengeRoundRow): IndexedChallengeRound => withBigInts(row, roundNumericColumns)

/** A provider's recorded challenges (any case of address), newest first. */
export async function findChallengesOfProvider(views: Views, provider: string, limit: number): Promise<IndexedChallenge[]> {
  const rows = await views
    .selectFrom('challengeRecord')
    .selectAll()
    .where('provider', '=', provider.toLowerCase() as Address)
    .orderBy('blockNumber', 'desc')
    .orderBy('logIndex', 'desc')
    .limit(limit)
    .execute()
  return rows.map(challengeOf)
}

/**
 * The challenge records of the given jobs (ids as decimal strings), in no particular order: at most one a job (the
 * ledger refuses a second), none for a job that isn't a recorded challenge.
 */
export async function findChallengesByJobIds(views: Views, jobIds: readonly string[]): Promise<IndexedChallenge[]> {
  const rows = await views
    .selectFrom('challengeRecord')
    .selectAll()
    .where(anyOf('jobId', jobIds, 'numeric'))
    .execute()
  return rows.map(challengeOf)
}

/** The settled-challenge evidence of the given providers (lower-case) recorded at or after `since` (unix s). */
export async function findChallengeVerdicts(
  views: Views,
  parameters: { addresses: readonly string[]; since: bigint },
): Promise<Pick<IndexedChallenge, 'provider' | 'passed' | 'timestamp'>[]> {
  if (!parameters.addresses.length) return []
  const rows = await views
    .selectFrom('challengeRecord')
    .select(['provider', 'passed', 'timestamp'])
    .where(anyOf('provider', parameters.addresses))
    .where(sql<boolean>`timestamp >= ${parameters.since.toString()}::numeric`)
    .execute()
  return rows.map((row) => withBigInts(row, ['timestamp']))
}

const roundKeyset: Keyset = { table: 'challengeRound', orderKey: 'round', idKey: 'round', direction: 'desc' }

/** One page of challenge rounds, newest first unless asked otherwise. */
export async function findChallengeRounds(views: Views, parameters: PageParameters): Promise<Page<IndexedChallengeRound>> {
  return paginate(views.selectFrom('challengeRound').selectAll('challengeRound'), roundKeyset, parameters, roundOf)
}
