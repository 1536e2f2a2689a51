import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { type Address, getAddress, isHex, type PublicClient } from 'viem'
import { generateSiweNonce, parseSiweMessage, validateSiweMessage } from 'viem/siwe'
import type { Database } from '../db/database.ts'
import { deleteSession, findSessionAccount, findSiweNonceState, insertSession, insertSiweNonce, useSiweNonce } from '../db/sessions.ts'
import { UserInputError } from '../errors.ts'
import { verifyAccountSignature } from './verifyAccountSignature.ts'

/** How long a nonce from `siweNonce` stays usable, in seconds. */
export const siweNonceTtlSeconds = 300

/** The longest a session lasts, in seconds; a message's `Expiration Time` may end it sooner. */
export const sessionMaxSeconds = 24 * 60 * 60

/** How far in the future a message's `Issued At` may be (clock drift), in seconds. */
const issuedAtMaxAheadSeconds = 60

/** Longer messages are refused before parsing. */
const maxMessageLength = 4096

/**
 * A sign-in the server refused; the message names what was wrong and clients see the code `SIGN_IN_REJECTED`. Not
 * retryable as-is: sign a fresh message with a fresh nonce.
 */
export class SignInRejectedError extends UserInputError {
  override name = 'SignInRejectedError'
  constructor(reason: string) {
    super(`sign-in rejected: ${reason}`, { code: 'SIGN_IN_REJECTED' })
  }
}

/** A bearer token's sha256, as sessions are stored (the token itself never is). */
export function sessionTokenHash(token: string): string {
  return `0x${createHash('sha256').update(token).digest('hex')}`
}

/** Issues a single-use EIP-4361 nonce (viem's `generateSiweNonce`) valid for {@link siweNonceTtlSeconds} from `now` (unix s). */
export async function issueSiweNonce(db: Kysely<Database>, now: number): Promise<string> {
  const nonce = generateSiweNonce()
  await insertSiweNonce(db, { nonce, expiresAt: new Date((now + siweNonceTtlSeconds) * 1000) })
  return nonce
}

export type SignInParameters = {
  db: Kysely<Database>
  /** The deployment's chain: the message's `Chain ID` must be it. */
  chainId: number
  /** This server's domain (`host[:port]`): the message's must be it. Undefined refuses every sign-in. */
  domain: string | undefined
  /** Verifies contract accounts' signatures (EIP-1271/6492); without it only EOAs sign in. */
  publicClient?: PublicClient
  /** Unix seconds, server time. */
  now: number
  /** The EIP-4361 message as signed. */
  message: string
  signature: string
}

export type SignInReturnType = { token: string; address: Address; expiresAt: bigint }

/**
 * Signs an account in with an EIP-4361 message (viem's `parseSiweMessage` and `validateSiweMessage`) and its EIP-191
 * signature: the domain is this server's, the chain id the deployment's, the nonce one this server issued, unused and
 * unexpired, `now` within `Not Before` and `Expiration Time`, and the signature the account's (a contract account's
 * through `publicClient`). The nonce is then used up in one statement, so a message signs in once. Returns a random
 * bearer token, stored only as its sha256, valid until {@link sessionMaxSeconds} from now or the message's expiry,
 * whichever comes first. Throws {@link SignInRejectedError} naming the first check that failed.
 */
export async function signIn(parameters: SignInParameters): Promise<SignInReturnType> {
  const { db, chainId, domain, publicClient, now, message, signature } = parameters
  if (!domain) throw new SignInRejectedError('this server does not know its domain (set TESSERA_SERVER_DOMAIN)')
  if (message.length > maxMessageLength) throw new SignInRejectedError(`the message is over ${maxMessageLength} characters`)
  const parsed = parseSiweMessage(message)
  for (const field of ['domain', 'address', 'uri', 'version', 'chainId', 'nonce', 'issuedAt'] as const)
    if (parsed[field] === undefined) throw new SignInRejectedError(`not an EIP-4361 message: it has no ${field}`)
  const { expirationTime, notBefore } = parsed
  const [address, nonce, issuedAt] = [parsed.address as Address, parsed.nonce as string, parsed.issuedAt as Date]
  if (parsed.domain !== domain) throw new SignInRejectedError(`domain "${parsed.domain?.slice(0, 100)}" is not this server's ("${domain}")`)
  if (parsed.chainId !== chainId) throw new SignInRejectedError(`chain id ${parsed.chainId} is not this deployment's (${chainId})`)
  const time = new Date(now * 1000)
  const date = (d: Date, field: string) => {
    if (Number.isNaN(d.getTime())) throw new SignInRejectedError(`${field} is not an RFC 3339 date-time`)
    return d
  }
  if (expirationTime && time >= date(expirationTime, 'Expiration Time'))
    throw new SignInRejectedError(`the message expired at ${expirationTime.toISOString()}`)
  if (notBefore && time < date(notBefore, 'Not Before'))
    throw new SignInRejectedError(`the message is not valid before ${notBefore.toISOString()}`)
  if (date(issuedAt, 'Issued At').getTime() > time.getTime() + issuedAtMaxAheadSeconds * 1000)
    throw new SignInRejectedError(`the message was issued at ${issuedAt.toISOString()}, in the future`)
  await refuseUnusableNonce(db, nonce, time)
  // What is left of EIP-4361 (version 1, the nonce's and address's form), by viem.
  if (!validateSiweMessage({ message: parsed, domain, nonce, time }))
    throw new SignInRejectedError('the message is not a valid EIP-4361 message (version, nonce or address)')
  if (!isHex(signature)) throw new SignInRejectedError('signature must be a 0x-prefixed hex string')
  if (!(await verifyAccountSignature({ address, message, signature, publicClient })))
    throw new SignInRejectedError(`signature was not made by ${getAddress(address)}`)
  // Checked above, used here in one statement: of two sign-ins racing with one message, one wins.
  if (!(await useSiweNonce(db, nonce, time))) {
    await refuseUnusableNonce(db, nonce, time)
    throw new SignInRejectedError(`nonce "${nonce}" could not be used`)
  }
  const token = `tsr_${randomBytes(32).toString('base64url')}`
  const until = Math.min(now + sessionMaxSeconds, expirationTime ? Math.floor(expirationTime.getTime() / 1000) : Number.POSITIVE_INFINITY)
  const expiresAt = new Date(until * 1000)
  await insertSession(db, { tokenHash: sessionTokenHash(token), address, expiresAt })
  return { token, address: getAddress(address), expiresAt: BigInt(Math.floor(until)) }
}

/** Throws a {@link SignInRejectedError} saying why `nonce` can't sign in at `time`: unknown, used (a replay) or expired. */
async function refuseUnusableNonce(db: Kysely<Database>, nonce: string, time: Date): Promise<void> {
  const found = await findSiweNonceState(db, nonce, time)
  const shown = nonce.slice(0, 100)
  if (found.state === 'unknown') throw new SignInRejectedError(`nonce "${shown}" was not issued by this server: ask siweNonce for one`)
  if (found.state === 'used')
    throw new SignInRejectedError(`nonce "${shown}" was already used at ${found.usedAt.toISOString()}: a message signs in once`)
  if (found.state === 'expired')
    throw new SignInRejectedError(`nonce "${shown}" expired at ${found.expiresAt.toISOString()}: ask siweNonce for a new one`)
}

/** The bearer token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerTokenOf(authorization: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  return match?.[1]
}

/** The account signed in with `token`, while its session lasts at `now` (unix s). */
export function sessionAccount(db: Kysely<Database>, token: string, now: number): Promise<Address | undefined> {
  return findSessionAccount(db, sessionTokenHash(token), new Date(now * 1000))
}

/** Ends the session of `token` at once; whether there was one. */
export function signOut(db: Kysely<Database>, token: string): Promise<boolean> {
  return deleteSession(db, sessionTokenHash(token))
}
