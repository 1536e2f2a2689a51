import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { findBlob } from '../db/blobs.ts'
import { createDb } from '../db/createDb.ts'
import type { Database } from '../db/database.ts'
import { migrateToLatest } from '../db/migrateToLatest.ts'
import { type BlobStore, createBlobStore, memoryBlobBytes } from './blobStore.ts'

// Small blobs are served from memory once stored or read: what a job's providers fetch and upload costs no file system
// call. Memory holds at most its budget, least recently used out first, forgets what the store deletes, and never
// answers for a blob the database no longer has.

const uploader = '0x00000000000000000000000000000000000000bb' as Address

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-blob-store-'))
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

let stores = 0
/** A store over a folder of its own (so one test's files are not another's), on the shared database. */
const storeOf = (memoryBytes?: number) => createBlobStore({ db, dataDir: path.join(dataDir, `store-${stores++}`), memoryBytes })

/** Uploads `bytes` in `chunks` pieces; its hash. */
async function put(store: BlobStore, bytes: Uint8Array, chunks = 1): Promise<Hex> {
  const size = Math.ceil(bytes.length / chunks)
  const { sha256 } = await store.put(
    (async function* () {
      for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size)
    })(),
    { uploader: { address: uploader, public: false } },
  )
  return sha256
}

/** Removes a blob's file behind the store's back: what it still answers then comes from memory. */
const removeFile = (store: BlobStore, hash: Hex) => rm(path.join(store.dir, hash.slice(2)))
const filled = (size: number, value: number) => new Uint8Array(size).fill(value)

const readAll = async (stream: NodeJS.ReadableStream) => {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array))
  return new Uint8Array(Buffer.concat(chunks))
}

describe('small blobs in memory', () => {
  test('an upload of a small blob is served from memory, whole, as bytes and as a stream, whatever its chunks', async () => {
    const store = storeOf()
    const bytes = filled(3000, 7)
    const hash = await put(store, bytes, 3)
    await removeFile(store, hash)
    const held = await store.bytes(hash)
    expect(held?.size).toBe(3000)
    expect(held?.data).toEqual(bytes)
    expect(await readAll(held?.stream() as NodeJS.ReadableStream)).toEqual(bytes)
    // Without memory the same store answers from the file alone, and the file is gone.
    const bare = storeOf(0)
    const other = filled(3000, 8)
    const otherHash = await put(bare, other)
    expect((await bare.bytes(otherHash))?.data).toBeUndefined()
    await removeFile(bare, otherHash)
    expect(await bare.bytes(otherHash)).toBeUndefined()
  })

  test('the copy kept is its own: changing the uploaded chunks afterwards changes nothing served', async () => {
    const store = storeOf()
    const bytes = filled(100, 1)
    const { sha256 } = await store.put(
      (async function* () {
        yield bytes
      })(),
      { uploader: { address: uploader, public: false } },
    )
    bytes.fill(9)
    expect((await store.bytes(sha256))?.data).toEqual(filled(100, 1))
  })

  test('a blob read from its file is kept for the next read; one over the size limit never is', async () => {
    const writer = storeOf(0)
    const small = filled(2000, 3)
    const large = filled(memoryBlobBytes + 1, 4)
    const [smallHash, largeHash] = [await put(writer, small), await put(writer, large)]
    const reader = createBlobStore({ db, dataDir: path.dirname(writer.dir) })
    expect((await reader.bytes(smallHash))?.data).toEqual(small)
    expect((await reader.bytes(largeHash))?.data).toBeUndefined()
    await removeFile(writer, smallHash)
    await removeFile(writer, largeHash)
    expect((await reader.bytes(smallHash))?.data).toEqual(small)
    expect(await reader.bytes(largeHash)).toBeUndefined()
  })

  test('memory holds at most its budget, the least recently used blob out first', async () => {
    const store = storeOf(3 * 1000)
    const blobs = [1, 2, 3].map((i) => filled(1000, 20 + i))
    const hashes: Hex[] = []
    for (const b of blobs) hashes.push(await put(store, b))
    // Reading the first makes the second the oldest; a fourth blob then pushes the second out.
    await store.bytes(hashes[0] as Hex)
    const fourth = await put(store, filled(1000, 24))
    for (const hash of [...hashes, fourth]) await removeFile(store, hash)
    expect((await store.bytes(hashes[0] as Hex))?.data).toEqual(blobs[0])
    expect(await store.bytes(hashes[1] as Hex)).toBeUndefined()
    expect((await store.bytes(hashes[2] as Hex))?.data).toEqual(blobs[2])
    expect((await store.bytes(fourth))?.data).toEqual(filled(1000, 24))
  })

  test('a blob the store deletes is forgotten, and one swept by another process is not served: get asks the database', async () => {
    const store = storeOf()
    const expired = filled(500, 5)
    const hash = await put(store, expired)
    expect(await store.deleteExpired(hash, new Date(Date.now() + 60_000))).toBe(true)
    expect(await store.bytes(hash)).toBeUndefined()
    // Another process's sweep: the row goes, this store's memory still holds the bytes.
    const swept = filled(500, 6)
    const sweptHash = await put(store, swept)
    const elsewhere = createBlobStore({ db, dataDir: path.dirname(store.dir) })
    expect(await elsewhere.deleteExpired(sweptHash, new Date(Date.now() + 60_000))).toBe(true)
    expect(await findBlob(db, sweptHash)).toBeUndefined()
    expect(await store.get(sweptHash)).toBeUndefined()
    // Uploaded again there, memory doesn't stand in for the row or the file: both are written again.
    const again = await store.put(
      (async function* () {
        yield swept
      })(),
      { uploader: { address: uploader, public: false } },
    )
    expect(again.created).toBe(true)
    expect(await findBlob(db, sweptHash)).toBeDefined()
    expect(sha256Hex(new Uint8Array(await readAll((await elsewhere.bytes(sweptHash))?.stream() as NodeJS.ReadableStream)))).toBe(sweptHash)
  })
})
