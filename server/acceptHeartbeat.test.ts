import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import { type Hex, hexToBigInt, numberToHex, verifyMessage } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { heartbeatMaxModels, heartbeatMessage } from '../protocol/heartbeat.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { fixtureDeployment } from '../test/support/deployment.ts'
import { createYoga } from './createYoga.ts'
import { createDb } from './db/createDb.ts'
import type { Database } from './db/database.ts'
import { findLiveProviders } from './db/heartbeats.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'

// The heartbeat mutation through yoga.fetch, against a views schema holding only the indexer's `provider` table: each
// way a heartbeat can be wrong is refused with a message naming it, and writes nothing.

const viewsSchema = 'heartbeat_views'
const { chainId } = fixtureDeployment
/** The host `yoga.fetch('http://localhost/graphql')` is addressed to: the domain when none is configured. */
const domain = 'localhost'
const registered = privateKeyToAccount(devKeys[2])
const paused = privateKeyToAccount(devKeys[3])
const stakedOnly = privateKeyToAccount(devKeys[4])
const unknown = privateKeyToAccount(devKeys[5])
const configured = 'api.tessera.example'

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']
/** The same server with its domain configured. */
let configuredYoga: ReturnType<typeof createYoga>['yoga']
/** Server time (unix s); each test starts 1000 s after the last, so each has timestamps of its own. */
let clock = 1_800_000_000

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  await sql`create schema ${sql.id(viewsSchema)}`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'provider')} (
    address text primary key, gpu_model numeric not null default 0, gpu_count integer not null default 0,
    vram_mib numeric not null default 0, cpu_cores integer not null default 0, memory_mib numeric not null default 0,
    benchmark_score numeric not null default 0, price_per_unit numeric not null default 0, region text not null default '0x',
    encryption_pub_key text, registered boolean not null, paused boolean not null, stake numeric not null default 0,
    locked numeric not null default 0, pending_unstake numeric not null default 0, unstake_available_at numeric,
    slashed_total numeric not null default 0, earned_total numeric not null default 0,
    jobs_completed integer not null default 0, jobs_failed integer not null default 0, slash_count integer not null default 0,
    no_show_count integer not null default 0, challenges_passed integer not null default 0,
    challenges_failed integer not null default 0, attested_capacity numeric not null default 0, last_challenged_at numeric,
    registered_at numeric, registered_block numeric, updated_block numeric not null default 0)`.execute(db)
  for (const [account, standing] of [
    [registered, { registered: true, paused: false }],
    [paused, { registered: true, paused: true }],
    // Staked without registering: the indexer keeps a row for it.
    [stakedOnly, { registered: false, paused: false }],
  ] as const)
    await db
      .withSchema(viewsSchema)
      .insertInto('provider')
      .values({ address: account.address.toLowerCase(), ...standing } as never)
      .execute()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-heartbeat-'))
  const common = { db, viewsSchema, deployment: fixtureDeployment, dataDir, now: () => clock }
  yoga = createYoga(common).yoga
  configuredYoga = createYoga({ ...common, domain: configured.toUpperCase() }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

beforeEach(() => {
  clock += 1000
})

type HeartbeatResponse = { data?: { heartbeat?: boolean } | null; errors?: { message: string; extensions?: { code?: string } }[] }

const withModels =
  'mutation($p: Address!, $t: Int!, $s: String!, $m: [String!]) { heartbeat(provider: $p, timestamp: $t, signature: $s, models: $m) }'

/** Posts the heartbeat mutation to `server` and returns the answer's body. */
async function post(variables: { p: string; t: number; s: string; m?: readonly string[] }, server = yoga): Promise<HeartbeatResponse> {
  const res = await server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: withModels, variables }),
  })
  return (await res.json()) as HeartbeatResponse
}

type SignedFor = { account?: PrivateKeyAccount; timestamp?: number; models?: readonly Hex[]; chainId?: number; domain?: string }

/** A heartbeat message (default: `registered`'s, for now, this chain and `localhost`) and its signature. */
async function sign(parameters: SignedFor = {}) {
  const { account = registered, timestamp = clock, models } = parameters
  const message = heartbeatMessage({
    chainId: parameters.chainId ?? chainId,
    domain: parameters.domain ?? domain,
    provider: account.address,
    timestamp,
    models,
  })
  return { message, signature: await account.signMessage({ message }) }
}

/** Signs as `sign` does and sends it, reporting `models` (default: those signed). */
async function send(parameters: SignedFor & { reported?: readonly string[] } = {}, server = yoga): Promise<HeartbeatResponse> {
  const { account = registered, timestamp = clock } = parameters
  const { signature } = await sign(parameters)
  return post({ p: account.address, t: timestamp, s: signature, m: parameters.reported ?? parameters.models }, server)
}

/** The stored heartbeat of `account`, if any. */
const stored = (account = registered) =>
  db.selectFrom('app.heartbeat').selectAll().where('provider', '=', account.address.toLowerCase()).executeTakeFirst()

/** Expects `body` to be a refusal whose message matches `message`. */
function expectRejected(body: HeartbeatResponse, message: RegExp | string) {
  expect(body.data?.heartbeat).toBeUndefined()
  expect(body.errors?.[0]?.extensions?.code).toBe('HEARTBEAT_REJECTED')
  if (typeof message === 'string') expect(body.errors?.[0]?.message).toBe(message)
  else expect(body.errors?.[0]?.message).toMatch(message)
}

describe('a valid heartbeat', () => {
  test('is accepted, recorded, and shows the provider live to the API and the matcher', async () => {
    const body = await send()
    expect(body.errors).toBeUndefined()
    expect(body.data?.heartbeat).toBe(true)
    const row = await stored()
    expect(row?.timestamp).toBe(String(clock))
    expect(row?.lastSeen.getTime()).toBe(clock * 1000)
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        query: 'query($a: Address!) { provider(address: $a) { live lastHeartbeatAt } }',
        variables: { a: registered.address },
      }),
    })
    expect(((await res.json()) as { data: unknown }).data).toEqual({ provider: { live: true, lastHeartbeatAt: String(clock) } })
    // What matchJobs weighs (findCandidateProviders): live, holding nothing warm.
    expect((await findLiveProviders(db, clock)).get(registered.address.toLowerCase())).toEqual([])
  })

  test('a timestamp up to 5 s ahead of server time or 60 s behind it is accepted', async () => {
    expect((await send({ timestamp: clock - 60 })).errors).toBeUndefined()
    expect((await send({ timestamp: clock + 5 })).errors).toBeUndefined()
  })
})

describe('replays', () => {
  test('an exact replay of the accepted heartbeat is refused, and so is an older timestamp; nothing is written', async () => {
    const accepted = await sign()
    expect((await post({ p: registered.address, t: clock, s: accepted.signature })).errors).toBeUndefined()
    const before = await stored()
    clock += 10
    expectRejected(
      await post({ p: registered.address, t: clock - 10, s: accepted.signature }),
      `heartbeat rejected: timestamp ${clock - 10} is not after ${clock - 10}, the last accepted from ${registered.address} (a replay, or sent too soon)`,
    )
    // Validly signed, and within the allowance, but older than the last accepted.
    expectRejected(await send({ timestamp: clock - 11 }), /timestamp \d+ is not after \d+, the last accepted/)
    // Server time moved on: had either been written, lastSeen would say so.
    expect(await stored()).toEqual(before)
    expect((await send()).errors).toBeUndefined()
  })

  test('of the same heartbeat sent many times at once, exactly one is accepted', async () => {
    const { signature } = await sign()
    const bodies = await Promise.all(Array.from({ length: 8 }, () => post({ p: registered.address, t: clock, s: signature })))
    expect(bodies.filter((b) => b.data?.heartbeat === true)).toHaveLength(1)
    for (const b of bodies.filter((b) => !b.data?.heartbeat)) expectRejected(b, /is not after/)
  })
})

describe('the clock', () => {
  test('a timestamp more than 5 s ahead of server time is refused, so it cannot hold off later heartbeats', async () => {
    expectRejected(
      await send({ timestamp: clock + 6 }),
      `heartbeat rejected: timestamp ${clock + 6} is more than 5 s ahead of server time ${clock}`,
    )
    expect(await stored()).not.toMatchObject({ timestamp: String(clock + 6) })
    expect((await send()).errors).toBeUndefined()
  })

  test('a timestamp more than 60 s behind server time is refused', async () => {
    expectRejected(
      await send({ timestamp: clock - 61 }),
      `heartbeat rejected: timestamp ${clock - 61} is more than 60 s behind server time ${clock}`,
    )
  })
})

describe('signatures', () => {
  test('a high-s signature is refused, though it recovers to the provider', async () => {
    const { message, signature } = await sign()
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const s = hexToBigInt(`0x${signature.slice(66, 130)}`)
    const v = Number.parseInt(signature.slice(130), 16)
    const high = `${signature.slice(0, 66)}${numberToHex(n - s, { size: 32 }).slice(2)}${(v === 27 ? 28 : 27).toString(16)}` as Hex
    expect(await verifyMessage({ address: registered.address, message, signature: high })).toBe(true)
    expectRejected(
      await post({ p: registered.address, t: clock, s: high }),
      'heartbeat rejected: signature has a high s (over secp256k1n/2): sign with low s (EIP-2)',
    )
    expect(await stored()).not.toMatchObject({ timestamp: String(clock) })
  })

  test('a signature by another key, over another timestamp, or malformed is refused', async () => {
    const byOther = await paused.signMessage({ message: (await sign()).message })
    expectRejected(await post({ p: registered.address, t: clock, s: byOther }), /signature was not made by 0x/)
    const earlier = await sign({ timestamp: clock - 1 })
    expectRejected(await post({ p: registered.address, t: clock, s: earlier.signature }), /not made by/)
    expectRejected(await post({ p: registered.address, t: clock, s: '0x1234' }), /65-byte/)
    expectRejected(await post({ p: registered.address, t: clock, s: `0x${'00'.repeat(65)}` }), /not an r, s, v signature/)
  })

  test('a heartbeat signed for another chain or another domain, or in the old format, is refused naming what is expected', async () => {
    const expected = `"tessera-heartbeat:${chainId}:localhost:${registered.address.toLowerCase()}:${clock}"`
    const naming = `heartbeat rejected: signature was not made by ${registered.address} over ${expected} (this server's chain id is ${chainId}, its domain localhost)`
    expectRejected(await send({ chainId: 1 }), naming)
    expectRejected(await send({ domain: 'evil.example' }), naming)
    expectRejected(await send({ domain: 'localhost:4000' }), naming)
    const old = await registered.signMessage({ message: `tessera-heartbeat:${registered.address.toLowerCase()}:${clock}` })
    expectRejected(await post({ p: registered.address, t: clock, s: old }), naming)
    expect(await stored()).not.toMatchObject({ timestamp: String(clock) })
  })

  test('with a domain configured, that one is required whatever host the request names', async () => {
    expectRejected(await send({}, configuredYoga), new RegExp(`its domain ${configured.replaceAll('.', '\\.')}\\)$`))
    expect((await send({ domain: configured }, configuredYoga)).errors).toBeUndefined()
  })
})

describe('providers', () => {
  test('a key the indexed data does not hold as a registered provider is refused', async () => {
    for (const account of [unknown, stakedOnly]) {
      expectRejected(
        await send({ account }),
        `heartbeat rejected: ${account.address} is not a registered provider (or its registration is not indexed yet)`,
      )
      expect(await stored(account)).toBeUndefined()
    }
  })

  test('a paused provider is refused', async () => {
    expectRejected(await send({ account: paused }), `heartbeat rejected: provider ${paused.address} is paused: unpause it to heartbeat`)
    expect(await stored(paused)).toBeUndefined()
  })
})

describe('with the models the agent holds warm', () => {
  const a = `0x${'aa'.repeat(32)}` as const
  const b = `0x${'0b'.repeat(32)}` as const
  const storedModels = async () => (await stored())?.models

  test('signs a digest of the sorted list, stores it lower-case, sorted, once each; without any the message has none', async () => {
    const message = (models?: readonly Hex[]) =>
      heartbeatMessage({ chainId, domain, provider: registered.address, timestamp: clock, models })
    expect(message()).toBe(`tessera-heartbeat:${chainId}:${domain}:${registered.address.toLowerCase()}:${clock}`)
    expect(message([a, b])).toMatch(/^tessera-heartbeat:31337:localhost:0x[0-9a-f]{40}:\d+:0x[0-9a-f]{64}$/)
    expect(message([a, b])).toBe(message([b, a.toUpperCase() as Hex, b]))
    const body = await send({ models: [a.toUpperCase().replace('0X', '0x') as Hex, b, b] })
    expect(body.errors).toBeUndefined()
    expect(await storedModels()).toEqual([b, a])
    // A heartbeat that reports none holds nothing warm any more.
    expect((await send({ timestamp: clock + 1 })).errors).toBeUndefined()
    expect(await storedModels()).toEqual([])
  })

  test('the list is covered by the signature', async () => {
    expectRejected(await send({ models: [a], reported: [a, b] }), /not made by/)
    expectRejected(await send({ models: [], reported: [a] }), /not made by/)
    expect(await storedModels()).toEqual([])
  })

  test('a model that is not a hash is refused by its index, as is a list past the limit', async () => {
    expectRejected(
      await send({ models: [a, '0x1234', b] as Hex[] }),
      'heartbeat rejected: models[1] "0x1234" is not a model hash (0x and 64 hex digits)',
    )
    const many = Array.from({ length: heartbeatMaxModels + 1 }, (_, i) => `0x${i.toString(16).padStart(64, '0')}` as const)
    expectRejected(await send({ models: many }), /65 models reported, at most 64/)
    expect((await send({ models: many.slice(0, heartbeatMaxModels) })).errors).toBeUndefined()
    expect(await storedModels()).toHaveLength(heartbeatMaxModels)
  })
})
