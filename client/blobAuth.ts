import type { Address, Hex } from 'viem'
import { blobRequestHeaders, blobRequestMessage } from '../protocol/blobRequest.ts'
import { heartbeatDomain } from '../protocol/heartbeat.ts'
import type { BlobSession } from './blobSession.ts'

/** What signs blob requests: a viem account (`privateKeyToAccount`, a wallet's) fits. */
export type BlobSigner = { address: Address; signMessage: (parameters: { message: string }) => Promise<Hex> }

/**
 * How a client proves who it is to the blob store: an account that signs each request for the deployment's chain, the
 * bearer token of a SIWE session (`signIn`), or a {@link BlobSession} that signs in and keeps its session itself.
 */
export type BlobCredentials = { account: BlobSigner; chainId: number } | { token: string } | { session: BlobSession }

/**
 * The headers that authenticate one blob request: `Authorization: Bearer <token>` for a session (signing a
 * `BlobSession` in first when it holds none), else (a `BlobSession` that can't sign in too) the account's
 * address, the unix second and its signature of `blobRequestMessage` over the chain, the host of `url` (what the client
 * reached, as heartbeats sign it), `method`, `content` (the body's sha256 for an upload, the blob's for a read) and the
 * URL's path and query.
 */
export async function blobAuthHeaders(parameters: {
  credentials: BlobCredentials
  url: URL
  method: string
  content: Hex
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number
}): Promise<Record<string, string>> {
  const { credentials, url, method, content } = parameters
  if ('token' in credentials) return { authorization: `Bearer ${credentials.token}` }
  if ('session' in credentials) {
    const token = await credentials.session.token()
    if (token) return { authorization: `Bearer ${token}` }
  }
  const timestamp = Math.floor((parameters.now ?? Date.now)() / 1000)
  const { account, chainId } = 'session' in credentials ? credentials.session.parameters : credentials
  const message = blobRequestMessage({
    chainId,
    domain: heartbeatDomain(url),
    address: account.address,
    timestamp,
    method,
    content,
    path: url.pathname + url.search,
  })
  return {
    [blobRequestHeaders.address]: account.address,
    [blobRequestHeaders.timestamp]: String(timestamp),
    [blobRequestHeaders.signature]: await account.signMessage({ message }),
  }
}
