import { heartbeatLivenessSeconds } from '../../protocol/heartbeat.ts'
import { reputationPrior, reputationWeights } from '../../protocol/reputation.ts'
import { builder } from '../builder.ts'
import { findAssignmentsOfProvider } from '../db/assignments.ts'
import { findChallengesOfProvider } from '../db/challenges.ts'
import { findLastSeen, findLiveness, findWarmModels } from '../db/heartbeats.ts'
import {
  findEarnings,
  findProviders,
  findProvidersByAddresses,
  type IndexedProvider,
  type ProviderEarnings,
  providerOrderColumns,
} from '../db/providers.ts'
import { findReputations, type ProviderReputation } from '../db/reputations.ts'
import { Challenge } from './challenge.ts'
import { connectionComplexity, listArgs, recentCountOf, recentListArgs, recentListComplexity, resolveConnection } from './connection.ts'
import { Assignment } from './job.ts'
import { exposeBigInts } from './scalars.ts'

const ProviderOrderBy = builder.enumType('ProviderOrderBy', {
  values: Object.keys(providerOrderColumns) as (keyof typeof providerOrderColumns)[],
})

const Earnings = builder.objectRef<ProviderEarnings>('ProviderEarnings').implement({
  description: 'What a provider has been credited by JobMarket, summed from payments (wei).',
  fields: (t) => ({
    ...exposeBigInts(t, ['fees', 'slashShares', 'bondShares', 'withdrawn', 'slashedTotal']),
    earnedTotal: t.expose('earnedTotal', {
      type: 'BigInt',
      description: 'Fees plus slash shares plus bond shares, as indexed on the provider.',
    }),
  }),
})

const { AGREED, DISSENTED, NO_REVEAL, NO_SHOW, CHALLENGE_PASSED, CHALLENGE_FAILED } = reputationWeights

/** A provider's reputation, loaded by lower-case address through a per-request dataloader (one query a request). */
const Reputation = builder.loadableObjectRef('ProviderReputation', {
  load: (addresses: string[], ctx) => findReputations(ctx.views, { addresses }),
  sort: (reputation: ProviderReputation) => reputation.address,
})

Reputation.implement({
  description:
    `score = (good + ${reputationPrior.good}) / (good + bad + ${reputationPrior.good + reputationPrior.bad}): a Beta prior over ` +
    `the provider's settled outcomes and recorded challenges, each decayed by 2^(−age / halfLifeSeconds). good counts AGREED ` +
    `${AGREED.good}, a passed challenge ${CHALLENGE_PASSED.good}; bad counts DISSENTED ${DISSENTED.bad}, NO_REVEAL ${NO_REVEAL.bad}, ` +
    `NO_SHOW ${NO_SHOW.bad}, a failed challenge ${CHALLENGE_FAILED.bad}; RELEASED is neutral. A newcomer scores 0.5.`,
  fields: (t) => ({
    score: t.exposeFloat('score', { description: 'In [0, 1]; what `Provider.reputation` serves and the matcher ranks by.' }),
    good: t.exposeFloat('good', { description: 'Decayed weight of agreed results and passed challenges.' }),
    bad: t.exposeFloat('bad', { description: 'Decayed weight of slashed faults and failed challenges.' }),
    halfLifeSeconds: t.exposeInt('halfLifeSeconds'),
    at: t.expose('at', { type: 'BigInt', description: 'Chain time (unix s) ages are measured to: the indexed head block.' }),
  }),
})

/** A provider, loaded by lower-case address through a per-request dataloader. */
export const Provider = builder.loadableObjectRef('Provider', {
  load: (addresses: string[], ctx) => findProvidersByAddresses(ctx.views, addresses),
  sort: (provider: IndexedProvider) => provider.address,
})

Provider.implement({
  fields: (t) => ({
    ...exposeBigInts(t, ['unstakeAvailableAt', 'registeredAt'], { nullable: true }),
    lastChallengedAt: t.expose('lastChallengedAt', {
      type: 'BigInt',
      nullable: true,
      description: 'Unix seconds (chain time) its latest challenge was recorded; null while never challenged.',
    }),
    ...exposeBigInts(t, ['pricePerUnit', 'stake', 'locked', 'pendingUnstake']),
    address: t.expose('address', { type: 'Address' }),
    registered: t.exposeBoolean('registered'),
    paused: t.exposeBoolean('paused'),
    // uint32 on chain: GraphQL's Int (int32) can't hold 2^31 and up, so these are BigInt; the uint16 ones fit Int.
    gpuModel: t.expose('gpuModel', { type: 'BigInt', description: 'Canonical GPU model id (uint32); 0 = unknown or CPU only.' }),
    gpuCount: t.exposeInt('gpuCount'),
    vramMiB: t.expose('vramMib', { type: 'BigInt', description: 'VRAM per GPU, MiB (uint32).' }),
    cpuCores: t.exposeInt('cpuCores'),
    memoryMiB: t.expose('memoryMib', { type: 'BigInt', description: 'Memory, MiB (uint32).' }),
    benchmarkScore: t.expose('benchmarkScore', { type: 'BigInt', description: 'Inference units one device serves per epoch (uint32).' }),
    capacity: t.expose('capacity', { type: 'BigInt', description: 'gpuCount × benchmarkScore, units per epoch.' }),
    region: t.expose('region', { type: 'Bytes32' }),
    encryptionPubKey: t.exposeString('encryptionPubKey', { nullable: true }),
    freeStake: t.expose('freeStake', { type: 'BigInt', description: 'stake − locked − pendingUnstake.' }),
    jobsCompleted: t.exposeInt('jobsCompleted'),
    jobsFailed: t.exposeInt('jobsFailed'),
    slashCount: t.exposeInt('slashCount'),
    noShowCount: t.exposeInt('noShowCount'),
    challengesPassed: t.exposeInt('challengesPassed', { description: 'Known-answer challenge jobs it answered right.' }),
    challengesFailed: t.exposeInt('challengesFailed', { description: 'Known-answer challenge jobs it answered wrong.' }),
    attestedCapacity: t.expose('attestedCapacity', {
      type: 'BigInt',
      description: 'Units per hour its latest challenge showed if it passed; 0 after a failed one, until it passes again, and before any.',
    }),
    challenges: t.field({
      type: [Challenge],
      description: 'Its recorded challenges, most recent first.',
      args: recentListArgs(t.arg),
      complexity: recentListComplexity,
      resolve: (p, args, ctx) => findChallengesOfProvider(ctx.views, p.address, recentCountOf(args)),
    }),
    lastHeartbeatAt: t.loadable({
      type: 'BigInt',
      nullable: true,
      description: 'Server time (unix s) of the last accepted heartbeat.',
      load: (addresses: string[], ctx) => findLastSeen(ctx.db, addresses),
      resolve: (p) => p.address,
    }),
    live: t.loadable({
      type: 'Boolean',
      description: `Heartbeat within the last ${heartbeatLivenessSeconds} s (what the matcher requires).`,
      load: (addresses: string[], ctx) => findLiveness(ctx.db, addresses, ctx.now()),
      resolve: (p) => p.address,
    }),
    reputation: t.float({
      description: 'In [0, 1], 0.5 for a newcomer: recent agreed results raise it, recent faults lower it (`reputationDetail`).',
      resolve: async (p, _args, ctx) => (await Reputation.getDataloader(ctx).load(p.address)).score,
    }),
    reputationDetail: t.field({ type: Reputation, resolve: (p) => p.address }),
    warmModels: t.loadableList({
      type: 'Bytes32',
      description: 'Model hashes its last accepted heartbeat reported warm (lower-case, sorted); the matcher prefers it for their jobs.',
      load: (addresses: string[], ctx) => findWarmModels(ctx.db, addresses),
      resolve: (p) => p.address,
    }),
    assignments: t.field({
      type: [Assignment],
      description: 'Most recent assignments first.',
      args: recentListArgs(t.arg),
      complexity: recentListComplexity,
      resolve: (p, args, ctx) => findAssignmentsOfProvider(ctx.views, p.address, recentCountOf(args)),
    }),
    earnings: t.field({ type: Earnings, resolve: (p, _args, ctx) => findEarnings(ctx.views, p) }),
  }),
})

const ProviderWhere = builder.inputType('ProviderWhere', {
  fields: (t) => ({
    paused: t.boolean(),
    region: t.field({ type: 'Bytes32' }),
    region_in: t.field({ type: ['Bytes32'] }),
    gpuModel: t.field({ type: 'BigInt' }),
    vramMiB_gte: t.field({ type: 'BigInt' }),
    address_in: t.field({ type: ['Address'] }),
  }),
})

const byAddress = builder.args((t) => ({ address: t.field({ type: 'Address', required: true }) }))

builder.queryFields((t) => ({
  providers: t.connection({
    type: Provider,
    args: listArgs(t.arg, { where: ProviderWhere, orderBy: ProviderOrderBy, defaults: ['REGISTERED_AT', 'asc'] }),
    complexity: connectionComplexity,
    resolve: (_root, args, ctx) => resolveConnection(args, () => findProviders(ctx.views, args)),
  }),
  // The lower-case address is the provider's dataloader key: null when no such provider.
  provider: t.field({ type: Provider, nullable: true, args: byAddress, resolve: (_root, { address }) => address.toLowerCase() }),
}))
