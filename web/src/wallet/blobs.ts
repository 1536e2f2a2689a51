import { blobAuthHeaders } from '../../../client/blobAuth.ts'
import type { Wallet } from './types.ts'

type Hex = `0x${string}`

/** sha256 of `bytes` as 0x-prefixed lower-case hex, the blob store's name for them. */
export async function sha256Hex(bytes: Uint8Array): Promise<Hex> {
  // SubtleCrypto exists only in secure contexts (https, localhost): a server reached over plain http elsewhere has none.
  const digest = globalThis.crypto?.subtle
    ? new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
    : (await import('viem')).sha256(bytes, 'bytes')
  return `0x${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/**
 * The headers that sign one blob request as `wallet` (client/blobAuth.ts's, with the page's wallet): the domain is the
 * host the page reached the server at, the path and query exactly as sent.
 */
export function signedBlobHeaders(
  wallet: Wallet,
  chainId: number,
  url: URL,
  method: string,
  content: Hex,
): Promise<Record<string, string>> {
  const account = { address: wallet.address, signMessage: ({ message }: { message: string }) => wallet.signMessage(message) }
  return blobAuthHeaders({ credentials: { account, chainId }, url, method, content })
}

/** The blob store's `{ error }` answer, or the status when it sent none. */
async function failure(response: Response, what: string): Promise<Error> {
  const body = (await response.json().catch(() => undefined)) as { error?: string } | undefined
  return new Error(`${what} was refused (${response.status}): ${body?.error ?? response.statusText}`)
}

/**
 * Uploads `bytes` (`PUT /blobs`) signed by `wallet`; `kind` has the server check them first (a model that loads, an
 * input that is a tensor blob), `public` lets anyone read them. Returns their sha256.
 */
export async function uploadBlob(parameters: {
  wallet: Wallet
  chainId: number
  bytes: Uint8Array
  kind: 'model' | 'input'
  public?: boolean
}): Promise<Hex> {
  const { wallet, chainId, bytes, kind } = parameters
  const sha256 = await sha256Hex(bytes)
  const url = new URL('/blobs', window.location.origin)
  url.searchParams.set('kind', kind)
  if (parameters.public) url.searchParams.set('public', 'true')
  const headers = await signedBlobHeaders(wallet, chainId, url, 'PUT', sha256)
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'x-content-sha256': sha256, ...headers },
    body: bytes as Uint8Array<ArrayBuffer>,
  })
  if (response.status !== 200 && response.status !== 201) throw await failure(response, `Uploading the ${kind}`)
  return sha256
}

/**
 * Downloads blob `hash` (`GET /blobs/<hash>`), signed by `wallet` so a blob that is not public is served to a party of
 * a job using it (a requester reads its job's output), and checks the bytes hash to it.
 */
export async function fetchBlob(parameters: { wallet: Wallet; chainId: number; hash: Hex }): Promise<Uint8Array> {
  const hash = parameters.hash.toLowerCase() as Hex
  const url = new URL(`/blobs/${hash}`, window.location.origin)
  const headers = await signedBlobHeaders(parameters.wallet, parameters.chainId, url, 'GET', hash)
  const response = await fetch(url, { headers })
  if (!response.ok) throw await failure(response, `Downloading blob ${hash}`)
  const bytes = new Uint8Array(await response.arrayBuffer())
  const actual = await sha256Hex(bytes)
  if (actual !== hash) throw new Error(`The server sent bytes hashing to ${actual} for blob ${hash}`)
  return bytes
}
