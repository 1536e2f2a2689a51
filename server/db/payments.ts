import { sql } from 'kysely'
import type { Address } from 'viem'
import { type PaymentKind, paymentKinds } from '../../protocol/enums.ts'
import { anyOf } from './anyOf.ts'
import { toBigInt, type WithBigInts, withBigInts } from './convert.ts'
import type { Views } from './database.ts'
import type { PaymentRow } from './tables/payment.table.ts'

const numericColumns = ['jobId', 'amount', 'blockNumber', 'timestamp'] as const satisfies readonly (keyof PaymentRow)[]

/** A JobMarket credit (fee, slash share, refund) or withdrawal: the indexer's row, amounts as bigints. */
export type IndexedPayment = WithBigInts<PaymentRow, (typeof numericColumns)[number]>

/** The domain value of a `payment` row. */
function paymentOf(row: PaymentRow): IndexedPayment {
  return withBigInts(row, numericColumns)
}

/** Payments tied to the given jobs, in chain order. */
export async function findPaymentsByJobIds(views: Views, jobIds: readonly string[]): Promise<IndexedPayment[]> {
  const ofJobs = anyOf('jobId', jobIds, 'numeric')
  return (await views.selectFrom('payment').selectAll().where(ofJobs).orderBy('blockNumber').orderBy('id').execute()).map(paymentOf)
}

/** What JobMarket has credited an account (any case), summed by kind; 0 for a kind it never received. */
export async function paymentTotals(views: Views, account: string): Promise<Record<PaymentKind, bigint>> {
  const rows = await views
    .selectFrom('payment')
    .select(['kind', sql<string>`coalesce(sum(amount), 0)`.as('total')])
    .where('account', '=', account.toLowerCase() as Address)
    .groupBy('kind')
    .execute()
  const totals = Object.fromEntries(paymentKinds.map((kind) => [kind, 0n])) as Record<PaymentKind, bigint>
  for (const r of rows) totals[r.kind] = toBigInt(r.total)
  return totals
}

/**
 * What JobMarket has credited `account` (any case) as refunds (REFUND, BOND_RETURN) since its last withdrawal, as
 * indexed: the part of its `owed` balance that came back from its jobs and challenges (a withdrawal pays the whole
 * balance, so nothing credited before it is still owed).
 */
export async function refundsSinceWithdrawal(views: Views, account: string): Promise<bigint> {
  const lower = account.toLowerCase() as Address
  const last = await views
    .selectFrom('payment')
    .select(['blockNumber', 'logIndex'])
    .where('account', '=', lower)
    .where('kind', '=', 'WITHDRAWAL')
    .orderBy('blockNumber', 'desc')
    .orderBy('logIndex', 'desc')
    .limit(1)
    .executeTakeFirst()
  let q = views
    .selectFrom('payment')
    .select(sql<string>`coalesce(sum(amount), 0)`.as('total'))
    .where('account', '=', lower)
    .where('kind', 'in', ['REFUND', 'BOND_RETURN'])
  if (last) q = q.where(sql<boolean>`(block_number, log_index) > (${String(last.blockNumber)}::numeric, ${last.logIndex}::integer)`)
  return toBigInt((await q.executeTakeFirst())?.total ?? '0')
}
