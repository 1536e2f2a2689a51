import type { Address, Hex } from 'viem'

/**
 * The headers of a blob request signed by its account (the alternative to a SIWE session's `Authorization: Bearer`):
 * the account, the unix second it signed at and its EIP-191 signature of {@link blobRequestMessage}.
 */
export const blobRequestHeaders = {
  address: 'x-tessera-address',
  timestamp: 'x-tessera-timestamp',
  signature: 'x-tessera-signature',
} as const

/** How far a signed blob request's timestamp may be from server time, either way, in seconds. */
export const blobRequestMaxSkewSeconds = 60

/** What a blob request signs: one method on one path, about one content hash, for one server of one chain. */
export type BlobRequestMessageParameters = {
  /** The deployment's chain id. */
  chainId: number
  /** The server's host as the client reached it (`heartbeatDomain` of its URL), e.g. `127.0.0.1:4000`. */
  domain: string
  address: Address
  /** Unix seconds, the signer's clock. */
  timestamp: number | bigint
  /** `PUT`, `GET` or `HEAD` (any case). */
  method: string
  /** The sha256 the request is about: the body's (`x-content-sha256`) for an upload, the blob's for a read. */
  content: Hex
  /** The URL's path and query exactly as sent, e.g. `/blobs?kind=model&public=true`. */
  path: string
}

/**
 * The EIP-191 message an account signs for one blob request:
 * `tessera-blob:<chainId>:<domain>:<address lower-case>:<timestamp>:<METHOD>:<content lower-case>:<path>`. The chain id
 * and domain stop a signature being replayed to another chain's or another server's store; the method, content and
 * path to another request. The path comes last because it may hold a `:`; the domain's `:port` is digits and the
 * field after it starts `0x`, so the fields split unambiguously.
 */
export function blobRequestMessage(parameters: BlobRequestMessageParameters): string {
  const { chainId, domain, address, timestamp, method, content, path } = parameters
  return `tessera-blob:${chainId}:${domain}:${address.toLowerCase()}:${timestamp}:${method.toUpperCase()}:${content.toLowerCase()}:${path}`
}
