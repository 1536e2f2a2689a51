import type { Kysely } from 'kysely'
import { type Address, getAddress, type Hex, isAddress, isHex, type PublicClient } from 'viem'
import { blobRequestHeaders, blobRequestMaxSkewSeconds, blobRequestMessage } from '../../protocol/blobRequest.ts'
import { TesseraError } from '../../protocol/errors.ts'
import type { Database } from '../db/database.ts'
import { bearerTokenOf, sessionAccount } from './siwe.ts'
import { verifyAccountSignature } from './verifyAccountSignature.ts'

/**
 * Credentials a request carried but that don't hold: malformed (`status` 400) or not valid (401). The message says
 * which and is safe to send back. Not retryable as-is.
 */
export class AuthenticationError extends TesseraError {
  override name = 'AuthenticationError'
  readonly status: 400 | 401
  constructor(status: 400 | 401, shortMessage: string) {
    super(shortMessage)
    this.status = status
  }
}

/** Why a request under a session's token is refused when the server holds no such session, or it ended. */
export const sessionUnknown = 'the session token is unknown or expired: sign in again'

/** How the caller proved who it is. */
export type Identity = { address: Address; via: 'session' | 'signature' }

export type AuthenticateRequestParameters = {
  request: Request
  url: URL
  db: Kysely<Database>
  chainId: number
  /** This server's domain (`host[:port]`) as signed requests must name it. */
  domain: string
  /** Verifies contract accounts' signatures; without it only EOAs' verify. */
  publicClient?: PublicClient
  /** Unix seconds, server time. */
  now: number
  /** The sha256 the request is about (the declared body hash of an upload, the blob of a read), when there is one. */
  content?: Hex
}

/**
 * Who sent `request`: the account of its SIWE session (`Authorization: Bearer <token>` from `signIn`) or of its
 * signature (`x-tessera-address`, `x-tessera-timestamp`, `x-tessera-signature`: the EIP-191 signature of
 * `blobRequestMessage` over this chain, `domain`, method, `content` and path, within {@link blobRequestMaxSkewSeconds}
 * of `now`). Undefined when it carries neither; an {@link AuthenticationError} when what it carries doesn't hold.
 */
export async function authenticateRequest(parameters: AuthenticateRequestParameters): Promise<Identity | undefined> {
  const { request, url, now } = parameters
  const authorization = request.headers.get('authorization')
  if (authorization !== null) {
    const token = bearerTokenOf(authorization)
    if (!token) throw new AuthenticationError(400, 'Authorization must be "Bearer <token>", the token from the signIn mutation')
    const address = await sessionAccount(parameters.db, token, now)
    if (!address) throw new AuthenticationError(401, sessionUnknown)
    return { address: getAddress(address), via: 'session' }
  }
  const [address, timestamp, signature] = [
    request.headers.get(blobRequestHeaders.address),
    request.headers.get(blobRequestHeaders.timestamp),
    request.headers.get(blobRequestHeaders.signature),
  ]
  if (address === null && timestamp === null && signature === null) return undefined
  if (address === null || timestamp === null || signature === null)
    throw new AuthenticationError(
      400,
      `a signed request needs all of ${Object.values(blobRequestHeaders).join(', ')}; it has ${[address, timestamp, signature].filter((h) => h !== null).length} of them`,
    )
  if (!isAddress(address, { strict: false }))
    throw new AuthenticationError(400, `${blobRequestHeaders.address} must be a 20-byte 0x-prefixed hex address`)
  if (!/^\d{1,15}$/.test(timestamp)) throw new AuthenticationError(400, `${blobRequestHeaders.timestamp} must be unix seconds`)
  if (!isHex(signature)) throw new AuthenticationError(400, `${blobRequestHeaders.signature} must be a 0x-prefixed hex string`)
  if (Math.abs(now - Number(timestamp)) > blobRequestMaxSkewSeconds)
    throw new AuthenticationError(
      401,
      `${blobRequestHeaders.timestamp} ${timestamp} is more than ${blobRequestMaxSkewSeconds} s from server time ${Math.floor(now)}: sign the request again`,
    )
  if (!parameters.content) throw new AuthenticationError(400, 'a signed upload must declare its sha256 in x-content-sha256')
  const message = blobRequestMessage({
    chainId: parameters.chainId,
    domain: parameters.domain,
    address,
    timestamp: Number(timestamp),
    method: request.method,
    content: parameters.content,
    path: url.pathname + url.search,
  })
  if (!(await verifyAccountSignature({ address, message, signature, publicClient: parameters.publicClient })))
    throw new AuthenticationError(
      401,
      `${blobRequestHeaders.signature} was not made by ${getAddress(address)} over this request (chain ${parameters.chainId}, domain ${parameters.domain})`,
    )
  return { address: getAddress(address), via: 'signature' }
}
