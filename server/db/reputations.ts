import { sql } from 'kysely'
import {
  challengeOutcome,
  type ReputationOfReturnType,
  type ReputationOutcome,
  reputationHalfLifeSeconds,
  reputationHorizonHalfLives,
  reputationOf,
} from '../../protocol/reputation.ts'
import { anyOf, lowerCase } from './anyOf.ts'
import { findChallengeVerdicts } from './challenges.ts'
import type { Views } from './database.ts'
import { indexedBlock } from './indexedBlock.ts'

/** A provider's reputation (`reputationOf`) as the API serves it and the matcher weighs it. */
export type ProviderReputation = ReputationOfReturnType & {
  /** Lower-case. */
  address: string
  halfLifeSeconds: number
  /** The chain time (unix s) the outcomes' ages are measured to: the indexed head's block timestamp. */
  at: bigint
}

export type FindReputationsParameters = {
  /** Any case; each gets a reputation, a newcomer's the prior. */
  addresses: readonly string[]
  /** Default `reputationHalfLifeSeconds`. */
  halfLifeSeconds?: number
}

/**
 * The reputation of each provider asked, in the order asked, from its settled assignments (outcome and `settled_at`)
 * and its recorded challenges (passed or not, and the block time ChallengeLedger recorded them); the assignment of a
 * challenge job's target is left out, its record standing for it.
 * Ages run to the indexed head's block time, the clock `settled_at` was stamped by, so the API and the matcher agree and
 * a devnet's warped time decays history as a real chain's would. Outcomes older than `reputationHorizonHalfLives`
 * half-lives (weighing under a millionth) are left out, which bounds the rows read to the recent ones.
 */
export async function findReputations(views: Views, parameters: FindReputationsParameters): Promise<ProviderReputation[]> {
  const halfLifeSeconds = parameters.halfLifeSeconds ?? reputationHalfLifeSeconds
  const addresses = lowerCase(parameters.addresses)
  const at = (await indexedBlock(views))?.timestamp
  const outcomes = new Map<string, { outcome: ReputationOutcome; ageSeconds: number }[]>()
  if (at !== undefined && addresses.length) {
    const since = at - BigInt(Math.ceil(halfLifeSeconds * reputationHorizonHalfLives))
    const [rows, verdicts] = await Promise.all([
      views
        .selectFrom('assignment')
        .select(['provider', 'outcome', 'settledAt'])
        .where(anyOf('provider', addresses))
        .where('outcome', '!=', 'PENDING')
        .where(sql<boolean>`settled_at >= ${since.toString()}::numeric`)
        // A challenge job's target counts once, by its record: its assignment on that job is the same evidence.
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('challengeRecord')
                .select(sql`1`.as('one'))
                .whereRef('challengeRecord.jobId', '=', 'assignment.jobId')
                .whereRef('challengeRecord.provider', '=', 'assignment.provider'),
            ),
          ),
        )
        .execute(),
      findChallengeVerdicts(views, { addresses, since }),
    ])
    const add = (provider: string, outcome: ReputationOutcome, settledAt: bigint) => {
      const settled = outcomes.get(provider) ?? []
      settled.push({ outcome, ageSeconds: Number(at - settledAt) })
      outcomes.set(provider, settled)
    }
    // The query leaves PENDING out: every other outcome is a settled one.
    for (const row of rows) if (row.settledAt !== null) add(row.provider, row.outcome as ReputationOutcome, BigInt(row.settledAt))
    for (const verdict of verdicts) add(verdict.provider, challengeOutcome(verdict.passed), verdict.timestamp)
  }
  return addresses.map((address) => ({
    ...reputationOf({ outcomes: outcomes.get(address) ?? [], halfLifeSeconds }),
    address,
    halfLifeSeconds,
    at: at ?? 0n,
  }))
}
