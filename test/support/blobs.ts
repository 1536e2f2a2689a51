import type { Hex } from 'viem'
import { type BlobCredentials, blobAuthHeaders } from '../../client/blobAuth.ts'
import { sha256Hex } from '../../protocol/fingerprint.ts'

/** Something that answers requests as `fetch` does: `yoga.fetch` or `fetch` itself. */
export type BlobFetch = (url: URL, init: RequestInit) => Promise<Response> | Response

/**
 * `PUT /blobs<query>` of `bytes` through `fetchFn`, authenticated by `credentials` (a signing account for the chain, or a
 * session token), declaring the bytes' sha256 unless `headers` says otherwise. The raw response, for tests that read
 * refusals.
 */
export async function putBlobWith(parameters: {
  fetch: BlobFetch
  credentials: BlobCredentials
  bytes: Uint8Array
  serverUrl?: string
  query?: string
  headers?: Record<string, string>
  /** The hash the request signs (default the bytes'). */
  content?: Hex
  /** The signer's clock, ms since the epoch (default `Date.now`): a server with a pinned clock needs the same. */
  now?: () => number
}): Promise<Response> {
  const url = new URL(`/blobs${parameters.query ?? ''}`, parameters.serverUrl ?? 'http://localhost')
  const content = parameters.content ?? sha256Hex(parameters.bytes)
  const auth = await blobAuthHeaders({ credentials: parameters.credentials, url, method: 'PUT', content, now: parameters.now })
  return await parameters.fetch(url, {
    method: 'PUT',
    body: parameters.bytes as Uint8Array<ArrayBuffer>,
    headers: { 'x-content-sha256': content, ...auth, ...parameters.headers },
  })
}

/** `GET` (or `HEAD`) `/blobs/<hash>` through `fetchFn`, authenticated by `credentials` when given. */
export async function getBlobWith(parameters: {
  fetch: BlobFetch
  hash: Hex
  credentials?: BlobCredentials
  serverUrl?: string
  method?: 'GET' | 'HEAD'
  /** The signer's clock, ms since the epoch (default `Date.now`). */
  now?: () => number
}): Promise<Response> {
  const url = new URL(`/blobs/${parameters.hash}`, parameters.serverUrl ?? 'http://localhost')
  const method = parameters.method ?? 'GET'
  const { credentials, hash } = parameters
  const headers = credentials ? await blobAuthHeaders({ credentials, url, method, content: hash, now: parameters.now }) : {}
  return await parameters.fetch(url, { method, headers })
}
