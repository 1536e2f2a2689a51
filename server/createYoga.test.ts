import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { parseDeployment } from '../protocol/deployment.ts'
import { heartbeatMaxModels, heartbeatMessage } from '../protocol/heartbeat.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { fixtureDeployment } from '../test/support/deployment.ts'
import { createYoga } from './createYoga.ts'
import { createDb } from './db/createDb.ts'
import type { Database } from './db/database.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'

const deployment = fixtureDeployment

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']
const now = 1_800_000_000
const maxBlobBytes = 1024

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-server-'))
  yoga = createYoga({ db, viewsSchema: 'chain', deployment, dataDir, maxBlobBytes, now: () => now }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

/** The response fields these tests read. */
type GraphQLResponse = {
  data?: { heartbeat?: boolean; __schema?: { queryType: { name: string } } }
  errors?: { message: string; extensions?: { code?: string } }[]
}

const gql = async (query: string, variables?: Record<string, unknown>) => {
  const res = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  return { status: res.status, body: (await res.json()) as GraphQLResponse }
}

const sha = (bytes: Uint8Array) => `0x${createHash('sha256').update(bytes).digest('hex')}`
const blobFiles = async () => (await readdir(path.join(dataDir, 'blobs'))).filter((f) => f !== 'tmp')
const tmpFiles = () => readdir(path.join(dataDir, 'blobs', 'tmp'))

describe('blobs', () => {
  test('PUT then GET round-trips the bytes under their sha256', async () => {
    const bytes = new TextEncoder().encode('{"dims":[1,2],"dtype":"float32","data":"AAAAAAAAAAA="}')
    const put = await yoga.fetch('http://localhost/blobs', {
      method: 'PUT',
      body: bytes,
      headers: { 'x-content-sha256': sha(bytes).toUpperCase().replace('0X', '0x') },
    })
    expect(put.status).toBe(201)
    expect(await put.json()).toEqual({ sha256: sha(bytes), size: bytes.length })
    const again = await yoga.fetch('http://localhost/blobs', { method: 'PUT', body: bytes })
    expect(again.status).toBe(200)
    const get = await yoga.fetch(`http://localhost/blobs/${sha(bytes)}`)
    expect(get.status).toBe(200)
    expect(get.headers.get('content-type')).toBe('application/octet-stream')
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(bytes)
    const row = await db.selectFrom('app.blob').selectAll().where('sha256', '=', sha(bytes)).executeTakeFirstOrThrow()
    expect(row.size).toBe(String(bytes.length))
  })

  test('an oversized body is refused with 413 naming the limit, leaving no file or row', async () => {
    const before = await blobFiles()
    const bytes = new Uint8Array(maxBlobBytes + 1).fill(7)
    // Streamed without content-length, so the limit is enforced while reading.
    const body = new ReadableStream({
      start(c) {
        c.enqueue(bytes.subarray(0, 600))
        c.enqueue(bytes.subarray(600))
        c.close()
      },
    })
    const res = await yoga.fetch('http://localhost/blobs', { method: 'PUT', body, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(413)
    const json = (await res.json()) as { error: string; limit: number }
    expect(json.limit).toBe(maxBlobBytes)
    expect(json.error).toContain(String(maxBlobBytes))
    expect(await blobFiles()).toEqual(before)
    expect(await tmpFiles()).toEqual([])
    expect(await db.selectFrom('app.blob').selectAll().where('sha256', '=', sha(bytes)).execute()).toEqual([])
    // A declared content-length over the limit is refused before reading.
    const declared = await yoga.fetch('http://localhost/blobs', {
      method: 'PUT',
      body: bytes,
      headers: { 'content-length': String(bytes.length) },
    })
    expect(declared.status).toBe(413)
  })

  test('a body that does not match x-content-sha256 is refused with 400 and not stored', async () => {
    const bytes = new TextEncoder().encode('hello')
    const wrong = `0x${'ab'.repeat(32)}`
    const res = await yoga.fetch('http://localhost/blobs', { method: 'PUT', body: bytes, headers: { 'x-content-sha256': wrong } })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toContain(sha(bytes))
    expect((await yoga.fetch(`http://localhost/blobs/${sha(bytes)}`)).status).toBe(404)
    expect(await tmpFiles()).toEqual([])
  })

  test('unknown hash → 404, malformed hash → 400, both JSON', async () => {
    const unknown = await yoga.fetch(`http://localhost/blobs/0x${'00'.repeat(32)}`)
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: string }).error).toMatch(/no blob/)
    const malformed = await yoga.fetch('http://localhost/blobs/0x1234')
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as { error: string }).error).toMatch(/malformed/)
  })
})

describe('graphql', () => {
  test('a malformed query gets a clear syntax error', async () => {
    const { body } = await gql('{ jobs(first: 10 { edges { node { id } } } }')
    expect(body.errors?.[0]?.message).toMatch(/Syntax Error: Expected Name, found "{"/)
    // With the GraphQL-over-HTTP media type the status says so too.
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ jobs(' }),
    })
    expect(res.status).toBe(400)
  })

  test('an unknown field is named in the validation error', async () => {
    const { body } = await gql('{ jobs { edges { node { idd } } } }')
    expect(body.errors?.[0]?.message).toMatch(/Cannot query field "idd" on type "Job"/)
  })

  test('a bad scalar says what it expected', async () => {
    const { body } = await gql('{ provider(address: "0x12") { address } }')
    expect(body.errors?.[0]?.message).toMatch(/Address must be a 20-byte/)
  })

  test('too deep a query is refused naming the limit', async () => {
    const nest = (n: number): string => (n === 0 ? 'id' : `job { assignments { ${nest(n - 1)} } }`)
    const { body } = await gql(`{ jobs(first: 1) { edges { node { assignments { ${nest(6)} } } } } }`)
    expect(body.errors?.[0]?.message).toMatch(/depth.*12/i)
  })

  test('too costly a query is refused with its cost and the limit', async () => {
    const { body } = await gql(
      `{ jobs(first: 1000) { edges { node { id status units escrow
        assignments { provider slot price collateral job { id assignments { provider slot price } } } } } } }`,
    )
    expect(body.errors?.[0]?.message).toMatch(/complexity/i)
  })

  test('a list argument counts toward the cost: 50,000 addresses in a variable are refused, 1,000 pass the limits', async () => {
    const query = 'query ($a: [Address!]) { providers(first: 10, where: { address_in: $a }) { totalCount } }'
    const addresses = (n: number) => Array.from({ length: n }, (_, i) => `0x${i.toString(16).padStart(40, '0')}`)
    const { body } = await gql(query, { a: addresses(50_000) })
    expect(body.errors?.[0]?.message).toMatch(/complexity/i)
    const small = await gql(query, { a: addresses(1_000) })
    expect(JSON.stringify(small.body.errors ?? [])).not.toMatch(/complexity/i)
  })

  test('too many aliases are refused', async () => {
    const q = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: marketStats { jobs }`).join(' ')} }`
    const { body } = await gql(q)
    expect(body.errors?.[0]?.message).toMatch(/alias/i)
  })

  test('the standard introspection query passes the limits', async () => {
    const { getIntrospectionQuery } = await import('graphql')
    const { body } = await gql(getIntrospectionQuery())
    expect(body.errors).toBeUndefined()
    expect(body.data?.__schema?.queryType.name).toBe('Query')
  })

  test('a subscription resumed from a malformed cursor is refused as bad input', async () => {
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: 'subscription($p: Address!, $a: String) { jobAssignments(provider: $p, after: $a) { cursor } }',
        variables: { p: '0x0000000000000000000000000000000000000001', a: 'bogus' },
      }),
    })
    const text = await res.text()
    const data = text.split('\n').find((line) => line.startsWith('data:'))
    const { errors } = JSON.parse(data?.slice(5) ?? '{}') as GraphQLResponse
    expect(errors?.[0]?.message).toMatch(/invalid assignment cursor "bogus"/)
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
  })

  test('emissionsVsUsage refuses a reversed or too wide range as bad input', async () => {
    const reversed = await gql('{ emissionsVsUsage(from: "5", to: "2") { from } }')
    expect(reversed.body.errors?.[0]?.message).toBe('emissionsVsUsage: need 0 ≤ from ≤ to, got from 5, to 2')
    expect(reversed.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    const wide = await gql('{ emissionsVsUsage(from: "0", to: "1000") { from } }')
    expect(wide.body.errors?.[0]?.message).toBe('emissionsVsUsage: at most 1000 epochs per call, asked for 1001')
  })

  test('an unexpected failure is masked (no internals leak)', async () => {
    // The views schema does not exist in this database, so the resolver's query fails.
    const { body } = await gql('{ marketStats { jobs } }')
    expect(body.errors?.[0]?.message).toBe('Unexpected error.')
  })
})

describe('heartbeat', () => {
  const account = privateKeyToAccount(devKeys[2])
  const mutation = 'mutation($p: Address!, $t: Int!, $s: String!) { heartbeat(provider: $p, timestamp: $t, signature: $s) }'

  test('accepts a signature by the provider key and records it', async () => {
    const signature = await account.signMessage({ message: heartbeatMessage(account.address, now) })
    const { body } = await gql(mutation, { p: account.address.toLowerCase(), t: now, s: signature })
    expect(body.errors).toBeUndefined()
    expect(body.data?.heartbeat).toBe(true)
    const row = await db
      .selectFrom('app.heartbeat')
      .selectAll()
      .where('provider', '=', account.address.toLowerCase())
      .executeTakeFirstOrThrow()
    expect(row.timestamp).toBe(String(now))
    expect(row.lastSeen.getTime()).toBe(now * 1000)
  })

  test('rejects a signature by another key', async () => {
    const other = privateKeyToAccount(devKeys[3])
    const signature = await other.signMessage({ message: heartbeatMessage(account.address, now) })
    const { body } = await gql(mutation, { p: account.address, t: now, s: signature })
    expect(body.errors?.[0]?.message).toMatch(/heartbeat rejected: signature was not made by/)
    expect(body.errors?.[0]?.extensions?.code).toBe('HEARTBEAT_REJECTED')
  })

  test('rejects a signature over a different timestamp and a stale timestamp', async () => {
    const signature = await account.signMessage({ message: heartbeatMessage(account.address, now - 1) })
    expect((await gql(mutation, { p: account.address, t: now, s: signature })).body.errors?.[0]?.message).toMatch(/not made by/)
    const stale = now - 61
    const staleSig = await account.signMessage({ message: heartbeatMessage(account.address, stale) })
    expect((await gql(mutation, { p: account.address, t: stale, s: staleSig })).body.errors?.[0]?.message).toMatch(/more than 60 s/)
    expect((await gql(mutation, { p: account.address, t: now, s: '0x1234' })).body.errors?.[0]?.message).toMatch(/65-byte/)
  })

  describe('with the models the agent holds warm', () => {
    const withModels =
      'mutation($p: Address!, $t: Int!, $s: String!, $m: [String!]) { heartbeat(provider: $p, timestamp: $t, signature: $s, models: $m) }'
    const a = `0x${'aa'.repeat(32)}` as const
    const b = `0x${'0b'.repeat(32)}` as const
    const storedModels = async () =>
      (
        await db
          .selectFrom('app.heartbeat')
          .select('models')
          .where('provider', '=', account.address.toLowerCase())
          .executeTakeFirstOrThrow()
      ).models
    const send = async (t: number, models: readonly `0x${string}`[] | undefined, signed: readonly `0x${string}`[] | undefined = models) => {
      const signature = await account.signMessage({ message: heartbeatMessage(account.address, t, signed) })
      return (await gql(withModels, { p: account.address, t, s: signature, m: models })).body
    }

    test('signs a digest of the sorted list, stores it lower-case, sorted, once each; without any the message is the old one', async () => {
      expect(heartbeatMessage(account.address, now)).toBe(`tessera-heartbeat:${account.address.toLowerCase()}:${now}`)
      expect(heartbeatMessage(account.address, now, [a, b])).toMatch(/^tessera-heartbeat:0x[0-9a-f]{40}:\d+:0x[0-9a-f]{64}$/)
      expect(heartbeatMessage(account.address, now, [a, b])).toBe(
        heartbeatMessage(account.address, now, [b, a.toUpperCase() as `0x${string}`, b]),
      )
      const body = await send(now + 1, [a.toUpperCase().replace('0X', '0x') as `0x${string}`, b, b])
      expect(body.errors).toBeUndefined()
      expect(await storedModels()).toEqual([b, a])
      // A heartbeat that reports none (an older agent) holds nothing warm any more.
      expect((await send(now + 2, undefined)).errors).toBeUndefined()
      expect(await storedModels()).toEqual([])
    })

    test('the list is covered by the signature', async () => {
      const body = await send(now + 3, [a, b], [a])
      expect(body.errors?.[0]?.message).toMatch(/not made by/)
      expect((await send(now + 3, [a], [])).errors?.[0]?.message).toMatch(/not made by/)
      expect(await storedModels()).toEqual([])
    })

    test('a model that is not a hash is refused by its index, as is a list past the limit', async () => {
      const body = await send(now + 4, [a, '0x1234', b] as `0x${string}`[])
      expect(body.errors?.[0]?.message).toBe('heartbeat rejected: models[1] "0x1234" is not a model hash (0x and 64 hex digits)')
      expect(body.errors?.[0]?.extensions?.code).toBe('HEARTBEAT_REJECTED')
      const many = Array.from({ length: heartbeatMaxModels + 1 }, (_, i) => `0x${i.toString(16).padStart(64, '0')}` as const)
      expect((await send(now + 4, many)).errors?.[0]?.message).toMatch(/65 models reported, at most 64/)
      expect((await send(now + 4, many.slice(0, heartbeatMaxModels))).errors).toBeUndefined()
      expect(await storedModels()).toHaveLength(heartbeatMaxModels)
    })
  })
})

describe('ops routes', () => {
  test('/deployment, /health, /ready and /metrics', async () => {
    const dep = await yoga.fetch('http://localhost/deployment')
    expect(parseDeployment(await dep.json())).toEqual(deployment)
    expect((await yoga.fetch('http://localhost/health')).status).toBe(200)
    const ready = await yoga.fetch('http://localhost/ready')
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/views schema "chain"/)
    const metrics = await (await yoga.fetch('http://localhost/metrics')).text()
    expect(metrics).toContain('tessera_server_graphql_operations_total')
    expect(metrics).toContain('tessera_server_blob_stored_bytes_total')
  })
})
