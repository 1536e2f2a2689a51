import type { Address, Hex } from 'viem'
import { sha256Hex } from '../protocol/fingerprint.ts'

/** A failed call to the Tessera server. `retryable` for network errors and 5xx. */
export class ServerRequestError extends Error {
  override name = 'ServerRequestError' as const
  readonly details: string
  readonly retryable: boolean
  readonly status?: number
  constructor(message: string, options: { details?: string; retryable: boolean; status?: number; cause?: unknown }) {
    super(message, { cause: options.cause })
    this.details = options.details ?? message
    this.retryable = options.retryable
    this.status = options.status
  }
}

/** A blob whose bytes do not hash to the address it was fetched from. Not retryable from the same server. */
export class BlobHashMismatchError extends Error {
  override name = 'BlobHashMismatchError' as const
  readonly retryable = false
  readonly details: string
  constructor(expected: Hex, actual: Hex) {
    super(`blob ${expected} hashes to ${actual}`)
    this.details = `expected sha256 ${expected}, got ${actual}`
  }
}

/** The deployment JSON the server publishes at `GET /deployment` (the part the agent reads). */
export type AgentDeployment = {
  chainId: number
  contracts: Record<'TesseraToken' | 'ProviderRegistry' | 'JobMarket' | 'EmissionController', { address: Address; blockNumber: number }>
  params: { minStake?: string; epochLength?: number; commitWindow?: number; revealWindow?: number; [name: string]: unknown }
}

async function request(url: URL, init: RequestInit & { signal?: AbortSignal }): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (cause) {
    if (init.signal?.aborted) throw cause
    throw new ServerRequestError(`cannot reach ${url.origin}`, {
      retryable: true,
      cause,
      details: String((cause as Error)?.message ?? cause),
    })
  }
}

async function failure(res: Response, what: string): Promise<ServerRequestError> {
  const body = await res.text().catch(() => '')
  return new ServerRequestError(`${what} failed with HTTP ${res.status}`, {
    status: res.status,
    retryable: res.status >= 500 || res.status === 429,
    details: body.slice(0, 500),
  })
}

/** Reads the deployment (addresses, chain id, params) from the server. */
export async function fetchDeployment(parameters: { serverUrl: string; signal?: AbortSignal }): Promise<AgentDeployment> {
  const res = await request(new URL('/deployment', parameters.serverUrl), { signal: parameters.signal })
  if (!res.ok) throw await failure(res, 'GET /deployment')
  const deployment = (await res.json()) as AgentDeployment
  if (
    !deployment?.contracts?.JobMarket?.address ||
    !deployment?.contracts?.ProviderRegistry?.address ||
    typeof deployment.chainId !== 'number'
  )
    throw new ServerRequestError('GET /deployment returned no contract addresses', {
      retryable: false,
      details: JSON.stringify(deployment).slice(0, 500),
    })
  return deployment
}

/** Downloads a blob and checks that its sha256 is `hash`. */
export async function getBlob(parameters: { serverUrl: string; hash: Hex; signal?: AbortSignal }): Promise<Uint8Array> {
  const hash = parameters.hash.toLowerCase() as Hex
  const res = await request(new URL(`/blobs/${hash}`, parameters.serverUrl), { signal: parameters.signal })
  if (!res.ok) throw await failure(res, `GET /blobs/${hash}`)
  const bytes = new Uint8Array(await res.arrayBuffer())
  const actual = sha256Hex(bytes)
  if (actual !== hash) throw new BlobHashMismatchError(hash, actual)
  return bytes
}

/** Uploads a blob (with `x-content-sha256`, so the server checks it) and returns its sha256. */
export async function putBlob(parameters: { serverUrl: string; bytes: Uint8Array; signal?: AbortSignal }): Promise<Hex> {
  const hash = sha256Hex(parameters.bytes)
  const res = await request(new URL('/blobs', parameters.serverUrl), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'x-content-sha256': hash },
    body: parameters.bytes as Uint8Array<ArrayBuffer>,
    signal: parameters.signal,
  })
  if (res.status !== 201 && res.status !== 200) throw await failure(res, 'PUT /blobs')
  const body = (await res.json()) as { sha256?: string }
  if (body.sha256 && body.sha256.toLowerCase() !== hash) throw new BlobHashMismatchError(hash, body.sha256 as Hex)
  return hash
}

/** Posts a GraphQL operation and returns `data`, throwing on HTTP or GraphQL errors. */
export async function graphqlRequest<T>(parameters: {
  serverUrl: string
  query: string
  variables?: Record<string, unknown>
  signal?: AbortSignal
}): Promise<T> {
  const res = await request(new URL('/graphql', parameters.serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: parameters.query, variables: parameters.variables }),
    signal: parameters.signal,
  })
  const text = await res.text()
  let body: { data?: T; errors?: { message: string }[] }
  try {
    body = JSON.parse(text)
  } catch {
    throw new ServerRequestError(`GraphQL answered HTTP ${res.status} with non-JSON`, {
      status: res.status,
      retryable: res.status >= 500,
      details: text.slice(0, 500),
    })
  }
  if (body.errors?.length)
    throw new ServerRequestError(`GraphQL error: ${body.errors.map((e) => e.message).join('; ')}`, {
      status: res.status,
      retryable: res.status >= 500,
      details: text.slice(0, 500),
    })
  if (!res.ok || body.data === undefined)
    throw new ServerRequestError(`GraphQL failed with HTTP ${res.status}`, {
      status: res.status,
      retryable: res.status >= 500,
      details: text.slice(0, 500),
    })
  return body.data
}

/** The message a heartbeat signs (EIP-191 personal_sign). */
export function heartbeatMessage(provider: Address, timestamp: number): string {
  return `tessera-heartbeat:${provider.toLowerCase()}:${timestamp}`
}

/** Sends one signed heartbeat; `sign` is the account's `signMessage`. */
export async function sendHeartbeat(parameters: {
  serverUrl: string
  provider: Address
  sign: (message: string) => Promise<Hex>
  now?: () => number
  signal?: AbortSignal
}): Promise<boolean> {
  const timestamp = Math.floor((parameters.now ?? Date.now)() / 1000)
  const signature = await parameters.sign(heartbeatMessage(parameters.provider, timestamp))
  const data = await graphqlRequest<{ heartbeat: boolean }>({
    serverUrl: parameters.serverUrl,
    query:
      'mutation Heartbeat($provider: Address!, $timestamp: Int!, $signature: String!) { heartbeat(provider: $provider, timestamp: $timestamp, signature: $signature) }',
    variables: { provider: parameters.provider, timestamp, signature },
    signal: parameters.signal,
  })
  return data.heartbeat
}
