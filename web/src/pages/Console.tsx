import { useState } from 'react'
import { type CombinedError, useClient } from 'urql'
import { Link } from 'wouter'
import { ClaimableRewardFields, ClaimableRewardsTable } from '../components/ClaimableRewardsTable.tsx'
import { useLiveQuery } from '../components/live.tsx'
import { formatTsr } from '../format.ts'
import { graphql } from '../graphql/tada.ts'
import { PreparedTransactionFields } from '../wallet/preparedTransaction.ts'
import type { PreparedTransaction, Wallet } from '../wallet/types.ts'
import { useWallet } from '../wallet/WalletContext.tsx'
import { WalletPicker } from '../wallet/WalletPicker.tsx'
import { ProviderState } from './Providers.tsx'
import './Providers.css'

const ConsoleQuery = graphql(
  `
  query Console($address: Address!) {
    account(address: $address) {
      balance
      owed
      refundsOwed
    }
    provider(address: $address) {
      registered
      paused
      live
      pricePerUnit
      owed
      claimable
      claimableRewards {
        ...ClaimableRewardFields
      }
    }
  }
`,
  [ClaimableRewardFields],
)

const BalanceQuery = graphql(`
  query ConsoleBalance($address: Address!) {
    account(address: $address) {
      balance
    }
  }
`)

const PrepareWithdraw = graphql(
  `
  mutation PrepareWithdraw($from: Address!) {
    prepareWithdraw(from: $from) {
      ...PreparedTransactionFields
    }
  }
`,
  [PreparedTransactionFields],
)

const PrepareClaimRewards = graphql(
  `
  mutation PrepareClaimRewards($from: Address!) {
    prepareClaimRewards(from: $from) {
      ...PreparedTransactionFields
    }
  }
`,
  [PreparedTransactionFields],
)

/** The API's own words when it refused (they name the field), else the transport's. */
function messageOf(error: CombinedError): string {
  return error.graphQLErrors.length > 0 ? error.graphQLErrors.map((e) => e.message).join('; ') : error.message
}

type Action = 'withdraw' | 'claim'

/** Where a payout stands: preparing, one of its transactions signing or mining, done, or refused. */
type Progress =
  | { action: Action; phase: 'preparing' }
  | { action: Action; phase: 'signing' | 'mining'; index: number; total: number; description: string; hash?: `0x${string}` }
  | { action: Action; phase: 'done'; received: bigint; hashes: `0x${string}`[] }
  | { action: Action; phase: 'failed'; message: string }

const actionText: Record<Action, string> = { withdraw: 'Withdrawal', claim: 'Reward claim' }

export default function ConsolePage() {
  const { wallet } = useWallet()
  return (
    <section>
      <h1>Provider console</h1>
      <WalletPicker defaultDevIndex={2} purpose="runs your provider" />
      {wallet ? (
        <Payouts wallet={wallet} key={wallet.address} />
      ) : (
        <p>Connect the provider's account to see what it is owed and collect it.</p>
      )}
    </section>
  )
}

function Payouts({ wallet }: { wallet: Wallet }) {
  const client = useClient()
  const [result, reexecute] = useLiveQuery({ query: ConsoleQuery, variables: { address: wallet.address } })
  const [progress, setProgress] = useState<Progress>()
  const busy = progress !== undefined && progress.phase !== 'done' && progress.phase !== 'failed'

  const balanceNow = async (): Promise<bigint> => {
    const read = await client.query(BalanceQuery, { address: wallet.address }, { requestPolicy: 'network-only' }).toPromise()
    if (!read.data) throw new Error(`Could not read the balance: ${read.error ? messageOf(read.error) : 'no answer'}`)
    return BigInt(read.data.account.balance)
  }

  /** Prepares the payout's transactions, sends them through the wallet, and reports the TSR that arrived. */
  const run = async (action: Action) => {
    setProgress({ action, phase: 'preparing' })
    try {
      const prepared =
        action === 'withdraw'
          ? await client.mutation(PrepareWithdraw, { from: wallet.address }).toPromise()
          : await client.mutation(PrepareClaimRewards, { from: wallet.address }).toPromise()
      if (prepared.error || !prepared.data) {
        setProgress({ action, phase: 'failed', message: prepared.error ? messageOf(prepared.error) : 'The API answered nothing' })
        return
      }
      const data = prepared.data
      const transactions: PreparedTransaction[] = 'prepareWithdraw' in data ? [data.prepareWithdraw] : data.prepareClaimRewards
      const before = await balanceNow()
      const total = transactions.length
      setProgress({ action, phase: 'signing', index: 0, total, description: transactions[0].description })
      const hashes = await wallet.send(transactions, (index, hash) => {
        setProgress({ action, phase: 'mining', index, total, description: transactions[index].description, hash })
      })
      const after = await balanceNow()
      setProgress({ action, phase: 'done', received: after - before, hashes })
    } catch (error) {
      setProgress({ action, phase: 'failed', message: (error as Error).message })
    } finally {
      reexecute({ requestPolicy: 'network-only' })
    }
  }

  if (result.error && !result.data)
    return (
      <p role="alert" className="error">
        Could not read account {wallet.address}: {result.error.message}
      </p>
    )
  if (!result.data) return <p aria-busy="true">Reading what {wallet.address} is owed…</p>
  const { account, provider } = result.data
  const owed = BigInt(account.owed)
  const claimable = BigInt(provider?.claimable ?? '0')

  return (
    <>
      {/* A provider that left the registry keeps what it earned: it may still withdraw and claim. */}
      {provider ? (
        <p data-testid="console-provider">
          <Link href={`/providers/${wallet.address}`}>Provider {wallet.address}</Link>:{' '}
          {provider.registered ? (
            <>
              <ProviderState live={provider.live} paused={provider.paused} />, asking {formatTsr(provider.pricePerUnit, 6)} per unit.
            </>
          ) : (
            'no longer registered; it can still collect what it earned.'
          )}
        </p>
      ) : (
        <p className="warn" role="status" data-testid="console-not-provider">
          {wallet.address} is not a registered provider, so it has no emission rewards to claim.
          {owed > 0n ? ' JobMarket owes it money all the same (refunds of its jobs as a requester): it can withdraw that.' : ''}
        </p>
      )}

      <dl className="cards">
        <div className="card">
          <dt>Owed by JobMarket</dt>
          <dd className="exact" data-testid="console-owed">
            {formatTsr(owed, 18)}
          </dd>
          <dd className="note">
            {BigInt(account.refundsOwed) > 0n ? `${formatTsr(account.refundsOwed, 6)} of it refunds` : 'fees and shares'}
          </dd>
        </div>
        {provider ? (
          <div className="card">
            <dt>Claimable rewards</dt>
            <dd className="exact" data-testid="console-claimable">
              {formatTsr(claimable, 18)}
            </dd>
            <dd className="note">
              over {provider.claimableRewards.length} closed {provider.claimableRewards.length === 1 ? 'epoch' : 'epochs'}
            </dd>
          </div>
        ) : null}
        <div className="card">
          <dt>TSR balance</dt>
          <dd className="exact" data-testid="console-balance">
            {formatTsr(account.balance, 18)}
          </dd>
          <dd className="note">in this wallet</dd>
        </div>
      </dl>

      <div className="row">
        <button type="button" onClick={() => void run('withdraw')} disabled={busy}>
          Withdraw
        </button>
        {provider ? (
          <button type="button" onClick={() => void run('claim')} disabled={busy}>
            Claim rewards
          </button>
        ) : null}
      </div>
      <ProgressView progress={progress} />

      {provider && provider.claimableRewards.length > 0 ? (
        <>
          <h2>Rewards by epoch</h2>
          <ClaimableRewardsTable rewards={provider.claimableRewards} testId="console-rewards" />
        </>
      ) : null}
    </>
  )
}

function ProgressView({ progress }: { progress: Progress | undefined }) {
  if (!progress) return <p role="status" className="visually-hidden" />
  const what = actionText[progress.action]
  switch (progress.phase) {
    case 'preparing':
      return (
        <p role="status" className="progress" data-testid="console-progress">
          {what}: preparing the transactions…
        </p>
      )
    case 'signing':
    case 'mining':
      return (
        <p role="status" className="progress" data-testid="console-progress">
          {what}: transaction {progress.index + 1} of {progress.total} ({progress.description}){' '}
          {progress.phase === 'signing' ? (
            'waiting for the signature…'
          ) : (
            <>
              sent as <code>{progress.hash}</code>, waiting for it to be mined…
            </>
          )}
        </p>
      )
    case 'done':
      return (
        <p role="status" className="ok progress" data-testid="console-result">
          {what} done: received <strong data-testid="console-received">{formatTsr(progress.received, 18)}</strong> in{' '}
          {progress.hashes.length} {progress.hashes.length === 1 ? 'transaction' : 'transactions'} (
          {progress.hashes.map((h, i) => (
            <span key={h}>
              {i > 0 ? ', ' : ''}
              <code>{h}</code>
            </span>
          ))}
          ).
        </p>
      )
    case 'failed':
      return (
        <p role="alert" className="error" data-testid="console-error">
          {what} refused: {progress.message}
        </p>
      )
  }
}
