import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { TesseraError } from '../../protocol/errors.ts'
import { findBlob, insertBlob } from '../db/blobs.ts'
import type { Database } from '../db/database.ts'

/** Default `TESSERA_MAX_BLOB_BYTES`: 64 MiB. */
export const defaultMaxBlobBytes = 64 * 1024 * 1024

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

/** Normalises a `0x`-prefixed sha256 (any case) or returns undefined when malformed. */
export function parseSha256(value: string): `0x${string}` | undefined {
  const v = value.toLowerCase()
  return sha256Pattern.test(v) ? (v as `0x${string}`) : undefined
}

export type BlobStore = {
  /**
   * Streams `body` to a temp file while hashing, refusing more than `maxBytes`; then renames it
   * into place (atomic) and records the row. Nothing half-written is ever visible under its hash.
   */
  put: (
    body: AsyncIterable<Uint8Array> | null,
    expectedSha256?: string,
    /** Runs on the complete upload before it is stored; what it throws refuses the blob (nothing is kept). */
    validate?: (file: string, sha256: `0x${string}`) => Promise<void>,
  ) => Promise<{ sha256: `0x${string}`; size: number; created: boolean }>
  /** The stored blob's size, its file and a byte stream, or undefined when unknown. */
  get: (sha256: `0x${string}`) => Promise<{ size: number; file: string; stream: () => NodeJS.ReadableStream } | undefined>
  dir: string
  maxBytes: number
}

export function createBlobStore(parameters: { db: Kysely<Database>; dataDir: string; maxBytes?: number }): BlobStore {
  const dir = path.join(parameters.dataDir, 'blobs')
  const tmpDir = path.join(dir, 'tmp')
  const maxBytes = parameters.maxBytes ?? defaultMaxBlobBytes
  const ready = Promise.all([mkdir(tmpDir, { recursive: true })])
  const fileOf = (sha256: string) => path.join(dir, sha256.slice(2))

  return {
    dir,
    maxBytes,
    async put(body, expectedSha256, validate) {
      await ready
      const tmp = path.join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`)
      const file = await open(tmp, 'w')
      const hash = createHash('sha256')
      let size = 0
      try {
        if (body) {
          for await (const chunk of body) {
            size += chunk.byteLength
            if (size > maxBytes) throw new BlobTooLargeError(maxBytes)
            hash.update(chunk)
            await file.write(chunk)
          }
        }
        await file.sync()
      } catch (error) {
        await file.close().catch(() => {})
        await rm(tmp, { force: true })
        throw error
      }
      await file.close()
      const sha256 = `0x${hash.digest('hex')}` as const
      if (expectedSha256 !== undefined && expectedSha256.toLowerCase() !== sha256) {
        await rm(tmp, { force: true })
        throw new BlobHashMismatchError(expectedSha256, sha256)
      }
      if (validate)
        await validate(tmp, sha256).catch(async (error: unknown) => {
          await rm(tmp, { force: true })
          throw error
        })
      const existing = await findBlob(parameters.db, sha256)
      if (existing && existsSync(fileOf(sha256))) {
        await rm(tmp, { force: true })
        return { sha256, size, created: false }
      }
      await rename(tmp, fileOf(sha256))
      await insertBlob(parameters.db, { sha256, size: BigInt(size) })
      return { sha256, size, created: true }
    },
    async get(sha256) {
      const row = await findBlob(parameters.db, sha256)
      if (!row) return undefined
      const file = fileOf(sha256)
      const st = await stat(file).catch(() => undefined)
      if (!st) return undefined
      return { size: st.size, file, stream: () => createReadStream(file) }
    },
  }
}
