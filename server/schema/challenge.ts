import { builder } from '../builder.ts'
import { findChallengeRounds, type IndexedChallenge, type IndexedChallengeRound } from '../db/challenges.ts'
import { connectionComplexity, resolveConnection } from './connection.ts'
import { exposeBigInts, OrderDirection } from './scalars.ts'

/** A recorded challenge job; `Provider.challenges` and `Job.challenge` serve it. */
export const Challenge = builder.objectRef<IndexedChallenge>('Challenge').implement({
  description:
    'A known-answer challenge job as ChallengeLedger recorded it once the job settled: whether the provider returned the known answer, and the throughput it showed.',
  fields: (t) => ({
    ...exposeBigInts(t, ['round', 'jobId', 'blockNumber', 'timestamp']),
    provider: t.expose('provider', { type: 'Address' }),
    passed: t.exposeBoolean('passed'),
    unitsPerHour: t.expose('unitsPerHour', {
      type: 'BigInt',
      description: 'Units per hour the provider ran the challenge at, from its assignment to its reveal.',
    }),
    txHash: t.expose('txHash', { type: 'Bytes32' }),
  }),
})

const ChallengeRound = builder.objectRef<IndexedChallengeRound>('ChallengeRound').implement({
  description:
    'A round of challenge jobs: the seed hash committed before the round, and the seed revealed after it, from which anyone can rederive each challenge.',
  fields: (t) => ({
    ...exposeBigInts(t, ['round', 'committedAt', 'blockNumber']),
    seedHash: t.expose('seedHash', { type: 'Bytes32', description: 'keccak256(abi.encode(seed)).' }),
    seed: t.expose('seed', { type: 'Bytes32', nullable: true, description: 'Null until the round is revealed.' }),
    revealedAt: t.expose('revealedAt', { type: 'BigInt', nullable: true, description: 'Unix seconds (chain time); null until revealed.' }),
    recorded: t.exposeInt('recorded', { description: 'Challenges recorded in the round.' }),
    passed: t.exposeInt('passed'),
    failed: t.exposeInt('failed'),
    txHash: t.expose('txHash', { type: 'Bytes32', description: 'The commit transaction.' }),
  }),
})

builder.queryFields((t) => ({
  challengeRounds: t.connection({
    type: ChallengeRound,
    description: 'Rounds of challenge jobs, newest first by default.',
    args: { orderDirection: t.arg({ type: OrderDirection, defaultValue: 'desc' }) },
    complexity: connectionComplexity,
    resolve: (_root, args, ctx) => resolveConnection(args, () => findChallengeRounds(ctx.views, args)),
  }),
}))
