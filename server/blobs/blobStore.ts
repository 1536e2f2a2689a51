import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { type FileHandle, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { Kysely } from 'kysely'
import { TesseraError } from '../../protocol/errors.ts'
import { type BlobUploader, deleteExpiredBlob, findBlob, lockBlob, recordBlob, recordUploadAgain } from '../db/blobs.ts'
import type { Database } from '../db/database.ts'

/** Default `TESSERA_MAX_BLOB_BYTES`: 64 MiB. */
export const defaultMaxBlobBytes = 64 * 1024 * 1024

/** Default `TESSERA_BLOB_QUOTA_BYTES`: 1 GiB per account of blobs no job references yet. */
export const defaultBlobQuotaBytes = 1024 * 1024 * 1024

/** An upload larger than the limit. Not retryable. */
export class BlobTooLargeError extends TesseraError {
  override name = 'BlobTooLargeError'
  /** The limit in bytes. */
  readonly limit: number
  constructor(limit: number) {
    super(`blob exceeds the limit of ${limit} bytes (TESSERA_MAX_BLOB_BYTES)`)
    this.limit = limit
  }
}

/** The bytes did not hash to the `x-content-sha256` the client declared. Not retryable as-is. */
export class BlobHashMismatchError extends TesseraError {
  override name = 'BlobHashMismatchError'
  readonly expected: string
  readonly actual: string
  constructor(expected: string, actual: string) {
    super(`x-content-sha256 ${expected} does not match the body's sha256 ${actual}`, { details: `expected ${expected}, got ${actual}` })
    this.expected = expected
    this.actual = actual
  }
}

const sha256Pattern = /^0x[0-9a-f]{64}$/

/**
 * Uploads up to this size are held in memory until hashed: bytes already stored (the second provider's copy of a job's
 * output, say) are then recorded without a temp file written, synced and removed.
 */
const heldBytes = 64 * 1024

/** Default `memoryBytes`: small blobs kept in memory, 32 MiB of them in all. */
export const defaultBlobMemoryBytes = 32 * 1024 * 1024

/** The largest blob kept in memory: inputs, outputs and small models; anything larger is read from its file each time. */
export const memoryBlobBytes = 256 * 1024

/** Normalises a `0x`-prefixed sha256 (any case) or returns undefined when malformed. */
export function parseSha256(value: string): `0x${string}` | undefined {
  const v = value.toLowerCase()
  return sha256Pattern.test(v) ? (v as `0x${string}`) : undefined
}

/** How `put` takes an upload. */
export type PutBlobOptions = {
  /** The sha256 the client declared (`x-content-sha256`): bytes that hash otherwise are refused. */
  expectedSha256?: string
  /** Runs on the complete upload before it is stored; what it throws refuses the blob (nothing is kept). */
  validate?: (file: string, sha256: `0x${string}`) => Promise<void>
  /**
   * Refuse more bytes than this (default the store's `maxBytes`): a caller passes what is left of the uploader's quota,
   * and `put` throws a {@link BlobTooLargeError} naming this limit.
   */
  maxBytes?: number
  /** The account uploading (recorded for quotas and reads); the server's own writes have none. */
  uploader?: BlobUploader
  /** When the upload counts as made (default now): the blob expires a TTL after its last upload unless referenced. */
  at?: Date
  /** What `validate` checked the bytes to be, recorded with them (public models are listed by it). */
  kind?: 'model' | 'input'
}

/** A stored blob's bytes: their size, the file and a stream of it, and the bytes themselves when the store holds them in memory. */
export type StoredBytes = { size: number; file: string; stream: () => NodeJS.ReadableStream; data?: Uint8Array<ArrayBuffer> }

export type BlobStore = {
  /**
   * Streams `body` to a temp file while hashing (a small one is held in memory until hashed, and recorded in one
   * statement when its bytes are already stored), refusing more than `maxBytes`; then, under the blob's lock, records
   * the row (and the uploader's upload) and renames the file into place (atomic). Nothing half-written is ever visible
   * under its hash. `created`: the bytes were not stored before.
   */
  put: (
    body: AsyncIterable<Uint8Array> | null,
    options?: PutBlobOptions,
  ) => Promise<{ sha256: `0x${string}`; size: number; created: boolean }>
  /** The stored blob's size, its file and a byte stream, or undefined when unknown. */
  get: (sha256: `0x${string}`) => Promise<StoredBytes | undefined>
  /** {@link get} for a blob whose record the caller already read: its file alone, undefined when it has none. */
  bytes: (sha256: `0x${string}`) => Promise<StoredBytes | undefined>
  /**
   * Deletes the blob, row and file, if it is still unreferenced and was last uploaded before `cutoff` (the sweep's
   * rule, rechecked under the blob's lock); whether it did.
   */
  deleteExpired: (sha256: string, cutoff: Date) => Promise<boolean>
  dir: string
  maxBytes: number
}

/**
 * The blob store over `<dataDir>/blobs/`. Blobs up to {@link memoryBlobBytes} are also kept in memory once stored or
 * read, the least recently used dropped past `memoryBytes` in all (default {@link defaultBlobMemoryBytes}; 0: none):
 * a job's input is read by each of its providers and its output uploaded by each, and a file system call costs each of
 * them more than the bytes. A blob's bytes never change under its hash, so what memory holds is only ever stale in
 * whether the blob is still stored; every caller asks the database that first (a blob swept by another process is gone
 * from its rows), and this store forgets what it deletes.
 */
export function createBlobStore(parameters: { db: Kysely<Database>; dataDir: string; maxBytes?: number; memoryBytes?: number }): BlobStore {
  const { db } = parameters
  const dir = path.join(parameters.dataDir, 'blobs')
  const tmpDir = path.join(dir, 'tmp')
  const maxBytes = parameters.maxBytes ?? defaultMaxBlobBytes
  const ready = Promise.all([mkdir(tmpDir, { recursive: true })])
  const fileOf = (sha256: string) => path.join(dir, sha256.slice(2))
  const memory = createBlobMemory(parameters.memoryBytes ?? defaultBlobMemoryBytes)
  const inMemory = (sha256: string, data: Uint8Array<ArrayBuffer>): StoredBytes => ({
    size: data.byteLength,
    file: fileOf(sha256),
    stream: () => Readable.from([data], { objectMode: false }),
    data,
  })
  const bytes = async (sha256: string): Promise<StoredBytes | undefined> => {
    const held = memory.get(sha256)
    if (held) return inMemory(sha256, held)
    const file = fileOf(sha256)
    const st = await stat(file).catch(() => undefined)
    if (!st) return undefined
    if (!memory.fits(st.size)) return { size: st.size, file, stream: () => createReadStream(file) }
    const read = await readFile(file).catch(() => undefined)
    if (!read) return undefined
    const data = new Uint8Array(read.buffer, read.byteOffset, read.byteLength)
    memory.set(sha256, data)
    return inMemory(sha256, data)
  }

  return {
    dir,
    maxBytes,
    async put(body, options = {}) {
      await ready
      const limit = Math.min(options.maxBytes ?? maxBytes, maxBytes)
      const tmp = path.join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`)
      const { expectedSha256, validate } = options
      const hash = createHash('sha256')
      let size = 0
      // The body so far while it is small and nothing needs it in a file; then the temp file it went to.
      const held: Uint8Array[] = []
      let file: FileHandle | undefined
      let spilled = false
      const spill = async (): Promise<FileHandle> => {
        spilled = true
        const handle = await open(tmp, 'w')
        file = handle
        for (const chunk of held.splice(0)) await handle.write(chunk)
        return handle
      }
      try {
        if (validate) await spill()
        if (body) {
          for await (const chunk of body) {
            size += chunk.byteLength
            if (size > limit) throw new BlobTooLargeError(limit)
            hash.update(chunk)
            if (file) await file.write(chunk)
            else {
              held.push(chunk)
              if (size > heldBytes) await spill()
            }
          }
        }
      } catch (error) {
        await file?.close().catch(() => {})
        if (spilled) await rm(tmp, { force: true })
        throw error
      }
      const sha256 = `0x${hash.digest('hex')}` as const
      const at = options.at ?? new Date()
      // Bytes already stored, row and file, need neither the lock nor the rename: the upload is recorded in one
      // statement (honest providers of a job upload the same output, popular models come from many accounts).
      const again = async () =>
        (memory.has(sha256) ||
          (await stat(fileOf(sha256)).then(
            () => true,
            () => false,
          ))) &&
        (await recordUploadAgain(db, { sha256, at, uploader: options.uploader, kind: options.kind }))
      // A copy of an upload held whole, to keep once stored (the body's chunks may share a larger buffer).
      const whole = () => {
        const data = new Uint8Array(size)
        let at = 0
        for (const chunk of held) {
          data.set(chunk, at)
          at += chunk.byteLength
        }
        return data
      }
      try {
        if (expectedSha256 !== undefined && expectedSha256.toLowerCase() !== sha256) throw new BlobHashMismatchError(expectedSha256, sha256)
        if (!file && (await again())) {
          if (memory.fits(size)) memory.set(sha256, whole())
          return { sha256, size, created: false }
        }
        const kept = !spilled && memory.fits(size) ? whole() : undefined
        const written = file ?? (await spill())
        await written.sync()
        await written.close()
        file = undefined
        if (validate) {
          await validate(tmp, sha256)
          if (await again()) return { sha256, size, created: false }
        }
        const created = await db.transaction().execute(async (trx) => {
          await lockBlob(trx, sha256)
          const existed = (await findBlob(trx, sha256)) !== undefined && existsSync(fileOf(sha256))
          await recordBlob(trx, {
            sha256,
            size: BigInt(size),
            at,
            uploader: options.uploader,
            kind: options.kind,
          })
          // Identical bytes replace identical bytes: renaming over a stored copy is harmless and keeps row and file together.
          await rename(tmp, fileOf(sha256))
          return !existed
        })
        if (kept) memory.set(sha256, kept)
        return { sha256, size, created }
      } finally {
        await file?.close().catch(() => {})
        if (spilled) await rm(tmp, { force: true })
      }
    },
    async get(sha256) {
      return (await findBlob(db, sha256)) ? bytes(sha256) : undefined
    },
    bytes,
    async deleteExpired(sha256, cutoff) {
      return db.transaction().execute(async (trx) => {
        await lockBlob(trx, sha256)
        if (!(await deleteExpiredBlob(trx, sha256, cutoff))) return false
        memory.delete(sha256)
        await rm(fileOf(sha256), { force: true })
        return true
      })
    },
  }
}

/** Small blobs' bytes by hash (each at most {@link memoryBlobBytes}), least recently used first, at most `limit` bytes in all. */
function createBlobMemory(limit: number) {
  const held = new Map<string, Uint8Array<ArrayBuffer>>()
  let total = 0
  const drop = (sha256: string) => {
    const data = held.get(sha256)
    if (!data) return
    held.delete(sha256)
    total -= data.byteLength
  }
  return {
    /** Whether a blob of `size` bytes is one to keep. */
    fits: (size: number) => size <= memoryBlobBytes && size <= limit,
    has: (sha256: string) => held.has(sha256),
    get(sha256: string): Uint8Array<ArrayBuffer> | undefined {
      const data = held.get(sha256)
      if (!data) return undefined
      held.delete(sha256)
      held.set(sha256, data)
      return data
    },
    set(sha256: string, data: Uint8Array<ArrayBuffer>) {
      drop(sha256)
      held.set(sha256, data)
      total += data.byteLength
      for (const oldest of held.keys()) {
        if (total <= limit) break
        drop(oldest)
      }
    },
    delete: drop,
  }
}
