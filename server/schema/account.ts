import type { Address } from 'viem'
import { builder } from '../builder.ts'
import { findJobs } from '../db/jobs.ts'
import { claimableRewardsOf, type EpochReward, marketAllowanceOf, owedOf, refundsOwedOf, tokenBalanceOf } from '../wallet/balances.ts'
import { walletContextOf } from '../wallet/preparedTransaction.ts'
import { connectionComplexity, resolveConnection } from './connection.ts'
import { Job, JobStatus } from './job.ts'
import { Provider } from './provider.ts'
import { exposeBigInts, OrderDirection } from './scalars.ts'

/** Chain reads cost more than a column: one RPC call each. */
const chainRead = 5

const Account = builder.objectRef<{ address: Address }>('Account').implement({
  description: 'What a wallet holds with the protocol, read from the chain now: balances, allowance, what it can withdraw, and its jobs.',
  fields: (t) => ({
    address: t.expose('address', { type: 'Address' }),
    owed: t.field({
      type: 'BigInt',
      complexity: chainRead,
      description: 'What `JobMarket.withdraw()` would pay it now (fees, refunds, slash shares, bonds back): `prepareWithdraw`.',
      resolve: (a, _args, ctx) => owedOf(walletContextOf(ctx), a.address),
    }),
    refundsOwed: t.field({
      type: 'BigInt',
      complexity: chainRead,
      description:
        'The part of `owed` that came back from its jobs and challenges (escrows of cancelled, expired and failed jobs, the unspent rest of completed ones, bonds returned), as indexed since its last withdrawal.',
      resolve: (a, _args, ctx) => refundsOwedOf(walletContextOf(ctx), a.address),
    }),
    allowance: t.field({
      type: 'BigInt',
      complexity: chainRead,
      description: 'What JobMarket may pull from its TSR now (escrows, challenge bonds): `TesseraToken.allowance(address, JobMarket)`.',
      resolve: (a, _args, ctx) => marketAllowanceOf(walletContextOf(ctx), a.address),
    }),
    balance: t.field({
      type: 'BigInt',
      complexity: chainRead,
      description: 'Its TSR balance.',
      resolve: (a, _args, ctx) => tokenBalanceOf(walletContextOf(ctx), a.address),
    }),
    jobs: t.connection({
      type: Job,
      description: 'The jobs it submitted, newest first by default. `first` ≤ 1000.',
      args: {
        status_in: t.arg({ type: [JobStatus] }),
        orderDirection: t.arg({ type: OrderDirection, defaultValue: 'desc' }),
      },
      complexity: connectionComplexity,
      resolve: (a, args, ctx) =>
        resolveConnection(args, () => findJobs(ctx.views, { ...args, where: { requester: a.address, status_in: args.status_in } })),
    }),
  }),
})

const EpochRewardRef = builder.objectRef<EpochReward>('EpochReward').implement({
  description: 'A closed epoch’s emission reward a provider can claim now (`EmissionController.claimable`).',
  fields: (t) => ({
    ...exposeBigInts(t, ['epoch', 'usage', 'availability']),
    amount: t.expose('amount', { type: 'BigInt', description: 'usage + availability: what `claim(epoch)` mints.' }),
  }),
})

builder.objectFields(Provider, (t) => ({
  owed: t.field({
    type: 'BigInt',
    complexity: chainRead,
    description: 'What `JobMarket.withdraw()` would pay it now (fees, slash and bond shares), read from the chain: `prepareWithdraw`.',
    resolve: (p, _args, ctx) => owedOf(walletContextOf(ctx), p.address),
  }),
  claimable: t.field({
    type: 'BigInt',
    complexity: chainRead * 4,
    description:
      'What claiming every closed epoch’s emission reward would mint now: Σ `claimableRewards` (`prepareClaimRewards`). Epochs are found from its indexed fees and passed challenges.',
    resolve: async (p, _args, ctx) => (await claimableRewardsOf(walletContextOf(ctx), p.address)).reduce((sum, r) => sum + r.amount, 0n),
  }),
  claimableRewards: t.field({
    type: [EpochRewardRef],
    complexity: chainRead * 4,
    description: 'The closed epochs with a reward it can claim now, oldest first.',
    resolve: (p, _args, ctx) => claimableRewardsOf(walletContextOf(ctx), p.address),
  }),
}))

builder.queryFields((t) => ({
  account: t.field({
    type: Account,
    description: 'A wallet’s balances with the protocol and its jobs; any address (an account that never acted reads zeros).',
    args: { address: t.arg({ type: 'Address', required: true }) },
    resolve: (_root, { address }) => ({ address }),
  }),
}))
