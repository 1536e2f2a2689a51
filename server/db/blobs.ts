import { type Expression, type ExpressionBuilder, expressionBuilder, type Kysely, type QueryCreator, type SqlBool, sql } from 'kysely'
import type { Address } from 'viem'
import { toBigInt } from './convert.ts'
import { runPrepared } from './createDb.ts'
import type { Database, Views } from './database.ts'

/** A stored blob's record; the bytes live under `<dataDir>/blobs/`. */
export type StoredBlob = {
  sha256: string
  size: bigint
  createdAt: Date
  lastUploadedAt: Date
  referencedAt: Date | null
  kind: 'model' | 'input' | null
}

/** Who stored a blob: an account and whether it made the blob public. The server's own writes have none. */
export type BlobUploader = { address: Address; public: boolean }

/**
 * Records a stored blob as uploaded at `at` (or keeps the row, moving `lastUploadedAt` on), `kind` once checked as one, and, with `uploader`, that
 * account's upload of it: its latest upload says whether the blob is public as far as this account goes.
 */
export async function recordBlob(
  db: Kysely<Database>,
  blob: { sha256: string; size: bigint; at: Date; uploader?: BlobUploader; kind?: 'model' | 'input' },
): Promise<void> {
  await db
    .insertInto('app.blob')
    .values({ sha256: blob.sha256, size: blob.size.toString(), lastUploadedAt: blob.at, kind: blob.kind ?? null })
    .onConflict((oc) =>
      oc.column('sha256').doUpdateSet({
        lastUploadedAt: sql`greatest(app.blob.last_uploaded_at, excluded.last_uploaded_at)`,
        // Checked once as a kind, the bytes stay that kind: an upload without one doesn't unsay it.
        kind: sql`coalesce(excluded.kind, app.blob.kind)`,
      }),
    )
    .execute()
  if (!blob.uploader) return
  await db
    .insertInto('app.blobUpload')
    .values({
      sha256: blob.sha256,
      uploader: blob.uploader.address.toLowerCase() as Address,
      size: blob.size.toString(),
      public: blob.uploader.public,
      uploadedAt: blob.at,
    })
    .onConflict((oc) =>
      oc
        .columns(['sha256', 'uploader'])
        .doUpdateSet((eb) => ({ public: eb.ref('excluded.public'), uploadedAt: eb.ref('excluded.uploadedAt') })),
    )
    .execute()
}

/**
 * Records another upload of a blob already stored, in one statement and without the blob's lock: moves
 * `lastUploadedAt` on (and records `kind`, as {@link recordBlob} does) and, with `uploader`, that account's upload.
 * False, with nothing written, when the row is gone (the sweep deleted it): the caller stores the bytes afresh under
 * the lock. The update's row lock orders it with the sweep's delete, which rechecks the upload time after it.
 */
export async function recordUploadAgain(
  db: Kysely<Database>,
  blob: { sha256: string; at: Date; uploader?: BlobUploader; kind?: 'model' | 'input' },
): Promise<boolean> {
  const touch = db
    .updateTable('app.blob')
    .set({
      lastUploadedAt: sql`greatest(last_uploaded_at, ${blob.at})`,
      kind: sql`coalesce(${blob.kind ?? null}::text, kind)`,
    })
    .where('sha256', '=', blob.sha256)
  const { uploader } = blob
  if (!uploader) return (await touch.returning('sha256').execute()).length > 0
  const rows = await db
    .with('touched', () => touch.returning(['sha256', 'size']))
    .insertInto('app.blobUpload')
    .columns(['sha256', 'uploader', 'size', 'public', 'uploadedAt'])
    .expression((eb) =>
      eb
        .selectFrom('touched')
        .select([
          'touched.sha256',
          sql<Address>`${uploader.address.toLowerCase()}::text`.as('uploader'),
          'touched.size',
          sql<boolean>`${uploader.public}::boolean`.as('public'),
          sql<Date>`${blob.at}::timestamptz`.as('uploadedAt'),
        ]),
    )
    .onConflict((oc) =>
      oc
        .columns(['sha256', 'uploader'])
        .doUpdateSet((eb) => ({ public: eb.ref('excluded.public'), uploadedAt: eb.ref('excluded.uploadedAt') })),
    )
    .returning('sha256')
    .execute()
  return rows.length > 0
}

/** The record of a stored blob, if there is one. */
export async function findBlob(db: Kysely<Database>, sha256: string): Promise<StoredBlob | undefined> {
  const row = await db.selectFrom('app.blob').selectAll().where('sha256', '=', sha256).executeTakeFirst()
  return row && { ...row, size: toBigInt(row.size) }
}

/** Of `hashes` (0x lower-case sha256), those with a stored blob. */
export async function findStoredBlobs(db: Kysely<Database>, hashes: readonly string[]): Promise<Set<string>> {
  if (!hashes.length) return new Set()
  const rows = await db
    .selectFrom('app.blob')
    .select('sha256')
    .where('sha256', 'in', [...new Set(hashes)])
    .execute()
  return new Set(rows.map((r) => r.sha256))
}

/** Whether any uploader of the blob made it public. */
export async function isBlobPublic(db: Kysely<Database>, sha256: string): Promise<boolean> {
  const row = await db
    .selectFrom('app.blobUpload')
    .select('sha256')
    .where('sha256', '=', sha256)
    .where('public', '=', true)
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

/** A blob as a session's account asks to read or upload it (`findBlobForSession`). */
export type BlobForSession = {
  blob: StoredBlob | undefined
  /** Whether any uploader made it public. */
  public: boolean
  /** The session's account, while the session lasts, and whether it uploaded the blob itself. */
  session: { address: Address; uploaded: boolean } | undefined
  /**
   * Asked for (`jobParty`), of a stored blob neither public nor uploaded by the session's account: whether that account
   * is a party to an indexed job that references it ({@link isBlobJobParty}). Undefined otherwise: nothing more to know.
   */
  jobParty?: boolean
}

/**
 * What a read or an upload of blob `sha256` under the session whose token hashes to `tokenHash` needs from the app's
 * tables, in one statement: the blob's record, whether it is public, the session's account (while it lasts at `now`), and whether that
 * account uploaded the blob. What {@link findBlob}, {@link isBlobPublic}, `findSessionAccount` and {@link hasUploaded}
 * answer one statement each. With `jobParty`, a read's last question too, in the same statement: whether the account is a
 * party to a job of the blob, where that decides (`db` is then the views' query creator, whose tables it also reads).
 * Where the indexer's views don't exist yet, the answer comes without it (the caller asks {@link isBlobJobParty}).
 */
export async function findBlobForSession(
  db: QueryCreator<Database>,
  parameters: { sha256: string; tokenHash: string; now: Date; jobParty?: boolean },
): Promise<BlobForSession> {
  if (parameters.jobParty)
    try {
      return await blobForSession(db, parameters, true)
    } catch (error) {
      if ((error as { code?: unknown }).code !== undefinedTable) throw error
    }
  return blobForSession(db, parameters, false)
}

/** Postgres's `undefined_table`: the indexer hasn't created its views yet. */
const undefinedTable = '42P01'

/** The query creators whose session lookups (without and with the job-party test) are marked to run prepared. */
const preparedLookups = new WeakMap<QueryCreator<Database>, [boolean, boolean]>()

async function blobForSession(
  db: QueryCreator<Database>,
  parameters: { sha256: string; tokenHash: string; now: Date },
  jobParty: boolean,
): Promise<BlobForSession> {
  const { sha256, tokenHash, now } = parameters
  const query = db
    .selectFrom(sql<{ one: number }>`(select 1 as one)`.as('one'))
    .leftJoin('app.blob as b', (join) => join.on('b.sha256', '=', sha256))
    .leftJoin('app.session as s', (join) => join.on('s.tokenHash', '=', tokenHash).on('s.expiresAt', '>', now))
    .select((eb) => [
      'b.sha256',
      'b.size',
      'b.createdAt',
      'b.lastUploadedAt',
      'b.referencedAt',
      'b.kind',
      's.address',
      eb
        .exists(eb.selectFrom('app.blobUpload as u').select('u.sha256').where('u.sha256', '=', sha256).where('u.public', '=', true))
        .as('public'),
      eb
        .exists(
          eb.selectFrom('app.blobUpload as u').select('u.sha256').where('u.sha256', '=', sha256).whereRef('u.uploader', '=', 's.address'),
        )
        .as('uploaded'),
      // Only where it decides: the blob stored, the session live, neither public nor the reader's own upload.
      (jobParty
        ? sql<boolean | null>`case when b.sha256 is not null and s.address is not null
            and not exists (select 1 from app.blob_upload u where u.sha256 = ${sha256} and (u.public or u.uploader = s.address))
            then ${blobJobPartyOf(sha256, sql.ref<Address>('s.address'))} end`
        : sql<boolean | null>`null`
      ).as('jobParty'),
    ])
  // Every blob read and agent upload asks it, and its views and subqueries took Postgres longer to plan than to run.
  const marked = preparedLookups.get(db) ?? [false, false]
  if (!marked[Number(jobParty)]) {
    runPrepared(query.compile())
    marked[Number(jobParty)] = true
    preparedLookups.set(db, marked)
  }
  const row = await query.executeTakeFirstOrThrow()
  const blob =
    row.sha256 === null || row.size === null || row.createdAt === null || row.lastUploadedAt === null
      ? undefined
      : {
          sha256: row.sha256,
          size: toBigInt(row.size),
          createdAt: row.createdAt,
          lastUploadedAt: row.lastUploadedAt,
          referencedAt: row.referencedAt,
          kind: row.kind,
        }
  return {
    blob,
    public: Boolean(row.public),
    session: row.address === null ? undefined : { address: row.address, uploaded: Boolean(row.uploaded) },
    jobParty: row.jobParty ?? undefined,
  }
}

/** Whether `uploader` has uploaded the blob itself. */
export async function hasUploaded(db: QueryCreator<Database>, sha256: string, uploader: Address): Promise<boolean> {
  const row = await db
    .selectFrom('app.blobUpload')
    .select('sha256')
    .where('sha256', '=', sha256)
    .where('uploader', '=', uploader.toLowerCase() as Address)
    .executeTakeFirst()
  return row !== undefined
}

/**
 * Whether `reader` may read the (non-public) blob: it uploaded it, or it is a party to an indexed job that references
 * it ({@link isBlobJobParty}).
 */
export async function mayReadBlob(views: Views, parameters: { sha256: string; reader: Address }): Promise<boolean> {
  // Its uploaders first: that needs only the app's tables (the indexer's views may not be there yet), and answers most
  // reads (an agent's own outputs).
  return (await hasUploaded(views, parameters.sha256.toLowerCase(), parameters.reader)) || isBlobJobParty(views, parameters)
}

/**
 * Whether `reader` is a party to an indexed job that references the blob as model, input or a revealed output. A
 * job's parties are its requester, the account whose gateway request became it (a gateway job's requester on chain is
 * the gateway) and every provider ever assigned to it (any round, audits and tie-breaks included).
 */
export async function isBlobJobParty(views: Views, parameters: { sha256: string; reader: Address }): Promise<boolean> {
  const reader = parameters.reader.toLowerCase() as Address
  const row = await views.selectNoFrom(blobJobPartyOf(parameters.sha256, sql.val(reader)).as('allowed')).executeTakeFirstOrThrow()
  return Boolean(row.allowed)
}

/**
 * {@link isBlobJobParty}'s question as an expression over the views' tables, for `reader` (lower-case): a value, or a
 * column of the statement it goes in.
 */
function blobJobPartyOf(sha256: string, reader: Expression<Address>) {
  const h = sha256.toLowerCase()
  const eb = expressionBuilder<Database, never>()
  const party = (eb: ExpressionBuilder<Database & { j: Database['job'] }, 'j'>) =>
    eb.or([
      eb('j.requester', '=', reader),
      eb.exists(eb.selectFrom('assignment as a').select('a.id').whereRef('a.jobId', '=', 'j.id').where('a.provider', '=', reader)),
      eb.exists(
        eb
          .selectFrom('app.gatewayRequest as g')
          .select('g.id')
          .whereRef('g.jobId', '=', 'j.id')
          .where('g.account', '=', reader)
          .where('g.kind', '=', 'SUBMIT'),
      ),
    ])
  return eb.or([
    eb.exists(
      eb
        .selectFrom('job as j')
        .select('j.id')
        .where((e) => e.or([e('j.modelHash', '=', h as Address), e('j.inputHash', '=', h as Address)]))
        .where(party),
    ),
    eb.exists(
      eb
        .selectFrom('assignment as o')
        .innerJoin('job as j', 'j.id', 'o.jobId')
        .select('j.id')
        .where('o.outputHash', '=', h as Address)
        .where(party),
    ),
  ]) satisfies Expression<SqlBool>
}

/**
 * Of `hashes`, those something references: an indexed job's model or input, an assignment's revealed output, or a
 * gateway submission not FAILED (it may not be on chain yet).
 */
export async function findReferencedHashes(views: Views, hashes: readonly string[]): Promise<Set<string>> {
  const list = [...new Set(hashes.map((h) => h.toLowerCase()))] as Address[]
  if (!list.length) return new Set()
  const [models, inputs, outputs, gateway] = await Promise.all([
    views.selectFrom('job').select('modelHash as h').distinct().where('modelHash', 'in', list).execute(),
    views.selectFrom('job').select('inputHash as h').distinct().where('inputHash', 'in', list).execute(),
    views.selectFrom('assignment').select('outputHash as h').distinct().where('outputHash', 'in', list).execute(),
    views
      .selectFrom('app.gatewayRequest')
      .select([sql<string>`payload->>'modelHash'`.as('m'), sql<string>`payload->>'inputHash'`.as('i')])
      .where('kind', '=', 'SUBMIT')
      .where('status', '!=', 'FAILED')
      .where((eb) => eb.or([eb(sql`payload->>'modelHash'`, 'in', list), eb(sql`payload->>'inputHash'`, 'in', list)]))
      .execute(),
  ])
  const found = new Set<string>()
  for (const { h } of [...models, ...inputs, ...outputs]) if (h) found.add(h.toLowerCase())
  for (const { m, i } of gateway) for (const h of [m, i]) if (h && list.includes(h.toLowerCase() as Address)) found.add(h.toLowerCase())
  return found
}

/** Marks `hashes` referenced at `at` (those not already): kept for good, out of every quota. */
export async function markBlobsReferenced(db: Kysely<Database>, hashes: Iterable<string>, at: Date): Promise<void> {
  const list = [...hashes]
  if (!list.length) return
  await db.updateTable('app.blob').set({ referencedAt: at }).where('sha256', 'in', list).where('referencedAt', 'is', null).execute()
}

/** The bytes `uploader` holds in blobs no job references yet: what its quota bounds. */
export async function unreferencedUploadBytes(db: Kysely<Database>, uploader: Address): Promise<bigint> {
  const row = await db
    .selectFrom('app.blobUpload as u')
    .innerJoin('app.blob as b', 'b.sha256', 'u.sha256')
    .select(sql<string>`coalesce(sum(u.size), 0)`.as('bytes'))
    .where('u.uploader', '=', uploader.toLowerCase() as Address)
    .where('b.referencedAt', 'is', null)
    .executeTakeFirstOrThrow()
  return toBigInt(row.bytes)
}

/** The blobs `uploader` uploaded that are not yet marked referenced. */
export async function findUnreferencedUploads(db: Kysely<Database>, uploader: Address): Promise<string[]> {
  const rows = await db
    .selectFrom('app.blobUpload as u')
    .innerJoin('app.blob as b', 'b.sha256', 'u.sha256')
    .select('u.sha256')
    .where('u.uploader', '=', uploader.toLowerCase() as Address)
    .where('b.referencedAt', 'is', null)
    .execute()
  return rows.map((r) => r.sha256)
}

/** Up to `limit` blobs not marked referenced whose last upload is before `cutoff`, oldest first: the sweep's candidates. */
export async function findExpiredBlobs(db: Kysely<Database>, cutoff: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('app.blob')
    .select('sha256')
    .where('referencedAt', 'is', null)
    .where('lastUploadedAt', '<', cutoff)
    .orderBy('lastUploadedAt')
    .limit(limit)
    .execute()
  return rows.map((r) => r.sha256)
}

/**
 * Deletes the blob's row (its uploads go with it) if it is still unreferenced and last uploaded before `cutoff`;
 * whether it did. Run it under the blob's lock (`lockBlob`) so an upload of the same bytes can't slip in between.
 */
export async function deleteExpiredBlob(db: Kysely<Database>, sha256: string, cutoff: Date): Promise<boolean> {
  const row = await db
    .deleteFrom('app.blob')
    .where('sha256', '=', sha256)
    .where('referencedAt', 'is', null)
    .where('lastUploadedAt', '<', cutoff)
    .returning('sha256')
    .executeTakeFirst()
  return row !== undefined
}

/**
 * Takes the blob's transaction-scoped advisory lock: an upload (row, then file into place) and the sweep (row, then
 * file removed) of the same bytes never interleave, so no row outlives its file or the other way round.
 */
export async function lockBlob(trx: Kysely<Database>, sha256: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`tessera-blob:${sha256}`}, 0))`.execute(trx)
}

/** A model anyone may use: checked to load when uploaded, and made public by at least one of its uploaders. */
export type PublicModel = { sha256: string; size: bigint; uploadedAt: Date; uploaders: number }

/** The public models, the most recently uploaded first, at most `first`. */
export async function findPublicModels(db: Kysely<Database>, first: number): Promise<PublicModel[]> {
  const rows = await db
    .selectFrom('app.blob as b')
    .innerJoin('app.blobUpload as u', 'u.sha256', 'b.sha256')
    .where('b.kind', '=', 'model')
    .where('u.public', '=', true)
    .groupBy(['b.sha256', 'b.size'])
    .select((eb) => ['b.sha256', 'b.size', eb.fn.max('u.uploadedAt').as('uploadedAt'), eb.fn.countAll<string>().as('uploaders')])
    .orderBy('uploadedAt', 'desc')
    .orderBy('b.sha256')
    .limit(first)
    .execute()
  return rows.map((r) => ({ sha256: r.sha256, size: toBigInt(r.size), uploadedAt: r.uploadedAt, uploaders: Number(r.uploaders) }))
}
