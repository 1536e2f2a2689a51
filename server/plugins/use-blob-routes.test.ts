import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import pino from 'pino'
import type { Address, Hex } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type BlobCredentials, blobAuthHeaders } from '../../client/blobAuth.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { blobRequestHeaders, blobRequestMessage } from '../../protocol/blobRequest.ts'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { sleep } from '../../protocol/retry.ts'
import { type BlobFetch, getBlobWith, putBlobWith } from '../../test/support/blobs.ts'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { fixtureDeployment } from '../../test/support/deployment.ts'
import { waitFor as pollFor } from '../../test/support/graphql.ts'
import { sessionTokenHash } from '../auth/siwe.ts'
import { createYoga } from '../createYoga.ts'
import { findBlobForSession } from '../db/blobs.ts'
import { createDb } from '../db/createDb.ts'
import type { Database } from '../db/database.ts'
import { migrateToLatest } from '../db/migrateToLatest.ts'
import { insertSession } from '../db/sessions.ts'

// The blob store as the open internet meets it, through yoga.fetch: who may upload (an identity, a funded account,
// a quota, a size limit), who may read (public models, private inputs and outputs for a job's parties), and what a
// malformed request gets back (a short JSON answer, never a stack or a server path).

const deployment = fixtureDeployment
const viewsSchema = 'blob_views'
const maxBlobBytes = 1024
const quotaBytes = 3000
const now = 1_800_000_000

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']
const yogaFetch: BlobFetch = (url, init) => yoga.fetch(url, init)

/** Staked (funded): the requester, two providers, a gateway user; not: a stranger. */
const requester = privateKeyToAccount(devKeys[5])
const provider = privateKeyToAccount(devKeys[2])
const otherProvider = privateKeyToAccount(devKeys[3])
const gatewayUser = privateKeyToAccount(devKeys[6])
const stranger = privateKeyToAccount(devKeys[7])
/** `account` signing for the fixture's chain. */
const as = (account: PrivateKeyAccount): BlobCredentials => ({ account, chainId: deployment.chainId })
/** The signers' clock: the server's, pinned. */
const clock = () => now * 1000

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  // The views' tables and columns these routes read, as Ponder writes them.
  await sql`create schema ${sql.id(viewsSchema)}`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'provider')} (address text primary key, stake numeric not null)`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'job')} (id numeric primary key, requester text not null, model_hash text not null,
    input_hash text not null)`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'assignment')} (id text primary key, job_id numeric not null, provider text not null,
    output_hash text)`.execute(db)
  for (const a of [requester, provider, otherProvider, gatewayUser])
    await sql`insert into ${sql.id(viewsSchema, 'provider')} values (${a.address.toLowerCase()}, 1)`.execute(db)
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-blob-routes-'))
  yoga = createYoga({ db, viewsSchema, deployment, dataDir, maxBlobBytes, blobQuotaBytes: quotaBytes, now: () => now }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

const bytesOf = (text: string) => new TextEncoder().encode(text)
const put = (credentials: BlobCredentials, bytes: Uint8Array, query = '', headers?: Record<string, string>) =>
  putBlobWith({ fetch: yogaFetch, credentials, bytes, query, headers, now: clock })
const get = (hash: Hex, credentials?: BlobCredentials, method: 'GET' | 'HEAD' = 'GET') =>
  getBlobWith({ fetch: yogaFetch, hash, credentials, method, now: clock })
const errorOf = async (res: Response) => (await res.json()) as { error: string; code: string }
const tmpFiles = () => readdir(path.join(dataDir, 'blobs', 'tmp'))
const views = (table: 'job' | 'assignment') => sql.id(viewsSchema, table)
/** Clears what one test stored, so each starts with every account's quota empty. */
const clearBlobs = () => db.deleteFrom('app.blob').execute()

describe('uploads need a funded identity', () => {
  test('an anonymous upload is refused with 401 saying how to authenticate, and nothing is stored', async () => {
    const bytes = bytesOf('anonymous')
    const res = await yoga.fetch('http://localhost/blobs', { method: 'PUT', body: bytes })
    expect(res.status).toBe(401)
    expect(await errorOf(res)).toEqual({
      code: 'UNAUTHENTICATED',
      error: expect.stringMatching(
        /uploads need an identity: a SIWE session .*x-tessera-address, x-tessera-timestamp, x-tessera-signature/,
      ),
    })
    expect((await get(sha256Hex(bytes), as(requester))).status).toBe(404)
  })

  test('a signed upload by a staked account is stored under its uploader; the same bytes again are a 200', async () => {
    const bytes = bytesOf('first input')
    const res = await put(as(requester), bytes)
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ sha256: sha256Hex(bytes), size: bytes.length })
    expect((await put(as(requester), bytes)).status).toBe(200)
    const upload = await db.selectFrom('app.blobUpload').selectAll().where('sha256', '=', sha256Hex(bytes)).executeTakeFirstOrThrow()
    expect(upload).toMatchObject({ uploader: requester.address.toLowerCase(), public: false, size: String(bytes.length) })
    expect(upload.uploadedAt.getTime()).toBe(now * 1000)
  })

  test('an account with no stake, wallet TSR or gateway balance is refused with 403 naming it', async () => {
    const res = await put(as(stranger), bytesOf('spam'))
    expect(res.status).toBe(403)
    expect(await errorOf(res)).toEqual({
      code: 'NOT_FUNDED',
      error: `${stranger.address} holds no TSR, stake or gateway balance: uploads need a funded account`,
    })
  })

  test('a signature that does not hold is refused, naming what is wrong', async () => {
    const bytes = bytesOf('forged')
    const hash = sha256Hex(bytes)
    const signed = async (parameters: { by?: PrivateKeyAccount; path?: string; chainId?: number; domain?: string; timestamp?: number }) => {
      const by = parameters.by ?? requester
      const timestamp = parameters.timestamp ?? now
      const message = blobRequestMessage({
        chainId: parameters.chainId ?? deployment.chainId,
        domain: parameters.domain ?? 'localhost',
        address: requester.address,
        timestamp,
        method: 'PUT',
        content: hash,
        path: parameters.path ?? '/blobs',
      })
      return yoga.fetch('http://localhost/blobs', {
        method: 'PUT',
        body: bytes,
        headers: {
          'x-content-sha256': hash,
          [blobRequestHeaders.address]: requester.address,
          [blobRequestHeaders.timestamp]: String(timestamp),
          [blobRequestHeaders.signature]: await by.signMessage({ message }),
        },
      })
    }
    // As the client signs it: accepted (the other attempts differ in one thing each).
    expect((await signed({})).status).toBe(201)
    await clearBlobs()
    const refusals = [
      [await signed({ by: stranger }), /was not made by 0x9965.* over this request \(chain 31337, domain localhost\)/],
      [await signed({ path: '/blobs?public=true' }), /was not made by/],
      [await signed({ chainId: 1 }), /was not made by/],
      [await signed({ domain: 'evil.example' }), /was not made by/],
      [await signed({ timestamp: now - 61 }), /x-tessera-timestamp 1799999939 is more than 60 s from server time 1800000000/],
    ] as const
    for (const [res, message] of refusals) {
      expect(res.status).toBe(401)
      expect((await errorOf(res)).error).toMatch(message)
    }
    expect(await db.selectFrom('app.blob').selectAll().execute()).toEqual([])
  })

  test('malformed credentials get a 400 naming them', async () => {
    const bytes = bytesOf('malformed')
    const partial = await yoga.fetch('http://localhost/blobs', {
      method: 'PUT',
      body: bytes,
      headers: { [blobRequestHeaders.address]: requester.address },
    })
    expect(partial.status).toBe(400)
    expect((await errorOf(partial)).error).toMatch(/needs all of x-tessera-address, x-tessera-timestamp, x-tessera-signature; it has 1/)
    const bearer = await yoga.fetch('http://localhost/blobs', { method: 'PUT', body: bytes, headers: { authorization: 'Basic abc' } })
    expect(bearer.status).toBe(400)
    expect((await errorOf(bearer)).error).toMatch(/Authorization must be "Bearer <token>"/)
    const unknown = await yoga.fetch('http://localhost/blobs', {
      method: 'PUT',
      body: bytes,
      headers: { authorization: 'Bearer tsr_nope' },
    })
    expect(unknown.status).toBe(401)
    expect((await errorOf(unknown)).error).toMatch(/session token is unknown or expired/)
    await clearBlobs()
  })

  test('a signed upload must declare its hash, and the body must match it', async () => {
    const bytes = bytesOf('declared')
    const url = new URL('http://localhost/blobs')
    const { blobAuthHeaders } = await import('../../client/blobAuth.ts')
    const auth = await blobAuthHeaders({ credentials: as(requester), url, method: 'PUT', content: sha256Hex(bytes), now: clock })
    const undeclared = await yoga.fetch(url, { method: 'PUT', body: bytes, headers: auth })
    expect(undeclared.status).toBe(400)
    expect((await errorOf(undeclared)).error).toBe('a signed upload must declare its sha256 in x-content-sha256')
    const other = `0x${'ab'.repeat(32)}` as Hex
    const mismatch = await putBlobWith({ fetch: yogaFetch, credentials: as(requester), bytes, content: other, now: clock })
    expect(mismatch.status).toBe(400)
    expect(await mismatch.json()).toMatchObject({ code: 'HASH_MISMATCH', expected: other, actual: sha256Hex(bytes) })
    expect(await tmpFiles()).toEqual([])
  })
})

describe('a client that goes away', () => {
  test('an upload cut off mid-body stores nothing, leaves no temp file and logs no error', async () => {
    const logged: { level: number; msg: string }[] = []
    const log = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    const server = createServer(
      createYoga({ db, viewsSchema, deployment, dataDir, maxBlobBytes, blobQuotaBytes: quotaBytes, now: () => now, log }).yoga,
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      const bytes = new Uint8Array(600).map((_, i) => i % 251)
      const content = sha256Hex(bytes)
      const url = new URL('/blobs', `http://127.0.0.1:${port}`)
      const auth = await blobAuthHeaders({ credentials: as(provider), url, method: 'PUT', content, now: clock })
      const head = Object.entries({ host: url.host, 'content-length': String(bytes.length), 'x-content-sha256': content, ...auth })
      const socket = connect(port, '127.0.0.1')
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      socket.write(`PUT /blobs HTTP/1.1\r\n${head.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
      socket.write(bytes.subarray(0, 100))
      await sleep(200) // the route is reading the body
      socket.destroy()
      await pollFor('the route noticed', async () => logged.some((l) => l.msg === 'blob request ended by the client') || undefined, {
        intervalMs: 20,
        timeoutMs: 5_000,
      })
      expect(logged.filter((l) => l.level >= 40)).toEqual([])
      expect((await get(content, as(provider))).status).toBe(404)
      expect(await tmpFiles()).toEqual([])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('size and quota', () => {
  test('a blob over the size limit is refused with 413 naming the limit, declared or streamed, leaving nothing', async () => {
    const bytes = new Uint8Array(maxBlobBytes + 1).fill(7)
    const declared = await yoga.fetch('http://localhost/blobs', {
      method: 'PUT',
      body: bytes,
      headers: { 'content-length': String(bytes.length) },
    })
    expect(declared.status).toBe(413)
    expect(await declared.json()).toEqual({
      code: 'BLOB_TOO_LARGE',
      error: `a blob of ${maxBlobBytes + 1} bytes exceeds the limit of ${maxBlobBytes} bytes a blob`,
      limit: maxBlobBytes,
    })
    // Streamed without content-length by a session-less signer: the limit holds while reading.
    const body = new ReadableStream({
      start(c) {
        c.enqueue(bytes.subarray(0, 600))
        c.enqueue(bytes.subarray(600))
        c.close()
      },
    })
    const hash = sha256Hex(bytes)
    const { blobAuthHeaders } = await import('../../client/blobAuth.ts')
    const url = new URL('http://localhost/blobs')
    const auth = await blobAuthHeaders({ credentials: as(requester), url, method: 'PUT', content: hash, now: clock })
    const streamed = await yoga.fetch(url, {
      method: 'PUT',
      body,
      duplex: 'half',
      headers: { ...auth, 'x-content-sha256': hash },
    } as RequestInit)
    expect(streamed.status).toBe(413)
    expect((await errorOf(streamed)).code).toBe('BLOB_TOO_LARGE')
    expect(await tmpFiles()).toEqual([])
    expect(await db.selectFrom('app.blob').selectAll().where('sha256', '=', hash).execute()).toEqual([])
  })

  test('an account past its quota of unreferenced bytes is refused with 413 QUOTA_EXCEEDED; a job using its blobs frees it', async () => {
    await clearBlobs()
    const blob = (i: number) => new Uint8Array(1000).fill(i)
    for (const i of [1, 2, 3]) expect((await put(as(provider), blob(i))).status).toBe(201)
    const over = await put(as(provider), blob(4))
    expect(over.status).toBe(413)
    expect(await over.json()).toEqual({
      code: 'QUOTA_EXCEEDED',
      error: `this upload would take ${provider.address} past its quota of ${quotaBytes} bytes: it holds 3000 bytes in blobs no job references yet (they free up once a job uses them, or when they expire unused)`,
      quota: quotaBytes,
      held: 3000,
    })
    // Bytes it already uploaded cost nothing again; another account's quota is its own.
    expect((await put(as(provider), blob(2))).status).toBe(200)
    expect((await put(as(otherProvider), blob(4))).status).toBe(201)
    // A job that uses one of its blobs takes it out of the quota.
    await sql`insert into ${views('job')} values (100, ${requester.address.toLowerCase()}, ${sha256Hex(blob(1))}, ${sha256Hex(blob(3))})`.execute(
      db,
    )
    expect((await put(as(provider), blob(5))).status).toBe(201)
    // Streamed past what is left (1000 bytes): refused as over quota, not as too large.
    const almost = new Uint8Array(1001).fill(6)
    const rest = await put(as(otherProvider), new Uint8Array(1000).fill(7))
    expect(rest.status).toBe(201)
    const hash = sha256Hex(almost)
    const { blobAuthHeaders } = await import('../../client/blobAuth.ts')
    const url = new URL('http://localhost/blobs')
    const auth = await blobAuthHeaders({ credentials: as(otherProvider), url, method: 'PUT', content: hash, now: clock })
    const body = new ReadableStream({
      start(c) {
        c.enqueue(almost)
        c.close()
      },
    })
    const streamed = await yoga.fetch(url, {
      method: 'PUT',
      body,
      duplex: 'half',
      headers: { ...auth, 'x-content-sha256': hash },
    } as RequestInit)
    expect(streamed.status).toBe(413)
    expect((await errorOf(streamed)).code).toBe('QUOTA_EXCEEDED')
    await sql`delete from ${views('job')}`.execute(db)
    await clearBlobs()
  })
})

describe('upload rate', () => {
  test('an account uploading faster than its rate is refused with 429 and Retry-After, others are not, and it earns its bytes back', async () => {
    let clockSeconds = now
    const limited = createYoga({
      db,
      viewsSchema,
      deployment,
      dataDir,
      maxBlobBytes,
      blobQuotaBytes: 1_000_000,
      blobUploadRate: { bytesPerSecond: 1000, burstBytes: 2000 },
      now: () => clockSeconds,
    }).yoga
    const putLimited = (account: PrivateKeyAccount, bytes: Uint8Array) =>
      putBlobWith({ fetch: (url, init) => limited.fetch(url, init), credentials: as(account), bytes, now: () => clockSeconds * 1000 })
    const blob = (i: number, size: number) => new Uint8Array(size).fill(i)
    expect((await putLimited(requester, blob(11, 1000))).status).toBe(201)
    expect((await putLimited(requester, blob(12, 1000))).status).toBe(201)
    const refused = await putLimited(requester, blob(13, 1000))
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.json()).toEqual({
      code: 'RATE_LIMITED',
      error: `${requester.address} uploads more than 1000 bytes a second (2000 at once); retry in 1 s`,
      retryAfterSeconds: 1,
    })
    expect((await get(sha256Hex(blob(13, 1000)), as(requester))).status).toBe(404)
    // Another account's rate is its own.
    expect((await putLimited(provider, blob(14, 1000))).status).toBe(201)
    // A second later it has earned a blob's worth back.
    clockSeconds += 1
    expect((await putLimited(requester, blob(13, 1000))).status).toBe(201)
    await clearBlobs()
  })
})

describe('reads', () => {
  test('a malformed path gets a short 400 with no stack or server path', async () => {
    for (const p of [
      '%',
      '%E0%A4%A',
      '0x12',
      `0x${'zz'.repeat(32)}`,
      `0x${'ab'.repeat(33)}`,
      `0x${'ab'.repeat(32)}/more`,
      '..%2F..%2Fetc%2Fpasswd',
    ]) {
      const res = await yoga.fetch(`http://localhost/blobs/${p}`)
      expect(res.status, p).toBe(400)
      const text = await res.text()
      expect(JSON.parse(text)).toEqual({ code: 'BAD_REQUEST', error: 'malformed blob hash: expected /blobs/0x followed by 64 hex digits' })
      expect(text).not.toMatch(/\bat |\/work|node_modules|blobs\/tmp/)
    }
    expect((await yoga.fetch(`http://localhost/blobs/0x${'00'.repeat(32)}`)).status).toBe(404)
    expect((await yoga.fetch('http://localhost/blobs/%', { method: 'DELETE' })).status).toBe(405)
  })

  test('a model uploaded public is served to anyone, cacheable by anyone', async () => {
    const model = bytesOf('a shared model')
    expect((await put(as(requester), model, '?public=true')).status).toBe(201)
    const res = await get(sha256Hex(model))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(model)
    expect((await put(as(requester), model, '?public=maybe')).status).toBe(400)
  })

  test("an input is its uploader's until a job uses it, then also its requester's and its assigned providers'", async () => {
    const input = bytesOf('a private input')
    const hash = sha256Hex(input)
    expect((await put(as(requester), input)).status).toBe(201)
    const anonymous = await get(hash)
    expect(anonymous.status).toBe(401)
    expect((await errorOf(anonymous)).error).toMatch(/is not public: authenticate with a SIWE session/)
    const own = await get(hash, as(requester))
    expect(own.status).toBe(200)
    expect(own.headers.get('cache-control')).toBe('private, max-age=31536000, immutable')
    expect(new Uint8Array(await own.arrayBuffer())).toEqual(input)
    // Before any job: nobody else, however funded.
    const early = await get(hash, as(provider))
    expect(early.status).toBe(403)
    expect(await errorOf(early)).toEqual({
      code: 'FORBIDDEN',
      error: `${provider.address} may not read blob ${hash}: only its uploaders, and the requester and assigned providers of an indexed job that uses it, may`,
    })
    // A job of it (by another requester, who never uploaded it) assigned to `provider`.
    const modelHash = sha256Hex(bytesOf('a shared model'))
    await sql`insert into ${views('job')} values (7, ${gatewayUser.address.toLowerCase()}, ${modelHash}, ${hash})`.execute(db)
    await sql`insert into ${views('assignment')} values ('7:p', 7, ${provider.address.toLowerCase()}, null)`.execute(db)
    expect((await get(hash, as(provider))).status).toBe(200)
    expect((await get(hash, as(provider), 'HEAD')).status).toBe(200)
    expect((await get(hash, as(gatewayUser))).status).toBe(200)
    expect((await get(hash, as(otherProvider))).status).toBe(403)
    expect((await get(hash, as(otherProvider), 'HEAD')).status).toBe(403)
    expect((await get(hash, as(stranger))).status).toBe(403)
  })

  test("under a session, reads and uploads get the answers signed ones do: own uploads, a job's parties, quotas, 403, 401, 404", async () => {
    /** A session of `account` (signed in, as `signIn` would record it) ending `seconds` after now. */
    const sessionOf = async (account: PrivateKeyAccount, seconds = 3600): Promise<BlobCredentials> => {
      const token = `tsr_test_${account.address}_${seconds}`
      await insertSession(db, {
        tokenHash: sessionTokenHash(token),
        address: account.address.toLowerCase() as Address,
        expiresAt: new Date((now + seconds) * 1000),
      })
      return { token }
    }
    const [requesterSession, providerSession, otherSession] = await Promise.all(
      [requester, provider, otherProvider].map((a) => sessionOf(a)),
    )
    const input = bytesOf('a private input read under sessions')
    const hash = sha256Hex(input)
    expect((await put(as(requester), input)).status).toBe(201)
    const own = await get(hash, requesterSession)
    expect(own.status).toBe(200)
    expect(own.headers.get('cache-control')).toBe('private, max-age=31536000, immutable')
    expect(new Uint8Array(await own.arrayBuffer())).toEqual(input)
    expect((await get(hash, providerSession)).status).toBe(403)
    await sql`insert into ${views('job')} values (80, ${requester.address.toLowerCase()}, ${sha256Hex(bytesOf('a model'))}, ${hash})`.execute(
      db,
    )
    await sql`insert into ${views('assignment')} values ('80:p', 80, ${provider.address.toLowerCase()}, null)`.execute(db)
    const party = await get(hash, providerSession)
    expect(party.status).toBe(200)
    expect(new Uint8Array(await party.arrayBuffer())).toEqual(input)
    const head = await get(hash, providerSession, 'HEAD')
    expect([head.status, head.headers.get('content-length'), (await head.arrayBuffer()).byteLength]).toEqual([200, String(input.length), 0])
    const other = await get(hash, otherSession)
    expect(await errorOf(other)).toEqual({
      code: 'FORBIDDEN',
      error: `${otherProvider.address} may not read blob ${hash}: only its uploaders, and the requester and assigned providers of an indexed job that uses it, may`,
    })
    // A token the server doesn't hold, or a session that ended: 401 for a private blob; a public one is served anyway.
    for (const credentials of [{ token: 'tsr_never_signed_in' }, await sessionOf(provider, -1)]) {
      const refused = await get(hash, credentials)
      expect([refused.status, (await errorOf(refused)).error]).toEqual([401, 'the session token is unknown or expired: sign in again'])
    }
    const model = bytesOf('a public model read under a stale token')
    expect((await put(as(requester), model, '?public=true')).status).toBe(201)
    expect((await get(sha256Hex(model), { token: 'tsr_never_signed_in' })).status).toBe(200)
    const missing = await get(sha256Hex(bytesOf('never uploaded')), providerSession)
    expect([missing.status, (await errorOf(missing)).code]).toEqual([404, 'NOT_FOUND'])
    // Uploads under a session: the same answers too. Bytes the account uploaded before cost nothing again, even past
    // its quota; new ones are refused there.
    await clearBlobs()
    const fill = (i: number) => new Uint8Array(1000).fill(i)
    for (const i of [1, 2, 3]) expect((await put(otherSession, fill(i))).status).toBe(201)
    expect((await put(otherSession, fill(2))).status).toBe(200)
    const over = await put(otherSession, fill(4))
    expect([over.status, (await errorOf(over)).code]).toEqual([413, 'QUOTA_EXCEEDED'])
    const stale = await put({ token: 'tsr_never_signed_in' }, fill(5))
    expect([stale.status, (await errorOf(stale)).error]).toEqual([401, 'the session token is unknown or expired: sign in again'])
    await clearBlobs()
  })

  test("an output is its uploader's, then, once revealed, its job's requester's and providers'; a gateway job's account's too", async () => {
    const input = bytesOf('a gateway input')
    const output = bytesOf('an output')
    const [inputHash, outputHash] = [sha256Hex(input), sha256Hex(output)]
    expect((await put(as(gatewayUser), input)).status).toBe(201)
    expect((await put(as(provider), output)).status).toBe(201)
    // On chain the gateway is the requester; the account whose gateway request became the job is known to the server.
    await sql`insert into ${views('job')} values (8, ${deployment.matcher.toLowerCase()}, ${inputHash}, ${inputHash})`.execute(db)
    await sql`insert into ${views('assignment')} values ('8:p', 8, ${provider.address.toLowerCase()}, null),
      ('8:q', 8, ${otherProvider.address.toLowerCase()}, null)`.execute(db)
    await db
      .insertInto('app.gatewayRequest')
      .values({
        id: 'gw-8',
        account: gatewayUser.address.toLowerCase() as Address,
        nonce: 1n,
        kind: 'SUBMIT',
        payload: JSON.stringify({ modelHash: inputHash, inputHash }),
        signature: '0x00',
        amount: 1n,
        status: 'DONE',
        jobId: 8n,
      })
      .execute()
    expect((await get(outputHash, as(provider))).status).toBe(200)
    expect((await get(outputHash, as(gatewayUser))).status).toBe(403)
    await sql`update ${views('assignment')} set output_hash = ${outputHash} where id = '8:p'`.execute(db)
    expect((await get(outputHash, as(gatewayUser))).status).toBe(200)
    expect((await get(outputHash, as(otherProvider))).status).toBe(200)
    expect((await get(outputHash, as(requester))).status).toBe(403)
    expect((await get(inputHash, as(otherProvider))).status).toBe(200)
  })
})

/** A live session of `otherProvider` under `token`, and `input` uploaded by the requester; returns its hash. */
async function storeForSession(token: string, input: Uint8Array): Promise<Hex> {
  await insertSession(db, {
    tokenHash: sessionTokenHash(token),
    address: otherProvider.address.toLowerCase() as Address,
    expiresAt: new Date((now + 3600) * 1000),
  })
  expect((await put(as(requester), input)).status).toBe(201)
  return sha256Hex(input)
}

describe('a read under a session in one statement', () => {
  test('the reader is found a party, or not, in the statement that finds the blob and session; without the views, the route still answers', async () => {
    const token = 'tsr_test_one_statement'
    const input = bytesOf('an input read in one statement')
    const hash = await storeForSession(token, input)
    const ask = (on: Kysely<Database>) =>
      findBlobForSession(on, { sha256: hash, tokenHash: sessionTokenHash(token), now: new Date(now * 1000), jobParty: true })
    const inViews = db.withSchema(viewsSchema)
    expect(await ask(inViews)).toMatchObject({ public: false, session: { uploaded: false }, jobParty: false })
    await sql`insert into ${views('job')} values (90, ${requester.address.toLowerCase()}, ${sha256Hex(bytesOf('a model'))}, ${hash})`.execute(
      db,
    )
    await sql`insert into ${views('assignment')} values ('90:p', 90, ${otherProvider.address.toLowerCase()}, null)`.execute(db)
    expect((await ask(inViews)).jobParty).toBe(true)
    // The uploader's own read, or no session: nothing more to know, so not asked.
    const uploaderToken = 'tsr_test_one_statement_uploader'
    await insertSession(db, {
      tokenHash: sessionTokenHash(uploaderToken),
      address: requester.address.toLowerCase() as Address,
      expiresAt: new Date((now + 3600) * 1000),
    })
    const asOf = (tokenHash: string) => findBlobForSession(inViews, { sha256: hash, tokenHash, now: new Date(now * 1000), jobParty: true })
    expect(await asOf(sessionTokenHash(uploaderToken))).toMatchObject({ session: { uploaded: true }, jobParty: undefined })
    expect(await asOf('no such session')).toMatchObject({ session: undefined, jobParty: undefined })
    // Before the indexer made its views: the blob and session come back all the same, the party question left to ask.
    const early = await ask(db.withSchema('no_views_yet'))
    expect(early).toMatchObject({ public: false, session: { uploaded: false }, jobParty: undefined })
    expect(early.blob?.size).toBe(BigInt(input.length))
    expect((await get(hash, { token })).status).toBe(200)
  })
})

describe('the session lookup as a prepared statement', () => {
  test('each connection parses it once and Postgres plans it once for all; views made again under it are read afresh', async () => {
    const token = 'tsr_test_prepared'
    const hash = await storeForSession(token, bytesOf('an input looked up by a prepared statement'))
    // One connection, so that what it prepared is what pg_prepared_statements shows.
    const one = createDb({ databaseUrl: database.url, max: 1 }).db
    try {
      const inViews = one.withSchema(viewsSchema)
      const ask = (sha256: string) =>
        findBlobForSession(inViews, { sha256, tokenHash: sessionTokenHash(token), now: new Date(now * 1000), jobParty: true })
      for (let i = 0; i < 8; i++) await ask(sha256Hex(bytesOf(`absent ${i}`)))
      expect(await ask(hash)).toMatchObject({ session: { uploaded: false }, jobParty: false })
      const prepared = await sql<{ name: string; genericPlans: number; customPlans: number }>`select name,
        generic_plans::integer, custom_plans::integer from pg_prepared_statements`.execute(one)
      expect(prepared.rows).toHaveLength(1)
      expect(prepared.rows[0].name).toMatch(/^tessera_[0-9a-f]{16}$/)
      expect(prepared.rows[0].customPlans + prepared.rows[0].genericPlans).toBe(9)
      expect(prepared.rows[0].genericPlans).toBeGreaterThan(0)
      // The indexer's tables made again (a new schema behind the views): the statement reads the new ones.
      await sql`alter table ${views('job')} rename to job_before`.execute(db)
      await sql`create table ${views('job')} (id numeric primary key, requester text not null, model_hash text not null,
        input_hash text not null)`.execute(db)
      try {
        await sql`insert into ${views('job')} values (91, ${requester.address.toLowerCase()}, ${hash}, ${hash})`.execute(db)
        await sql`insert into ${views('assignment')} values ('91:p', 91, ${otherProvider.address.toLowerCase()}, null)`.execute(db)
        expect(await ask(hash)).toMatchObject({ jobParty: true })
      } finally {
        await sql`drop table ${views('job')}`.execute(db)
        await sql`alter table ${sql.id(viewsSchema, 'job_before')} rename to job`.execute(db)
      }
    } finally {
      await one.destroy()
    }
  })
})

describe('small blobs from memory', () => {
  test('a small blob is served from memory once stored, even with its file gone; with no memory (blobMemoryBytes: 0) it is not', async () => {
    const bytes = bytesOf('an input served from memory')
    const hash = sha256Hex(bytes)
    expect((await put(as(requester), bytes)).status).toBe(201)
    await rm(path.join(dataDir, 'blobs', hash.slice(2)))
    const served = await get(hash, as(requester))
    expect([served.status, served.headers.get('content-length')]).toEqual([200, String(bytes.length)])
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(bytes)
    const bareDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-blob-routes-bare-'))
    try {
      const bare = createYoga({ db, viewsSchema, deployment, dataDir: bareDir, maxBlobBytes, blobMemoryBytes: 0, now: () => now }).yoga
      const other = bytesOf('an input never held in memory')
      const otherHash = sha256Hex(other)
      expect(
        (await putBlobWith({ fetch: (url, init) => bare.fetch(url, init), credentials: as(requester), bytes: other, now: clock })).status,
      ).toBe(201)
      await rm(path.join(bareDir, 'blobs', otherHash.slice(2)))
      expect(
        (await getBlobWith({ fetch: (url, init) => bare.fetch(url, init), hash: otherHash, credentials: as(requester), now: clock }))
          .status,
      ).toBe(404)
    } finally {
      await rm(bareDir, { recursive: true, force: true })
    }
  })
})
