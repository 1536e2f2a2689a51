import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { deleteExpiredBlob, findBlob, hasUploaded, isBlobPublic, lockBlob, unreferencedUploadBytes } from '../db/blobs.ts'
import { createDb } from '../db/createDb.ts'
import type { Database, Views } from '../db/database.ts'
import { migrateToLatest } from '../db/migrateToLatest.ts'
import { type BlobStore, createBlobStore } from './blobStore.ts'
import { settleUploaderReferences, sweepBlobs } from './sweepBlobs.ts'

// Unreferenced blobs expire: the sweep deletes, row and file, what no job, revealed output or live gateway request
// references a TTL after its last upload, keeps for good what one does, and never deletes bytes uploaded again meanwhile.

const viewsSchema = 'sweep_views'
const ttlSeconds = 24 * 3600
const now = new Date('2027-01-15T12:00:00Z')
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000)
const uploader = '0x00000000000000000000000000000000000000aa' as Address

let database: TestDatabase
let db: Kysely<Database>
let views: Views
let dataDir: string
let store: BlobStore

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  await sql`create schema ${sql.id(viewsSchema)}`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'job')} (id numeric primary key, requester text not null, model_hash text not null,
    input_hash text not null)`.execute(db)
  await sql`create table ${sql.id(viewsSchema, 'assignment')} (id text primary key, job_id numeric not null, provider text not null,
    output_hash text)`.execute(db)
  views = db.withSchema(viewsSchema)
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-sweep-'))
  store = createBlobStore({ db, dataDir })
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

/** Stores `text` as uploaded by {@link uploader} at `at`; its hash. */
async function upload(text: string, at: Date): Promise<Hex> {
  const bytes = new TextEncoder().encode(text)
  await store.put(
    (async function* () {
      yield bytes
    })(),
    { uploader: { address: uploader, public: false }, at },
  )
  return sha256Hex(bytes)
}

const fileExists = (hash: Hex) =>
  access(path.join(store.dir, hash.slice(2))).then(
    () => true,
    () => false,
  )
const sweep = () => sweepBlobs({ db, views, store, ttlSeconds, now })
const gatewayRequest = (id: string, status: 'QUEUED' | 'FAILED', modelHash: Hex, inputHash: Hex) =>
  db
    .insertInto('app.gatewayRequest')
    .values({
      id,
      account: uploader,
      nonce: status === 'QUEUED' ? 1n : 2n,
      kind: 'SUBMIT',
      payload: JSON.stringify({ modelHash, inputHash }),
      signature: '0x00',
      amount: 1n,
      status,
    })
    .execute()

describe('sweepBlobs', () => {
  test('deletes what nothing references a TTL after its last upload, keeps the rest, and counts only the unreferenced in quotas', async () => {
    const old = 25
    const orphan = await upload('orphan', hoursAgo(old))
    const model = await upload('model of a job', hoursAgo(old))
    const input = await upload('input of a job', hoursAgo(old))
    const output = await upload('a revealed output', hoursAgo(old))
    const queued = await upload('input of a queued gateway request', hoursAgo(old))
    const failed = await upload('input of a failed gateway request', hoursAgo(old))
    const young = await upload('uploaded an hour ago', hoursAgo(1))
    const refreshed = await upload('uploaded again since', hoursAgo(old))
    await upload('uploaded again since', hoursAgo(2))
    await sql`insert into ${sql.id(viewsSchema, 'job')} values (1, ${uploader}, ${model}, ${input})`.execute(db)
    await sql`insert into ${sql.id(viewsSchema, 'assignment')} values ('1:p', 1, '0x01', ${output})`.execute(db)
    await gatewayRequest('q', 'QUEUED', model, queued)
    await gatewayRequest('f', 'FAILED', model, failed)
    // An expired nonce and session go too; live ones stay.
    await db
      .insertInto('app.siweNonce')
      .values([
        { nonce: 'expiredNonce1', expiresAt: hoursAgo(1) },
        { nonce: 'liveNonce1', expiresAt: new Date(now.getTime() + 60_000) },
      ])
      .execute()
    await db
      .insertInto('app.session')
      .values({ tokenHash: '0xdead', address: uploader, expiresAt: hoursAgo(1) })
      .execute()

    const swept = await sweep()
    expect(swept.deleted.sort()).toEqual([orphan, failed].sort())
    expect(swept).toMatchObject({ referenced: 4, nonces: 1, sessions: 1 })
    for (const gone of [orphan, failed]) {
      expect(await findBlob(db, gone)).toBeUndefined()
      expect(await fileExists(gone)).toBe(false)
      expect(await store.get(gone)).toBeUndefined()
    }
    for (const kept of [model, input, output, queued, young, refreshed]) {
      expect(await fileExists(kept)).toBe(true)
      expect(await store.get(kept)).toBeDefined()
    }
    // Their uploads went with them; what is referenced is kept for good and left the quota.
    expect(await db.selectFrom('app.blobUpload').select('sha256').where('sha256', 'in', [orphan, failed]).execute()).toEqual([])
    for (const kept of [model, input, output, queued]) expect((await findBlob(db, kept))?.referencedAt).toEqual(now)
    expect(await unreferencedUploadBytes(db, uploader)).toBe(BigInt('uploaded an hour ago'.length + 'uploaded again since'.length))
    expect(await db.selectFrom('app.siweNonce').select('nonce').execute()).toEqual([{ nonce: 'liveNonce1' }])

    // A later sweep, a day on, takes the young and the refreshed ones: nothing uses them either.
    const later = await sweepBlobs({ db, views, store, ttlSeconds, now: new Date(now.getTime() + ttlSeconds * 1000) })
    expect(later.deleted.sort()).toEqual([young, refreshed].sort())
    // A deleted blob can be uploaded again.
    await upload('orphan', now)
    expect(await fileExists(orphan)).toBe(true)
  })

  test('never deletes bytes uploaded again after the sweep chose them', async () => {
    const hash = await upload('re-uploaded in the race', hoursAgo(30))
    const cutoff = hoursAgo(24)
    // The sweep picked it (expired), then an upload of the same bytes landed before its delete.
    await upload('re-uploaded in the race', now)
    expect(await store.deleteExpired(hash, cutoff)).toBe(false)
    expect(await fileExists(hash)).toBe(true)
    expect(await findBlob(db, hash)).toBeDefined()
  })

  test('an upload of stored bytes that meets the sweep mid-delete stores them afresh: row and file stay together', async () => {
    const text = 'raced by the sweep'
    const hash = await upload(text, hoursAgo(30))
    const cutoff = hoursAgo(24)
    // The sweep mid-way, under the blob's lock: the row deleted, not committed, the file still there.
    let rowDeleted!: () => void
    let release!: () => void
    const deleted = new Promise<void>((resolve) => (rowDeleted = resolve))
    const released = new Promise<void>((resolve) => (release = resolve))
    const sweeping = db.transaction().execute(async (trx) => {
      await lockBlob(trx, hash)
      expect(await deleteExpiredBlob(trx, hash, cutoff)).toBe(true)
      rowDeleted()
      await released
      await rm(path.join(store.dir, hash.slice(2)))
    })
    await deleted
    // The upload finds the file and goes to record itself without the lock: the row's lock holds it.
    let uploaded = false
    const again = upload(text, now).then(() => (uploaded = true))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(uploaded).toBe(false)
    release()
    await sweeping
    await again
    expect(await findBlob(db, hash)).toMatchObject({ lastUploadedAt: now })
    expect(await fileExists(hash)).toBe(true)
  })

  test('small uploads are hashed in memory, larger ones through a temp file: stored intact, new or again, and no temp file left', async () => {
    const chunks = (bytes: Uint8Array, size: number) =>
      (async function* () {
        for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size)
      })()
    const large = new Uint8Array(200 * 1024).map((_, i) => (i * 7919) % 251)
    const small = new TextEncoder().encode('a small output, held in memory until hashed')
    const as = { uploader: { address: uploader, public: false }, at: now }
    for (const bytes of [large, small]) {
      expect(await store.put(chunks(bytes, 16 * 1024), as)).toMatchObject({ sha256: sha256Hex(bytes), size: bytes.length, created: true })
      expect(await store.put(chunks(bytes, 1000), as)).toMatchObject({ sha256: sha256Hex(bytes), size: bytes.length, created: false })
      expect(new Uint8Array(await readFile(path.join(store.dir, sha256Hex(bytes).slice(2))))).toEqual(bytes)
    }
    // A declared hash the bytes don't have is refused, held or not, and leaves nothing.
    await expect(store.put(chunks(small, 8), { ...as, expectedSha256: sha256Hex(large) })).rejects.toThrow(/does not match/)
    expect(await readdir(path.join(store.dir, 'tmp'))).toEqual([])
  })

  test('stored bytes uploaded by another account are recorded as its upload too, public and kind included', async () => {
    const bytes = new TextEncoder().encode('uploaded by two accounts')
    const hash = await upload('uploaded by two accounts', hoursAgo(2))
    const other = '0x00000000000000000000000000000000000000bb' as Address
    const body = async function* () {
      yield bytes
    }
    expect(await store.put(body(), { uploader: { address: other, public: true }, at: hoursAgo(1), kind: 'input' })).toMatchObject({
      created: false,
    })
    expect(await hasUploaded(db, hash, other)).toBe(true)
    expect(await isBlobPublic(db, hash)).toBe(true)
    expect(await findBlob(db, hash)).toMatchObject({ kind: 'input', lastUploadedAt: hoursAgo(1) })
  })

  test("settling an uploader's references frees its quota at once", async () => {
    const input = await upload('input settled at upload time', now)
    const before = await unreferencedUploadBytes(db, uploader)
    await sql`insert into ${sql.id(viewsSchema, 'job')} values (2, ${uploader}, ${input}, ${input})`.execute(db)
    await settleUploaderReferences({ db, views, uploader, now })
    expect(await unreferencedUploadBytes(db, uploader)).toBe(before - BigInt('input settled at upload time'.length))
  })
})
