import { type Kysely, sql } from 'kysely'
import type { Address, Hex } from 'viem'
import type { Deployment } from '../../protocol/deployment.ts'
import {
  GatewayError,
  type GatewayRequestKind,
  type GatewayRequestStatus,
  gatewayAddressOf,
  gatewayMaxWaiting,
} from '../../protocol/gateway.ts'
import { toBigInt, type WithBigInts, withBigInts } from './convert.ts'
import type { Database, Views } from './database.ts'
import { indexedBlock } from './indexedBlock.ts'
import type { GatewayRequestRow } from './tables/gatewayRequest.table.ts'

const numericColumns = ['seq', 'nonce', 'amount', 'jobId'] as const satisfies readonly (keyof GatewayRequestRow)[]

/** A gateway request as stored: numbers as bigints, `payload` the signed message with its bigints as decimal strings. */
export type GatewayRequest = WithBigInts<GatewayRequestRow, (typeof numericColumns)[number]>

const requestOf = (row: GatewayRequestRow): GatewayRequest => withBigInts(row, numericColumns)

/** What an account holds at the gateway, in wei; `balance` may fall below 0 when a reorg removed a counted deposit. */
export type GatewayBalance = {
  /** Transfers from the account to the gateway, `depth` blocks deep in the index. */
  deposited: bigint
  /** JobMarket refunds of the account's gateway jobs (cancelled, expired, refunded after an audit). */
  refunded: bigint
  /** Escrow of its submissions not FAILED. */
  held: bigint
  /** Its withdrawals not FAILED. */
  withdrawn: bigint
  balance: bigint
}

/** Who the gateway is and which of its transfers aren't deposits: JobMarket's payouts, and the deployer's float. */
export type GatewayParties = { gateway: Address; market: Address; deployer: Address; depth: number }

/** Blocks deep a deposit must be before it counts (its own block is 1). */
export const gatewayDepositDepth = 2

/** The deployment's gateway parties, deposits counting {@link gatewayDepositDepth} deep. */
export function gatewayPartiesOf(deployment: Deployment): GatewayParties {
  return {
    gateway: gatewayAddressOf(deployment),
    market: deployment.contracts.JobMarket.address,
    deployer: deployment.deployer,
    depth: gatewayDepositDepth,
  }
}

const lower = (a: string) => a.toLowerCase() as Address

/** The block below which deposits count: `depth` blocks deep under the indexed head. */
async function depositHorizon(views: Views, parties: GatewayParties): Promise<bigint> {
  const head = (await indexedBlock(views))?.blockNumber ?? -1n
  return head - BigInt(Math.max(1, parties.depth)) + 1n
}

/** Deposits `depth` deep: of `account`, or of every account when none is named (the key's own flows aren't deposits). */
async function sumDeposits(views: Views, parties: GatewayParties, account?: Address): Promise<bigint> {
  const notDeposits = [lower(parties.market), lower(parties.deployer), lower(parties.gateway)]
  if (account && notDeposits.includes(lower(account))) return 0n
  const row = await views
    .selectFrom('gatewayTransfer')
    .select(sql<string>`coalesce(sum(amount), 0)`.as('amount'))
    .where('to', '=', lower(parties.gateway))
    .$if(account !== undefined, (q) => q.where('from', '=', lower(account as Address)))
    .$if(account === undefined, (q) => q.where('from', 'not in', notDeposits))
    .where('blockNumber', '<=', (await depositHorizon(views, parties)).toString())
    .executeTakeFirstOrThrow()
  return toBigInt(row.amount)
}

/** Refunds to the key of gateway jobs: of `account`'s requests, or of every account's when none is named. */
async function sumRefunds(views: Views, parties: GatewayParties, account?: Address): Promise<bigint> {
  const row = await views
    .selectFrom('payment')
    .select(sql<string>`coalesce(sum(amount), 0)`.as('amount'))
    .where('kind', '=', 'REFUND')
    .where('account', '=', lower(parties.gateway))
    .where('jobId', 'in', (eb) =>
      eb
        .selectFrom('app.gatewayRequest')
        .select('jobId')
        .$if(account !== undefined, (q) => q.where('account', '=', lower(account as Address)))
        .where('kind', '=', 'SUBMIT')
        .where('jobId', 'is not', null)
        .$narrowType<{ jobId: string }>(),
    )
    .executeTakeFirstOrThrow()
  return toBigInt(row.amount)
}

/** An account's gateway balance (see {@link GatewayBalance}), from the index and the stored requests. */
export async function gatewayBalanceOf(
  db: Kysely<Database>,
  views: Views,
  parties: GatewayParties,
  account: Address,
): Promise<GatewayBalance> {
  const [deposited, refunded, held] = await Promise.all([
    sumDeposits(views, parties, account),
    sumRefunds(views, parties, account),
    db
      .selectFrom('app.gatewayRequest')
      .select([
        sql<string>`coalesce(sum(amount) filter (where kind = 'SUBMIT'), 0)`.as('submitted'),
        sql<string>`coalesce(sum(amount) filter (where kind = 'WITHDRAW'), 0)`.as('withdrawn'),
      ])
      .where('account', '=', lower(account))
      .where('status', '!=', 'FAILED')
      .executeTakeFirstOrThrow(),
  ])
  const submitted = toBigInt(held.submitted)
  const withdrawn = toBigInt(held.withdrawn)
  return { deposited, refunded, held: submitted, withdrawn, balance: deposited + refunded - submitted - withdrawn }
}

/** A request to store: the signed message (`payload`, bigints as strings) and what it holds from the balance. */
export type NewGatewayRequest = {
  id: string
  account: Address
  nonce: bigint
  kind: GatewayRequestKind
  payload: Record<string, unknown>
  signature: Hex
  amount: bigint
}

/**
 * Stores an accepted request as QUEUED, checked under a lock on its account so that two requests can't spend one
 * balance: its nonce unused, fewer than {@link gatewayMaxWaiting} of the account's requests waiting, and `amount` within
 * the balance. Throws {@link GatewayError} naming what failed; nothing is stored then.
 */
export async function insertGatewayRequest(
  db: Kysely<Database>,
  views: Views,
  parties: GatewayParties,
  request: NewGatewayRequest,
): Promise<GatewayRequest> {
  const account = lower(request.account)
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`tessera-gateway:${account}`}))`.execute(tx)
    const used = await tx
      .selectFrom('app.gatewayRequest')
      .select('id')
      .where('account', '=', account)
      .where('nonce', '=', request.nonce.toString())
      .executeTakeFirst()
    if (used) throw new GatewayError(`nonce ${request.nonce} was already used by ${account}: sign the request again with a fresh nonce`)
    const { waiting } = await tx
      .selectFrom('app.gatewayRequest')
      .select((eb) => eb.fn.countAll<string>().as('waiting'))
      .where('account', '=', account)
      .where('status', 'in', ['QUEUED', 'SENDING'])
      .executeTakeFirstOrThrow()
    if (Number(waiting) >= gatewayMaxWaiting)
      throw new GatewayError(
        `${account} has ${waiting} requests waiting, at most ${gatewayMaxWaiting} may wait: try again once some are done`,
        {
          retryable: true,
        },
      )
    if (request.amount > 0n) {
      const { balance } = await gatewayBalanceOf(tx, views, parties, account)
      if (request.amount > balance)
        throw new GatewayError(`balance too low: ${account} has ${balance} wei at the gateway, the request needs ${request.amount}`, {
          metaMessages: [`deposit TSR to the gateway ${parties.gateway}; deposits count once ${parties.depth} blocks deep`],
        })
    }
    const row = await tx
      .insertInto('app.gatewayRequest')
      .values({
        id: request.id,
        account,
        nonce: request.nonce,
        kind: request.kind,
        payload: JSON.stringify(request.payload),
        signature: request.signature,
        amount: request.amount,
        status: 'QUEUED',
      })
      .returningAll()
      .executeTakeFirstOrThrow()
    return requestOf(row)
  })
}

/** The request with this token, or undefined. */
export async function findGatewayRequest(db: Kysely<Database>, id: string): Promise<GatewayRequest | undefined> {
  const row = await db.selectFrom('app.gatewayRequest').selectAll().where('id', '=', id).executeTakeFirst()
  return row && requestOf(row)
}

/** An account's latest requests, newest first. */
export async function findGatewayRequestsOf(db: Kysely<Database>, account: Address, limit: number): Promise<GatewayRequest[]> {
  const rows = await db
    .selectFrom('app.gatewayRequest')
    .selectAll()
    .where('account', '=', lower(account))
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute()
  return rows.map(requestOf)
}

/** Requests in `status`, oldest first. */
export async function findGatewayRequestsIn(db: Kysely<Database>, status: GatewayRequestStatus, limit: number): Promise<GatewayRequest[]> {
  const rows = await db.selectFrom('app.gatewayRequest').selectAll().where('status', '=', status).orderBy('seq').limit(limit).execute()
  return rows.map(requestOf)
}

/** The account whose gateway submission became `jobId`, or undefined when none did (a challenge job, say). */
export async function findGatewayJobAccount(db: Kysely<Database>, jobId: bigint): Promise<Address | undefined> {
  const row = await db
    .selectFrom('app.gatewayRequest')
    .select('account')
    .where('kind', '=', 'SUBMIT')
    .where('jobId', '=', jobId.toString())
    .executeTakeFirst()
  return row?.account
}

/** Whether a request already stands for the transaction `txHash` (so a recovery doesn't take it for another's). */
export async function isGatewayTxClaimed(db: Kysely<Database>, txHash: Hex): Promise<boolean> {
  const row = await db
    .selectFrom('app.gatewayRequest')
    .select('id')
    .where('txHash', '=', txHash)
    .where('status', '=', 'DONE')
    .executeTakeFirst()
  return row !== undefined
}

/**
 * Moves a request on from `from` (only if it is still there: two replicas can't both move it) and records what the
 * chain said. Returns whether it moved.
 */
export async function moveGatewayRequest(
  db: Kysely<Database>,
  id: string,
  from: GatewayRequestStatus,
  change: { status: GatewayRequestStatus; jobId?: bigint; txHash?: Hex | null; error?: string },
): Promise<boolean> {
  const result = await db
    .updateTable('app.gatewayRequest')
    .set({
      status: change.status,
      ...(change.jobId !== undefined && { jobId: change.jobId }),
      ...(change.txHash !== undefined && { txHash: change.txHash }),
      ...(change.error !== undefined && { error: change.error.slice(0, 2000) }),
      updatedAt: new Date(),
    })
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** Records the hash of a request's transaction as soon as it is sent, so a restart can find out what became of it. */
export async function setGatewayTxHash(db: Kysely<Database>, id: string, txHash: Hex): Promise<void> {
  await db.updateTable('app.gatewayRequest').set({ txHash, updatedAt: new Date() }).where('id', '=', id).execute()
}

/**
 * What the gateway owes its accounts in all, or will spend for them: their deposits (`depth` deep) and the refunds of
 * their jobs, less what their DONE requests spent. The challenge issuer spends only what the gateway holds beyond this.
 */
export async function gatewayLiabilities(db: Kysely<Database>, views: Views, parties: GatewayParties): Promise<bigint> {
  const [deposited, refunded, spent] = await Promise.all([
    sumDeposits(views, parties),
    sumRefunds(views, parties),
    db
      .selectFrom('app.gatewayRequest')
      .select(sql<string>`coalesce(sum(amount), 0)`.as('amount'))
      .where('status', '=', 'DONE')
      .executeTakeFirstOrThrow(),
  ])
  return deposited + refunded - toBigInt(spent.amount)
}
