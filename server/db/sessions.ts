import type { Kysely } from 'kysely'
import type { Address } from 'viem'
import type { Database } from './database.ts'

/** Records a Sign-In with Ethereum nonce, usable once until `expiresAt`. */
export async function insertSiweNonce(db: Kysely<Database>, nonce: { nonce: string; expiresAt: Date }): Promise<void> {
  await db.insertInto('app.siweNonce').values(nonce).execute()
}

/** A nonce's state as `signIn` explains a refusal: unknown, used, expired, or usable. */
export type SiweNonceState =
  | { state: 'unknown' }
  | { state: 'used'; usedAt: Date }
  | { state: 'expired'; expiresAt: Date }
  | { state: 'usable' }

/** What `nonce` is at `now`, read without using it. */
export async function findSiweNonceState(db: Kysely<Database>, nonce: string, now: Date): Promise<SiweNonceState> {
  const row = await db.selectFrom('app.siweNonce').select(['expiresAt', 'usedAt']).where('nonce', '=', nonce).executeTakeFirst()
  if (!row) return { state: 'unknown' }
  if (row.usedAt) return { state: 'used', usedAt: row.usedAt }
  if (row.expiresAt <= now) return { state: 'expired', expiresAt: row.expiresAt }
  return { state: 'usable' }
}

/**
 * Marks `nonce` used at `now` if it is unused and unexpired, in one statement: of two sign-ins racing with the same
 * nonce exactly one gets true.
 */
export async function useSiweNonce(db: Kysely<Database>, nonce: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('app.siweNonce')
    .set({ usedAt: now })
    .where('nonce', '=', nonce)
    .where('usedAt', 'is', null)
    .where('expiresAt', '>', now)
    .returning('nonce')
    .executeTakeFirst()
  return row !== undefined
}

/** Records a session of `address` (lower-cased) under the sha256 of its token. */
export async function insertSession(
  db: Kysely<Database>,
  session: { tokenHash: string; address: Address; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('app.session')
    .values({ ...session, address: session.address.toLowerCase() as Address })
    .execute()
}

/** The account of the session whose token hashes to `tokenHash`, if it is unexpired at `now`. */
export async function findSessionAccount(db: Kysely<Database>, tokenHash: string, now: Date): Promise<Address | undefined> {
  const row = await db
    .selectFrom('app.session')
    .select('address')
    .where('tokenHash', '=', tokenHash)
    .where('expiresAt', '>', now)
    .executeTakeFirst()
  return row?.address
}

/** Ends the session whose token hashes to `tokenHash`; whether there was one. */
export async function deleteSession(db: Kysely<Database>, tokenHash: string): Promise<boolean> {
  const result = await db.deleteFrom('app.session').where('tokenHash', '=', tokenHash).executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Deletes nonces and sessions that expired before `now`; how many of each. */
export async function deleteExpiredAuth(db: Kysely<Database>, now: Date): Promise<{ nonces: number; sessions: number }> {
  const nonces = await db.deleteFrom('app.siweNonce').where('expiresAt', '<=', now).executeTakeFirst()
  const sessions = await db.deleteFrom('app.session').where('expiresAt', '<=', now).executeTakeFirst()
  return { nonces: Number(nonces.numDeletedRows), sessions: Number(sessions.numDeletedRows) }
}
