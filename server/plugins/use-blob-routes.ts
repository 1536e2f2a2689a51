import { Readable } from 'node:stream'
import type { Plugin } from 'graphql-yoga'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { type Address, getAddress, type Hex, type PublicClient } from 'viem'
import { blobRequestHeaders } from '../../protocol/blobRequest.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { heartbeatDomain } from '../../protocol/heartbeat.ts'
import { type FundingCheck, FundingUnknownError } from '../auth/accountFunding.ts'
import { AuthenticationError, authenticateRequest, type Identity, sessionUnknown } from '../auth/authenticateRequest.ts'
import { bearerTokenOf, sessionTokenHash } from '../auth/siwe.ts'
import {
  BlobHashMismatchError,
  type BlobStore,
  BlobTooLargeError,
  defaultBlobQuotaBytes,
  parseSha256,
  type StoredBytes,
} from '../blobs/blobStore.ts'
import { settleUploaderReferences } from '../blobs/sweepBlobs.ts'
import { type BlobKind, BlobRejectedError, blobKinds, blobValidator, type ModelInspector } from '../checkJob.ts'
import { findBlobForSession, hasUploaded, isBlobJobParty, isBlobPublic, mayReadBlob, unreferencedUploadBytes } from '../db/blobs.ts'
import type { Database, Views } from '../db/database.ts'
import type { ServerMetrics } from '../metrics.ts'
import { createTokenBuckets } from '../tokenBuckets.ts'

/** An account's upload rate when not configured: 8 MiB a second, 256 MiB (four of the largest blobs) at once. */
export const defaultUploadRate = { bytesPerSecond: 8 * 1024 * 1024, burstBytes: 256 * 1024 * 1024 }

const json = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } })

const howToAuthenticate =
  `a SIWE session (Authorization: Bearer <token> from the signIn mutation) or a signed request ` +
  `(${Object.values(blobRequestHeaders).join(', ')}; see protocol/blobRequest.ts)`

export type BlobRoutesOptions = {
  store: BlobStore
  db: Kysely<Database>
  views: Views
  deployment: Deployment
  /** Verifies contract accounts' signatures; without it only EOAs' verify. */
  publicClient?: PublicClient
  /** The domain signed requests name (`createYoga`'s `domain`); default the host each request was addressed to. */
  domain?: string
  /** Unix seconds, server time. */
  now: () => number
  /** Bytes an account may hold in blobs no job references yet (default {@link defaultBlobQuotaBytes}). */
  quotaBytes?: number
  /**
   * Bytes an account may upload a second, and at once (default {@link defaultUploadRate}): past them, 429 with
   * `Retry-After` until it has earned them back.
   */
  uploadRate?: { bytesPerSecond: number; burstBytes: number }
  /** Who may upload (`createFundingCheck`). */
  isFunded: FundingCheck
  metrics?: ServerMetrics
  inspector?: ModelInspector
  log?: Logger
}

/**
 * The blob store over HTTP. Every answer but the bytes is JSON `{ error, code, … }` with a short message: no stack or
 * server path ever goes out, whatever fails.
 *
 * `PUT /blobs` (raw body → `201 {sha256, size}`, 200 when already stored): needs an identity ({@link howToAuthenticate})
 * of a funded account (`isFunded`), else 401 / 403. 413 over the size limit (`BLOB_TOO_LARGE`) or past the account's
 * quota of unreferenced bytes (`QUOTA_EXCEEDED`); 400 on a hash mismatch or a malformed header. `?kind=model|input`
 * checks the upload first and refuses it with 422 `{ error, code }` naming the problem; `?public=true` lets anyone read
 * it (a model, say). A signed upload must declare `x-content-sha256`.
 *
 * `GET|HEAD /blobs/<0x-sha256>`: 400 on a malformed hash, 404 when unknown. A public blob is served to anyone; any other
 * only to an identity that uploaded it or is a party to an indexed job that uses it (`mayReadBlob`): 401 without one,
 * 403 for anyone else.
 */
export function useBlobRoutes(options: BlobRoutesOptions): Plugin {
  const { store, metrics, log } = options
  const quotaBytes = options.quotaBytes ?? defaultBlobQuotaBytes
  const uploadRate = options.uploadRate ?? defaultUploadRate
  const uploaded = createTokenBuckets({
    perSecond: uploadRate.bytesPerSecond,
    burst: uploadRate.burstBytes,
    now: () => options.now() * 1000,
  })
  const authenticate = (request: Request, url: URL, content: Hex | undefined) =>
    authenticateRequest({
      request,
      url,
      content,
      db: options.db,
      chainId: options.deployment.chainId,
      domain: options.domain ?? heartbeatDomain(request.url),
      publicClient: options.publicClient,
      now: options.now(),
    })

  /**
   * Who uploads, and, when it says so in the same statement, whether it uploaded the declared bytes before: an upload
   * under a session that declares its hash (as an agent's output does) reads the session's account and its earlier
   * upload at once (`findBlobForSession`, as a read under a session does); any other is authenticated as a read is, and
   * `uploadedBefore` is left out.
   */
  async function uploader(
    request: Request,
    url: URL,
    sha256: Hex | undefined,
  ): Promise<{ identity: Identity | undefined; uploadedBefore?: boolean }> {
    const token = bearerTokenOf(request.headers.get('authorization'))
    if (token === undefined || sha256 === undefined) return { identity: await authenticate(request, url, sha256) }
    const { session } = await findBlobForSession(options.db, {
      sha256,
      tokenHash: sessionTokenHash(token),
      now: new Date(options.now() * 1000),
    })
    if (!session) throw new AuthenticationError(401, sessionUnknown)
    return { identity: { address: getAddress(session.address), via: 'session' }, uploadedBefore: session.uploaded }
  }

  async function upload(request: Request, url: URL): Promise<Response> {
    if (request.method !== 'PUT' && request.method !== 'POST')
      return json(405, { error: 'use PUT /blobs with the raw bytes as the body', code: 'METHOD_NOT_ALLOWED' })
    const declaredLength = Number(request.headers.get('content-length') ?? Number.NaN)
    if (declaredLength > store.maxBytes) {
      metrics?.blobsRejected.inc({ reason: 'too_large' })
      return tooLarge(declaredLength)
    }
    const declared = request.headers.get('x-content-sha256') ?? undefined
    const sha256 = declared === undefined ? undefined : parseSha256(declared)
    if (declared !== undefined && !sha256) {
      metrics?.blobsRejected.inc({ reason: 'bad_hash' })
      return json(400, { error: 'x-content-sha256 must be 0x followed by 64 hex digits', code: 'BAD_REQUEST' })
    }
    const kind = url.searchParams.get('kind')
    if (kind !== null && !blobKinds.includes(kind as BlobKind))
      return json(400, { error: `kind must be one of ${blobKinds.join(', ')}, got "${kind.slice(0, 40)}"`, code: 'BAD_REQUEST' })
    const publicFlag = url.searchParams.get('public')
    if (publicFlag !== null && !['true', 'false', '1', '0'].includes(publicFlag))
      return json(400, { error: `public must be true or false, got "${publicFlag.slice(0, 40)}"`, code: 'BAD_REQUEST' })
    const { identity, uploadedBefore } = await uploader(request, url, sha256)
    if (!identity) {
      metrics?.blobsRejected.inc({ reason: 'unauthenticated' })
      return json(401, { error: `uploads need an identity: ${howToAuthenticate}`, code: 'UNAUTHENTICATED' })
    }
    if (!(await options.isFunded(identity.address))) {
      metrics?.blobsRejected.inc({ reason: 'unfunded' })
      return json(403, {
        error: `${identity.address} holds no TSR, stake or gateway balance: uploads need a funded account`,
        code: 'NOT_FUNDED',
      })
    }
    // Bytes before they are read, as declared; an upload that declares none pays for what it was once stored.
    const declaredBytes = Number.isFinite(declaredLength) && declaredLength > 0 ? declaredLength : undefined
    const retryAfter = uploaded.take(identity.address, declaredBytes ?? 1)
    if (retryAfter !== undefined) {
      metrics?.blobsRejected.inc({ reason: 'rate_limited' })
      return json(
        429,
        {
          error:
            `${identity.address} uploads more than ${uploadRate.bytesPerSecond} bytes a second ` +
            `(${uploadRate.burstBytes} at once); retry in ${retryAfter} s`,
          code: 'RATE_LIMITED',
          retryAfterSeconds: retryAfter,
        },
        { 'retry-after': String(retryAfter) },
      )
    }
    const room = await quotaRoom(identity.address, sha256, declaredLength, uploadedBefore)
    if (room.refusal) return room.refusal
    const validate = kind === null ? undefined : blobValidator(kind as BlobKind, options.inspector)
    try {
      const body = request.body as unknown as AsyncIterable<Uint8Array> | null
      const r = await store.put(body, {
        expectedSha256: sha256,
        validate,
        kind: kind === null ? undefined : (kind as BlobKind),
        maxBytes: room.bytes,
        uploader: { address: identity.address, public: publicFlag === 'true' || publicFlag === '1' },
        at: new Date(options.now() * 1000),
      })
      if (declaredBytes === undefined) uploaded.debit(identity.address, r.size - 1)
      if (r.created) metrics?.blobsStored.inc(r.size)
      return json(r.created ? 201 : 200, { sha256: r.sha256, size: r.size })
    } catch (error) {
      if (error instanceof BlobTooLargeError) {
        if (error.limit < store.maxBytes) {
          metrics?.blobsRejected.inc({ reason: 'quota' })
          return overQuota(identity.address, await unreferencedUploadBytes(options.db, identity.address))
        }
        metrics?.blobsRejected.inc({ reason: 'too_large' })
        return tooLarge()
      }
      if (error instanceof BlobRejectedError) {
        metrics?.blobsRejected.inc({ reason: 'invalid' })
        return json(422, { error: error.message, code: error.problem.code })
      }
      if (error instanceof BlobHashMismatchError) {
        metrics?.blobsRejected.inc({ reason: 'hash_mismatch' })
        return json(400, { error: error.message, code: 'HASH_MISMATCH', expected: error.expected, actual: error.actual })
      }
      throw error
    }
  }

  const tooLarge = (declared?: number) =>
    json(413, {
      error: `${declared === undefined ? 'the blob' : `a blob of ${declared} bytes`} exceeds the limit of ${store.maxBytes} bytes a blob`,
      code: 'BLOB_TOO_LARGE',
      limit: store.maxBytes,
    })

  const overQuota = (account: Address, held: bigint) =>
    json(413, {
      error:
        `this upload would take ${account} past its quota of ${quotaBytes} bytes: it holds ${held} bytes in blobs no job ` +
        'references yet (they free up once a job uses them, or when they expire unused)',
      code: 'QUOTA_EXCEEDED',
      quota: quotaBytes,
      held: Number(held),
    })

  /**
   * How many bytes `account` may upload now (at most the size limit), or the refusal when it has no room for
   * `declaredLength`. Bytes it uploaded itself before cost nothing again. Near the quota, its blobs a job now references
   * are settled first (`settleUploaderReferences`), so the quota counts what no job uses.
   */
  async function quotaRoom(
    account: Address,
    sha256: Hex | undefined,
    declaredLength: number,
    uploadedBefore: boolean | undefined,
  ): Promise<{ bytes: number; refusal?: Response }> {
    if (sha256 && (uploadedBefore ?? (await hasUploaded(options.db, sha256, account)))) return { bytes: store.maxBytes }
    let held = await unreferencedUploadBytes(options.db, account)
    if (BigInt(quotaBytes) - held < BigInt(store.maxBytes)) {
      await settleUploaderReferences({
        db: options.db,
        views: options.views,
        uploader: account,
        now: new Date(options.now() * 1000),
      }).catch((error: unknown) => log?.warn({ err: error, account }, 'blob quota: could not settle references'))
      held = await unreferencedUploadBytes(options.db, account)
    }
    const room = BigInt(quotaBytes) - held
    if (room <= 0n || (Number.isFinite(declaredLength) && BigInt(declaredLength) > room)) {
      metrics?.blobsRejected.inc({ reason: 'quota' })
      return { bytes: 0, refusal: overQuota(account, held) }
    }
    return { bytes: Number(room < BigInt(store.maxBytes) ? room : BigInt(store.maxBytes)) }
  }

  async function read(request: Request, url: URL): Promise<Response> {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return json(405, { error: 'use GET /blobs/<0x-sha256>', code: 'METHOD_NOT_ALLOWED' })
    const sha256 = parseSha256(url.pathname.slice('/blobs/'.length))
    if (!sha256) return json(400, { error: 'malformed blob hash: expected /blobs/0x followed by 64 hex digits', code: 'BAD_REQUEST' })
    const token = bearerTokenOf(request.headers.get('authorization'))
    if (token !== undefined) return readInSession(request, sha256, token)
    const [blob, open] = await Promise.all([store.get(sha256), isBlobPublic(options.db, sha256)])
    if (!blob) return notFound(sha256)
    if (!open) {
      const identity: Identity | undefined = await authenticate(request, url, sha256)
      if (!identity)
        return json(401, { error: `blob ${sha256} is not public: authenticate with ${howToAuthenticate}`, code: 'UNAUTHENTICATED' })
      if (!(await mayReadBlob(options.views, { sha256, reader: identity.address }))) return forbidden(sha256, identity.address)
    }
    return serve(request, sha256, blob, open)
  }

  /**
   * `read` for a request under a session (`Authorization: Bearer <token>`), as an agent fetches its jobs' inputs: the
   * blob, its public flag, the session's account, whether it uploaded the blob and, where that decides, whether it is a
   * party to a job of it, all come in one statement (`findBlobForSession`); a small blob's bytes then usually come from
   * the store's memory. So an agent's input costs the server one statement and no file system call.
   */
  async function readInSession(request: Request, sha256: `0x${string}`, token: string): Promise<Response> {
    const found = await findBlobForSession(options.views, {
      sha256,
      tokenHash: sessionTokenHash(token),
      now: new Date(options.now() * 1000),
      jobParty: true,
    })
    const blob = found.blob && (await store.bytes(sha256))
    if (!blob) return notFound(sha256)
    if (!found.public) {
      if (!found.session) throw new AuthenticationError(401, sessionUnknown)
      const reader = getAddress(found.session.address)
      const party = () => found.jobParty ?? isBlobJobParty(options.views, { sha256, reader })
      if (!found.session.uploaded && !(await party())) return forbidden(sha256, reader)
    }
    return serve(request, sha256, blob, found.public)
  }

  const notFound = (sha256: string) => json(404, { error: `no blob ${sha256}`, code: 'NOT_FOUND' })

  const forbidden = (sha256: string, reader: Address) =>
    json(403, {
      error:
        `${reader} may not read blob ${sha256}: only its uploaders, and the requester and assigned providers ` +
        'of an indexed job that uses it, may',
      code: 'FORBIDDEN',
    })

  /** The blob's bytes (only its headers for HEAD), cacheable by anyone when public, else by the reader alone. */
  function serve(request: Request, sha256: string, blob: StoredBytes, open: boolean): Response {
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(blob.size),
      'cache-control': open ? 'public, max-age=31536000, immutable' : 'private, max-age=31536000, immutable',
      etag: `"${sha256}"`,
    }
    if (request.method === 'HEAD') return new Response(null, { status: 200, headers })
    if (blob.data) return new Response(blob.data, { status: 200, headers })
    const stream = Readable.toWeb(blob.stream() as Readable) as unknown as ReadableStream
    return new Response(stream, { status: 200, headers })
  }

  return {
    async onRequest({ request, url, endResponse }) {
      const isUpload = url.pathname === '/blobs' || url.pathname === '/blobs/'
      if (!isUpload && !url.pathname.startsWith('/blobs/')) return
      try {
        return endResponse(await (isUpload ? upload(request, url) : read(request, url)))
      } catch (error) {
        if (error instanceof AuthenticationError) return endResponse(json(error.status, { error: error.message, code: 'UNAUTHENTICATED' }))
        if (error instanceof FundingUnknownError)
          return endResponse(json(503, { error: `${error.message}: try again shortly`, code: 'UNAVAILABLE' }))
        if (clientWentAway(request, error)) {
          // An agent stopping mid-upload, a dropped connection: nobody waits for an answer, and nothing went wrong here.
          log?.debug({ method: request.method, path: url.pathname.slice(0, 200) }, 'blob request ended by the client')
          return endResponse(new Response(null, { status: 499 }))
        }
        log?.error({ err: error, method: request.method, path: url.pathname.slice(0, 200) }, 'blob route failed')
        return endResponse(json(500, { error: 'internal error', code: 'INTERNAL' }))
      }
    },
  }
}

/**
 * Whether `error` is the client closing the connection before its request was read or answered: the request's signal
 * aborted (Yoga's server adapter aborts it when the response closes), or the body's read failed with the reset that
 * Node reports first.
 */
function clientWentAway(request: Request, error: unknown): boolean {
  return request.signal.aborted || (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ECONNRESET')
}
