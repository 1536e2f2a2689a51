import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import type { Hex } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { BlobSession } from '../../client/blobSession.ts'
import { getBlob, uploadBlob } from '../../client/serverClient.ts'
import { signIn as signInClient, signOut as signOutClient } from '../../client/signIn.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { type BlobFetch, getBlobWith, putBlobWith } from '../../test/support/blobs.ts'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { fixtureDeployment } from '../../test/support/deployment.ts'
import { createYoga } from '../createYoga.ts'
import { createDb } from '../db/createDb.ts'
import type { Database } from '../db/database.ts'
import { migrateToLatest } from '../db/migrateToLatest.ts'
import { sessionMaxSeconds, siweNonceTtlSeconds } from './siwe.ts'

// Sign-In with Ethereum through yoga.fetch: a good sign-in, and each way a message can be wrong (replayed, stale nonce,
// another domain or chain, a signature by someone else, outside its validity) refused naming what was wrong. Then the
// client helpers against a listening server, whose domain is the host the client reached.

const deployment = fixtureDeployment
const domain = 'app.tessera.test'
let now = 1_800_000_000

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']
const yogaFetch: BlobFetch = (url, init) => yoga.fetch(url, init)
const alice = privateKeyToAccount(devKeys[5])
const mallory = privateKeyToAccount(devKeys[7])

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-siwe-'))
  // No chain or index here: every account counts as funded (funding is use-blob-routes.test.ts's).
  yoga = createYoga({ db, viewsSchema: 'chain', deployment, dataDir, domain, now: () => now, fundingCheck: async () => true }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

type Answer<T> = { data?: T; errors?: { message: string; extensions?: { code?: string } }[] }

async function gql<T>(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  })
  return (await res.json()) as Answer<T>
}

const nonce = async () => (await gql<{ siweNonce: string }>('mutation { siweNonce }')).data?.siweNonce as string

/** An EIP-4361 message for this server as a wallet would build it, with `overrides`. */
const messageFor = (
  account: PrivateKeyAccount,
  nonceValue: string,
  overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {},
): string =>
  createSiweMessage({
    domain,
    address: account.address,
    statement: 'Sign in to Tessera.',
    uri: `https://${domain}`,
    version: '1',
    chainId: deployment.chainId,
    nonce: nonceValue,
    issuedAt: new Date(now * 1000),
    ...overrides,
  })

type Session = { token: string; address: string; expiresAt: string }

async function signIn(message: string, signature: Hex) {
  const answer = await gql<{ signIn: Session }>(
    'mutation ($m: String!, $s: String!) { signIn(message: $m, signature: $s) { token address expiresAt } }',
    { m: message, s: signature },
  )
  return { session: answer.data?.signIn, error: answer.errors?.[0] }
}

/** Signs in `account` with a fresh nonce and `overrides`; what the server answers. */
async function signInAs(account: PrivateKeyAccount, overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {}, signer = account) {
  const message = messageFor(account, await nonce(), overrides)
  return { message, ...(await signIn(message, await signer.signMessage({ message }))) }
}

describe('siweNonce', () => {
  test('issues distinct EIP-4361 nonces, each stored with its expiry', async () => {
    const [a, b] = [await nonce(), await nonce()]
    expect(a).toMatch(/^[a-zA-Z0-9]{8,}$/)
    expect(a).not.toBe(b)
    const row = await db.selectFrom('app.siweNonce').selectAll().where('nonce', '=', a).executeTakeFirstOrThrow()
    expect(row.expiresAt.getTime()).toBe((now + siweNonceTtlSeconds) * 1000)
    expect(row.usedAt).toBeNull()
  })
})

describe('signIn', () => {
  test('a good sign-in returns a bearer token, stored only as its hash, that the blob store takes; signOut ends it', async () => {
    const { session, error } = await signInAs(alice)
    expect(error).toBeUndefined()
    expect(session).toEqual({
      token: expect.stringMatching(/^tsr_[A-Za-z0-9_-]{43}$/),
      address: alice.address,
      expiresAt: String(now + sessionMaxSeconds),
    })
    const token = session?.token as string
    const stored = await db.selectFrom('app.session').selectAll().execute()
    expect(stored.map((s) => s.address)).toContain(alice.address.toLowerCase())
    expect(JSON.stringify(stored)).not.toContain(token)
    // The session uploads (no hash needed) and reads back its own private blob.
    const bytes = new TextEncoder().encode('uploaded in a session')
    const put = await yoga.fetch('http://localhost/blobs', { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${token}` } })
    expect(put.status).toBe(201)
    expect((await getBlobWith({ fetch: yogaFetch, hash: sha256Hex(bytes), credentials: { token } })).status).toBe(200)
    // signOut ends it: the token no longer works, and a second signOut finds nothing.
    const out = await gql<{ signOut: boolean }>('mutation { signOut }', {}, { authorization: `Bearer ${token}` })
    expect(out.data?.signOut).toBe(true)
    const after = await getBlobWith({ fetch: yogaFetch, hash: sha256Hex(bytes), credentials: { token } })
    expect(after.status).toBe(401)
    expect(((await after.json()) as { error: string }).error).toBe('the session token is unknown or expired: sign in again')
    expect((await gql<{ signOut: boolean }>('mutation { signOut }', {}, { authorization: `Bearer ${token}` })).data?.signOut).toBe(false)
    const bare = await gql('mutation { signOut }')
    expect(bare.errors?.[0]?.message).toBe('signOut needs the session token as Authorization: Bearer <token>')
  })

  test('a session ends when the message says, if sooner than the server limit, and then its token is refused', async () => {
    const { session } = await signInAs(alice, { expirationTime: new Date((now + 600) * 1000) })
    expect(session?.expiresAt).toBe(String(now + 600))
    const bytes = new TextEncoder().encode('short session')
    const credentials = { token: session?.token as string }
    expect((await putBlobWith({ fetch: yogaFetch, credentials, bytes })).status).toBe(201)
    now += 600
    try {
      expect((await getBlobWith({ fetch: yogaFetch, hash: sha256Hex(bytes), credentials })).status).toBe(401)
    } finally {
      now -= 600
    }
  })

  test('a replayed message is refused: its nonce signs in once', async () => {
    const { message, session } = await signInAs(alice)
    expect(session).toBeDefined()
    const again = await signIn(message, await alice.signMessage({ message }))
    expect(again.session).toBeUndefined()
    expect(again.error?.message).toMatch(/^sign-in rejected: nonce "\w+" was already used at .*: a message signs in once$/)
    expect(again.error?.extensions?.code).toBe('SIGN_IN_REJECTED')
  })

  test('of two sign-ins racing with one message, exactly one gets a session', async () => {
    const message = messageFor(alice, await nonce())
    const signature = await alice.signMessage({ message })
    const results = await Promise.all([signIn(message, signature), signIn(message, signature), signIn(message, signature)])
    expect(results.filter((r) => r.session).length).toBe(1)
    for (const r of results.filter((r) => !r.session)) expect(r.error?.message).toMatch(/already used/)
  })

  test('an expired nonce, or one this server never issued, is refused', async () => {
    const stale = await nonce()
    now += siweNonceTtlSeconds
    try {
      const message = messageFor(alice, stale)
      const { error } = await signIn(message, await alice.signMessage({ message }))
      expect(error?.message).toMatch(/^sign-in rejected: nonce "\w+" expired at \d{4}-.*: ask siweNonce for a new one$/)
    } finally {
      now -= siweNonceTtlSeconds
    }
    const made = messageFor(alice, 'madeUpNonce123')
    expect((await signIn(made, await alice.signMessage({ message: made }))).error?.message).toBe(
      'sign-in rejected: nonce "madeUpNonce123" was not issued by this server: ask siweNonce for one',
    )
  })

  test('another domain or another chain is refused, naming the expected one', async () => {
    expect((await signInAs(alice, { domain: 'evil.example' })).error?.message).toBe(
      `sign-in rejected: domain "evil.example" is not this server's ("${domain}")`,
    )
    expect((await signInAs(alice, { chainId: 1 })).error?.message).toBe(
      `sign-in rejected: chain id 1 is not this deployment's (${deployment.chainId})`,
    )
  })

  test('a signature by another key, or not a signature, is refused', async () => {
    expect((await signInAs(alice, {}, mallory)).error?.message).toBe(`sign-in rejected: signature was not made by ${alice.address}`)
    const message = messageFor(alice, await nonce())
    expect((await signIn(message, '0x1234')).error?.message).toBe(`sign-in rejected: signature was not made by ${alice.address}`)
    expect((await signIn(message, 'nothex' as Hex)).error?.message).toBe('sign-in rejected: signature must be a 0x-prefixed hex string')
    // The refusals used nothing: the message still signs in with the right signature.
    expect((await signIn(message, await alice.signMessage({ message }))).session).toBeDefined()
  })

  test('a message outside its validity, or not EIP-4361 at all, is refused', async () => {
    expect((await signInAs(alice, { expirationTime: new Date((now - 1) * 1000) })).error?.message).toMatch(
      /^sign-in rejected: the message expired at 2027-/,
    )
    expect((await signInAs(alice, { notBefore: new Date((now + 60) * 1000) })).error?.message).toMatch(
      /^sign-in rejected: the message is not valid before 2027-/,
    )
    expect((await signInAs(alice, { issuedAt: new Date((now + 3600) * 1000) })).error?.message).toMatch(/in the future$/)
    expect((await signIn('hello', await alice.signMessage({ message: 'hello' }))).error?.message).toBe(
      'sign-in rejected: not an EIP-4361 message: it has no domain',
    )
    const long = `${messageFor(alice, await nonce())}\n${'x'.repeat(5000)}`
    expect((await signIn(long, await alice.signMessage({ message: long }))).error?.message).toMatch(/over 4096 characters/)
  })
})

/** `signer`, recording each message it is asked to sign. */
function recordingSigner(signer: PrivateKeyAccount) {
  const messages: string[] = []
  const account = {
    address: signer.address,
    signMessage: (parameters: { message: string }) => {
      messages.push(parameters.message)
      return signer.signMessage(parameters)
    },
  }
  return { messages, account }
}

describe('the client helpers against a listening server', () => {
  let server: Server
  let serverUrl: string
  // The server's domain is then the host each request was addressed to: what the client signs.
  let listening: ReturnType<typeof createYoga>['yoga']

  beforeAll(async () => {
    // Views with no jobs: only uploaders read private blobs.
    await sql`create schema siwe_views`.execute(db)
    await sql`create table siwe_views.job (id numeric, requester text, model_hash text, input_hash text)`.execute(db)
    await sql`create table siwe_views.assignment (id text, job_id numeric, provider text, output_hash text)`.execute(db)
    listening = createYoga({ db, viewsSchema: 'siwe_views', deployment, dataDir, fundingCheck: async () => true }).yoga
    server = createServer(listening)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve))
  })

  test('signIn, then upload and download with the session; signOut ends it', async () => {
    const session = await signInClient({ serverUrl, account: alice, chainId: deployment.chainId })
    expect(session.address).toBe(alice.address)
    const bytes = new TextEncoder().encode('through the client')
    const { sha256 } = await uploadBlob({ serverUrl, bytes, credentials: { token: session.token } })
    expect(await getBlob({ serverUrl, hash: sha256, credentials: { token: session.token } })).toEqual(bytes)
    expect(await signOutClient({ serverUrl, token: session.token })).toBe(true)
    await expect(getBlob({ serverUrl, hash: sha256, credentials: { token: session.token } })).rejects.toThrow(
      /GET \/blobs\/0x\w+ failed with HTTP 401: the session token is unknown or expired/,
    )
  })

  test('a BlobSession signs in once for concurrent requests, and again once the server no longer knows its token', async () => {
    const { messages, account } = recordingSigner(alice)
    const credentials = { session: new BlobSession({ serverUrl, account, chainId: deployment.chainId }) }
    const texts = ['one', 'two', 'three'].map((t) => new TextEncoder().encode(`session ${t}`))
    const uploads = await Promise.all(texts.map((bytes) => uploadBlob({ serverUrl, bytes, credentials })))
    expect(await Promise.all(uploads.map(({ sha256 }) => getBlob({ serverUrl, hash: sha256, credentials })))).toEqual(texts)
    expect(messages).toHaveLength(1)
    expect(messages[0]).toMatch(/wants you to sign in with your Ethereum account/)
    // The server drops the session: the next request is refused as retryable, and the one after signs in again.
    const token = await credentials.session.token()
    expect(token).toMatch(/^tsr_/)
    expect(await signOutClient({ serverUrl, token: token as string })).toBe(true)
    await expect(getBlob({ serverUrl, hash: uploads[0].sha256, credentials })).rejects.toMatchObject({ status: 401, retryable: true })
    expect(await getBlob({ serverUrl, hash: uploads[0].sha256, credentials })).toEqual(texts[0])
    expect(messages).toHaveLength(2)
  })

  test('a BlobSession that cannot sign in signs each request meanwhile, and tries to sign in again a minute later', async () => {
    let clock = Date.now()
    const failures: Error[] = []
    const { messages, account } = recordingSigner(alice)
    // The session signs in at a server that serves no GraphQL (404 to everything): the sign-in fails.
    const noSessions = createServer((_, res) => res.writeHead(404).end('not here'))
    await new Promise<void>((resolve) => noSessions.listen(0, '127.0.0.1', resolve))
    const noSessionsUrl = `http://127.0.0.1:${(noSessions.address() as AddressInfo).port}`
    onTestFinished(() => new Promise<void>((resolve) => noSessions.close(() => resolve())))
    const session = new BlobSession({
      serverUrl: noSessionsUrl,
      account,
      chainId: deployment.chainId,
      now: () => clock,
      onSignInFailed: (error) => failures.push(error),
    })
    const viaSession = { session }
    const bytes = new TextEncoder().encode('signed while no session')
    // The blob requests go to the real server, signed one by one.
    const { sha256 } = await uploadBlob({ serverUrl, bytes, credentials: viaSession })
    expect(await getBlob({ serverUrl, hash: sha256, credentials: viaSession })).toEqual(bytes)
    expect(failures.map((e) => e.message)).toEqual([`signing in to ${noSessionsUrl} as ${alice.address} failed`])
    // The sign-in failed at its nonce, before anything was signed; then a signature per request.
    expect(messages).toHaveLength(2)
    expect(messages.every((m) => !m.includes('wants you to sign in'))).toBe(true)
    clock += 61_000
    await getBlob({ serverUrl, hash: sha256, credentials: viaSession })
    expect(failures).toHaveLength(2)
  })

  test('uploads and downloads signed per request by the account; others may not read its blob', async () => {
    const credentials = { account: alice, chainId: deployment.chainId }
    const bytes = new TextEncoder().encode('signed by the client')
    const { sha256 } = await uploadBlob({ serverUrl, bytes, kind: undefined, credentials })
    expect(await getBlob({ serverUrl, hash: sha256, credentials })).toEqual(bytes)
    const refused = getBlob({ serverUrl, hash: sha256, credentials: { account: mallory, chainId: deployment.chainId } })
    await expect(refused).rejects.toMatchObject({ status: 403, retryable: true })
    await expect(getBlob({ serverUrl, hash: sha256 })).rejects.toMatchObject({ status: 401, retryable: false })
    // Signed for another chain: refused, with the server's reason in the error.
    await expect(uploadBlob({ serverUrl, bytes, credentials: { account: alice, chainId: 1 } })).rejects.toThrow(
      /PUT \/blobs failed with HTTP 401: x-tessera-signature was not made by 0x9965.* \(chain 31337, domain 127\.0\.0\.1:\d+\)/,
    )
  })
})
