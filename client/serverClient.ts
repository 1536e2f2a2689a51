import type { Address, Hex } from 'viem'
import { type Deployment, parseDeployment } from '../protocol/deployment.ts'
import { TesseraError, type TesseraErrorParameters } from '../protocol/errors.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { heartbeatDomain, heartbeatMessage, heartbeatModels } from '../protocol/heartbeat.ts'
import { type BlobCredentials, blobAuthHeaders } from './blobAuth.ts'

/** A failed call to the Tessera server: `status` is the HTTP status when one came back. Retryable for network errors and 5xx. */
export class ServerRequestError extends TesseraError {
  override name = 'ServerRequestError'
  readonly status?: number
  /** The GraphQL errors of the answer, each with its `extensions.code` when it had one. */
  readonly graphqlErrors: readonly GraphQLAnswerError[]
  constructor(
    shortMessage: string,
    parameters: TesseraErrorParameters & { status?: number; graphqlErrors?: readonly GraphQLAnswerError[] } = {},
  ) {
    super(shortMessage, parameters)
    this.status = parameters.status
    this.graphqlErrors = parameters.graphqlErrors ?? []
  }
}

/** One error of a GraphQL answer: its message and, when the server gave one, its code (`extensions.code`). */
export type GraphQLAnswerError = { message: string; code?: string }

/** A blob whose bytes do not hash to the address it was fetched from or uploaded as. Not retryable from the same server. */
export class BlobHashMismatchError extends TesseraError {
  override name = 'BlobHashMismatchError'
  constructor(expected: Hex, actual: Hex) {
    super(`blob ${expected} hashes to ${actual}`, { details: `expected sha256 ${expected}, got ${actual}` })
  }
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

/** Reads the deployment the server publishes at `GET /deployment`, validated; a malformed one is a `DeploymentError`. */
export async function fetchDeployment(parameters: { serverUrl: string; signal?: AbortSignal }): Promise<Deployment> {
  const url = new URL('/deployment', parameters.serverUrl)
  const res = await request(url, { signal: parameters.signal })
  if (!res.ok) throw await failure(res, 'GET /deployment')
  return parseDeployment(await res.json(), url.href)
}

/**
 * A blob request the server refused, with its message (`{ error, code }`). Retryable for 5xx and 429, for a read
 * refused with 403 (the job that lets the reader in may not be indexed yet: an agent can hear of its assignment from
 * the chain first), and for a `BlobSession`'s token refused with 401, which the session then drops to sign in again.
 */
async function blobFailure(
  res: Response,
  what: string,
  method: 'GET' | 'PUT',
  credentials: BlobCredentials | undefined,
  sent: Record<string, string>,
): Promise<ServerRequestError> {
  const sessionRefused = res.status === 401 && credentials !== undefined && 'session' in credentials
  if (sessionRefused && sent.authorization) credentials.session.refused(sent.authorization.replace(/^Bearer /, ''))
  const text = await res.text().catch(() => '')
  let reason: string | undefined
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error
    if (typeof error === 'string') reason = error.slice(0, 300)
  } catch {}
  return new ServerRequestError(`${what} failed with HTTP ${res.status}${reason ? `: ${reason}` : ''}`, {
    status: res.status,
    retryable: res.status >= 500 || res.status === 429 || (method === 'GET' && res.status === 403) || sessionRefused,
    details: text.slice(0, 500),
  })
}

/**
 * Downloads a blob and checks that its sha256 is `hash`. `credentials` (`BlobCredentials`) are needed for any blob not
 * public: the server serves it to its uploaders and to the requester and assigned providers of a job that uses it.
 */
export async function getBlob(parameters: {
  serverUrl: string
  hash: Hex
  credentials?: BlobCredentials
  signal?: AbortSignal
}): Promise<Uint8Array> {
  const hash = parameters.hash.toLowerCase() as Hex
  const url = new URL(`/blobs/${hash}`, parameters.serverUrl)
  const headers = parameters.credentials
    ? await blobAuthHeaders({ credentials: parameters.credentials, url, method: 'GET', content: hash })
    : {}
  const res = await request(url, { headers, signal: parameters.signal })
  if (!res.ok) throw await blobFailure(res, `GET /blobs/${hash}`, 'GET', parameters.credentials, headers)
  const bytes = new Uint8Array(await res.arrayBuffer())
  const actual = sha256Hex(bytes)
  if (actual !== hash) throw new BlobHashMismatchError(hash, actual)
  return bytes
}

export type UploadBlobParameters = {
  serverUrl: string
  bytes: Uint8Array
  /** Who uploads: a funded account that signs the request, or a SIWE session's token. The bytes count against its quota. */
  credentials: BlobCredentials
  /** What the bytes are: the server then refuses a model that doesn't load or an input that isn't a tensor blob. */
  kind?: 'model' | 'input'
  /** Let anyone read the blob (a model you share); by default only you and the parties to a job that uses it may. */
  public?: boolean
  signal?: AbortSignal
}
export type UploadBlobReturnType = { sha256: Hex; size: number }

/**
 * Uploads bytes to the server's content-addressed blob store and returns their sha256 and size. The hash travels
 * as `x-content-sha256`, so the server refuses bytes that changed on the way, and the hash it answers is checked.
 */
export async function uploadBlob(parameters: UploadBlobParameters): Promise<UploadBlobReturnType> {
  const sha256 = sha256Hex(parameters.bytes)
  const url = new URL('/blobs', parameters.serverUrl)
  if (parameters.kind) url.searchParams.set('kind', parameters.kind)
  if (parameters.public) url.searchParams.set('public', 'true')
  const auth = await blobAuthHeaders({ credentials: parameters.credentials, url, method: 'PUT', content: sha256 })
  const res = await request(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'x-content-sha256': sha256, ...auth },
    body: parameters.bytes as Uint8Array<ArrayBuffer>,
    signal: parameters.signal,
  })
  if (res.status !== 201 && res.status !== 200) throw await blobFailure(res, 'PUT /blobs', 'PUT', parameters.credentials, auth)
  const body = (await res.json()) as { sha256?: string }
  if (body.sha256 && body.sha256.toLowerCase() !== sha256) throw new BlobHashMismatchError(sha256, body.sha256 as Hex)
  return { sha256, size: parameters.bytes.length }
}

/** Posts a GraphQL operation and returns `data`, throwing a {@link ServerRequestError} on HTTP or GraphQL errors. */
export async function graphqlRequest<T>(parameters: {
  serverUrl: string
  query: string
  variables?: Record<string, unknown>
  /** Extra headers, e.g. a session's `authorization`. */
  headers?: Record<string, string>
  signal?: AbortSignal
}): Promise<T> {
  const res = await request(new URL('/graphql', parameters.serverUrl), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...parameters.headers,
    },
    body: JSON.stringify({ query: parameters.query, variables: parameters.variables }),
    signal: parameters.signal,
  })
  const text = await res.text()
  const fail = (shortMessage: string, graphqlErrors?: GraphQLAnswerError[]) =>
    new ServerRequestError(shortMessage, { status: res.status, retryable: res.status >= 500, details: text.slice(0, 500), graphqlErrors })
  let body: { data?: T; errors?: { message: string; extensions?: { code?: unknown } }[] }
  try {
    body = JSON.parse(text)
  } catch {
    throw fail(`GraphQL answered HTTP ${res.status} with non-JSON`)
  }
  if (body.errors?.length)
    throw fail(
      `GraphQL error: ${body.errors.map((e) => e.message).join('; ')}`,
      body.errors.map((e) => ({ message: e.message, code: typeof e.extensions?.code === 'string' ? e.extensions.code : undefined })),
    )
  if (!res.ok || body.data === undefined) throw fail(`GraphQL failed with HTTP ${res.status}`)
  return body.data
}

const heartbeatMutation = /* GraphQL */ `
  mutation Heartbeat($provider: Address!, $timestamp: Int!, $signature: String!) {
    heartbeat(provider: $provider, timestamp: $timestamp, signature: $signature)
  }`

const heartbeatWithModelsMutation = /* GraphQL */ `
  mutation Heartbeat($provider: Address!, $timestamp: Int!, $signature: String!, $models: [String!]) {
    heartbeat(provider: $provider, timestamp: $timestamp, signature: $signature, models: $models)
  }`

/**
 * Sends one signed heartbeat (see `heartbeatMessage`) for `chainId` and the host of `serverUrl` (`heartbeatDomain`):
 * what the agent connects to, never a domain a server names. `sign` is the account's `signMessage`. The timestamp is
 * `now` in whole seconds, and the server refuses one not after the last it accepted: send at most one a second.
 * `models`: the hashes of the models the agent holds warm (at most `heartbeatMaxModels`), signed with it.
 */
export async function sendHeartbeat(parameters: {
  serverUrl: string
  /** The deployment's chain id (`fetchDeployment`). */
  chainId: number
  provider: Address
  sign: (message: string) => Promise<Hex>
  models?: readonly Hex[]
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number
  signal?: AbortSignal
}): Promise<boolean> {
  const { serverUrl, chainId, provider } = parameters
  const timestamp = Math.floor((parameters.now ?? Date.now)() / 1000)
  const models = heartbeatModels(parameters.models ?? [])
  const signature = await parameters.sign(heartbeatMessage({ chainId, domain: heartbeatDomain(serverUrl), provider, timestamp, models }))
  const data = await graphqlRequest<{ heartbeat: boolean }>({
    serverUrl,
    query: models.length ? heartbeatWithModelsMutation : heartbeatMutation,
    variables: { provider, timestamp, signature, ...(models.length ? { models } : {}) },
    signal: parameters.signal,
  })
  return data.heartbeat
}

/** One reason a job can't run, as the server's `checkJob` names it. */
export type JobProblem = { code: string; message: string }

const checkJobQuery = /* GraphQL */ `
  query CheckJob($spec: CheckJobInput!) {
    checkJob(spec: $spec) { runnable problems { code message } }
  }`

/**
 * Asks the server whether a job can run before any escrow moves: both blobs stored, the model loads, the input
 * matches the model and `units` equals the input's rows. Returns the problems found (empty when runnable).
 */
export async function checkJob(parameters: {
  serverUrl: string
  spec: { modelHash: Hex; inputHash: Hex; units: bigint }
  signal?: AbortSignal
}): Promise<JobProblem[]> {
  const { modelHash, inputHash, units } = parameters.spec
  const data = await graphqlRequest<{ checkJob: { runnable: boolean; problems: JobProblem[] } }>({
    serverUrl: parameters.serverUrl,
    query: checkJobQuery,
    variables: { spec: { modelHash, inputHash, units: units.toString() } },
    signal: parameters.signal,
  })
  return data.checkJob.problems
}
