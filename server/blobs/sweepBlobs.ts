import type { Kysely } from 'kysely'
import type { Address } from 'viem'
import { findExpiredBlobs, findReferencedHashes, findUnreferencedUploads, markBlobsReferenced } from '../db/blobs.ts'
import type { Database, Views } from '../db/database.ts'
import { deleteExpiredAuth } from '../db/sessions.ts'
import type { BlobStore } from './blobStore.ts'

/** Default `TESSERA_BLOB_TTL_SECONDS`: a day, twice the longest a challenge round spreads its jobs on a 1-day epoch. */
export const defaultBlobTtlSeconds = 24 * 60 * 60

/** Blobs the sweep looks at per pass. */
const defaultBatchSize = 500

export type SweepBlobsReturnType = {
  /** Blobs deleted: unreferenced, last uploaded more than the TTL ago. */
  deleted: string[]
  /** Old blobs found referenced, now kept for good. */
  referenced: number
  /** Expired SIWE nonces and sessions deleted. */
  nonces: number
  sessions: number
}

/**
 * One pass of the blob sweep (the leader runs it on a timer): of the blobs no job was yet seen to reference whose last
 * upload is more than `ttlSeconds` before `now`, oldest first and at most `batchSize`, those a job, an output or a live
 * gateway request references (`findReferencedHashes`) are marked referenced and kept for good; the rest are deleted,
 * row and file, each under its lock and only if still expired (an upload meanwhile saves it). Expired SIWE nonces and
 * sessions go too. Run it only while the indexed data is fresh: a job the index hasn't seen doesn't protect its blobs.
 */
export async function sweepBlobs(parameters: {
  db: Kysely<Database>
  views: Views
  store: Pick<BlobStore, 'deleteExpired'>
  ttlSeconds: number
  now: Date
  batchSize?: number
}): Promise<SweepBlobsReturnType> {
  const { db, views, store, now } = parameters
  const cutoff = new Date(now.getTime() - parameters.ttlSeconds * 1000)
  const candidates = await findExpiredBlobs(db, cutoff, parameters.batchSize ?? defaultBatchSize)
  const referenced = await findReferencedHashes(views, candidates)
  await markBlobsReferenced(db, referenced, now)
  const deleted: string[] = []
  for (const sha256 of candidates) if (!referenced.has(sha256) && (await store.deleteExpired(sha256, cutoff))) deleted.push(sha256)
  const auth = await deleteExpiredAuth(db, now)
  return { deleted, referenced: referenced.size, ...auth }
}

/**
 * Marks referenced the blobs `uploader` holds that a job now references, so they leave its quota at once rather than
 * at the next sweep: what an upload does before refusing an account over its quota.
 */
export async function settleUploaderReferences(parameters: {
  db: Kysely<Database>
  views: Views
  uploader: Address
  now: Date
}): Promise<void> {
  const { db, views, uploader, now } = parameters
  const referenced = await findReferencedHashes(views, await findUnreferencedUploads(db, uploader))
  await markBlobsReferenced(db, referenced, now)
}
