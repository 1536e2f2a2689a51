import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { type BlobFetch, putBlobWith } from '../test/support/blobs.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { fixtureDeployment } from '../test/support/deployment.ts'
import { createModelInspector } from './checkJob.ts'
import { createYoga } from './createYoga.ts'
import { createDb } from './db/createDb.ts'
import type { Database } from './db/database.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'

const deployment = fixtureDeployment

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']
const inspector = createModelInspector()

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-checkjob-'))
  // Every account counts as funded here: no chain or index behind this server (funding: plugins/use-blob-routes.test.ts).
  yoga = createYoga({ db, viewsSchema: 'chain', deployment, dataDir, inspector, fundingCheck: async () => true }).yoga
})

afterAll(async () => {
  await inspector.close()
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

/** The uploader of every blob here, signing for the fixture's chain. */
const credentials = { account: privateKeyToAccount(devKeys[5]), chainId: deployment.chainId }
const yogaFetch: BlobFetch = (url, init) => yoga.fetch(url, init)

async function upload(bytes: Uint8Array): Promise<string> {
  const res = await putBlobWith({ fetch: yogaFetch, credentials, bytes })
  expect(res.status).toBeLessThan(300)
  return sha256Hex(bytes)
}

type Check = { runnable: boolean; problems: { code: string; message: string }[] }

async function checkJob(spec: { modelHash: string; inputHash: string; units: bigint }): Promise<Check> {
  const res = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      query: 'query ($spec: CheckJobInput!) { checkJob(spec: $spec) { runnable problems { code message } } }',
      variables: { spec: { ...spec, units: spec.units.toString() } },
    }),
  })
  const body = (await res.json()) as { data?: { checkJob: Check }; errors?: { message: string }[] }
  if (!body.data) throw new Error(`checkJob failed: ${JSON.stringify(body.errors)}`)
  return body.data.checkJob
}

const rows = (n: number, width = 16) => encodeTensorBlob({ dims: [n, width], data: makeInput({ seed: n, rows: n, inputSize: width }) })

describe('checkJob (GraphQL, real onnxruntime)', () => {
  test('a runnable job has no problems', async () => {
    const modelHash = await upload(buildMlp({ seed: 1, inputSize: 16, hiddenSize: 8, outputSize: 4 }))
    const inputHash = await upload(rows(4))
    expect(await checkJob({ modelHash, inputHash, units: 4n })).toEqual({ runnable: true, problems: [] })
  })

  test('random bytes as a model: MODEL_INVALID, before any escrow moves', async () => {
    const modelHash = await upload(new Uint8Array(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256)))
    const inputHash = await upload(rows(4))
    const check = await checkJob({ modelHash, inputHash, units: 4n })
    expect(check.runnable).toBe(false)
    expect(check.problems.map((p) => p.code)).toEqual(['MODEL_INVALID'])
    expect(check.problems[0]?.message).toMatch(/does not load in onnxruntime/)
  })

  test('an operator onnxruntime lacks: UNSUPPORTED_OPERATOR', async () => {
    const modelHash = await upload(buildMlp({ seed: 2, inputSize: 16, hiddenSize: 8, outputSize: 4, activation: 'NoSuchOperator' }))
    const inputHash = await upload(rows(2))
    expect((await checkJob({ modelHash, inputHash, units: 2n })).problems.map((p) => p.code)).toEqual(['UNSUPPORTED_OPERATOR'])
  })

  test('an input of the wrong rank or width, or units that differ from its rows: INPUT_MISMATCH naming what', async () => {
    const modelHash = await upload(buildMlp({ seed: 3, inputSize: 16, hiddenSize: 8, outputSize: 4 }))
    const rank3 = await upload(encodeTensorBlob({ dims: [2, 16, 1], data: new Float32Array(32) }))
    expect((await checkJob({ modelHash, inputHash: rank3, units: 2n })).problems).toEqual([
      { code: 'INPUT_MISMATCH', message: `the model's input "input" has rank 2 [batch, 16], the job's input has rank 3 [2, 16, 1]` },
    ])
    const narrow = await upload(rows(3, 15))
    expect((await checkJob({ modelHash, inputHash: narrow, units: 3n })).problems.map((p) => p.message)).toEqual([
      `dimension 1 of the model's input "input" is 16, the job's input has 15`,
    ])
    const fine = await upload(rows(5))
    expect((await checkJob({ modelHash, inputHash: fine, units: 50n })).problems.map((p) => p.message)).toEqual([
      'units is 50 but the input holds 5 rows (its first dimension)',
    ])
    const notATensor = await upload(new TextEncoder().encode('{"hello":"world"}'))
    expect((await checkJob({ modelHash, inputHash: notATensor, units: 1n })).problems.map((p) => p.code)).toEqual(['INPUT_MISMATCH'])
  })

  test('blobs the server lacks are named', async () => {
    const missing = `0x${'ab'.repeat(32)}`
    const check = await checkJob({ modelHash: missing, inputHash: `0x${'cd'.repeat(32)}`, units: 1n })
    expect(check.problems).toEqual([
      { code: 'MODEL_NOT_FOUND', message: `model blob ${missing} not found: upload it first (PUT /blobs)` },
      { code: 'INPUT_NOT_FOUND', message: `input blob 0x${'cd'.repeat(32)} not found: upload it first (PUT /blobs)` },
    ])
  })

  test('PUT /blobs?kind=model|input refuses what is not one, names why and stores nothing', async () => {
    const put = (bytes: Uint8Array, kind: string) => putBlobWith({ fetch: yogaFetch, credentials, bytes, query: `?kind=${kind}` })
    const garbage = new Uint8Array(Array.from({ length: 200 }, (_, i) => (i * 37) % 256))
    const refused = await put(garbage, 'model')
    expect(refused.status).toBe(422)
    expect(await refused.json()).toMatchObject({ code: 'MODEL_INVALID', error: expect.stringMatching(/does not load in onnxruntime/) })
    expect((await yoga.fetch(`http://localhost/blobs/${sha256Hex(garbage)}`)).status).toBe(404)
    const notTensor = await put(new TextEncoder().encode('[1,2,3]'), 'input')
    expect(notTensor.status).toBe(422)
    expect(await notTensor.json()).toMatchObject({ code: 'INPUT_MISMATCH' })
    expect((await put(buildMlp({ seed: 4, inputSize: 16, hiddenSize: 8, outputSize: 4 }), 'model')).status).toBe(201)
    expect((await put(rows(3), 'input')).status).toBe(201)
    const bogus = await put(rows(3), 'weights')
    expect(bogus.status).toBe(400)
    expect(await bogus.json()).toEqual({ error: 'kind must be one of model, input, got "weights"', code: 'BAD_REQUEST' })
  })

  test('Query.models lists the public models the server checked, newest first; not a private one, an input or bytes of no kind', async () => {
    const put = (bytes: Uint8Array, query: string, account = credentials.account) =>
      putBlobWith({ fetch: yogaFetch, credentials: { account, chainId: deployment.chainId }, bytes, query })
    const models = async (first?: number) => {
      const res = await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: 'query($first: Int) { models(first: $first) { sha256 size uploaders } }', variables: { first } }),
      })
      return (await res.json()) as {
        data?: { models: { sha256: string; size: string; uploaders: number }[] }
        errors?: { message: string }[]
      }
    }
    const older = buildMlp({ seed: 31, inputSize: 16, hiddenSize: 8, outputSize: 4 })
    const newer = buildMlp({ seed: 32, inputSize: 16, hiddenSize: 8, outputSize: 4 })
    const hidden = buildMlp({ seed: 33, inputSize: 16, hiddenSize: 8, outputSize: 4 })
    const unchecked = buildMlp({ seed: 34, inputSize: 16, hiddenSize: 8, outputSize: 4 })
    expect((await put(older, '?kind=model&public=true')).status).toBe(201)
    expect((await put(newer, '?kind=model&public=true')).status).toBe(201)
    expect((await put(hidden, '?kind=model')).status).toBe(201)
    expect((await put(unchecked, '?public=true')).status).toBe(201)
    expect((await put(rows(5), '?kind=input&public=true')).status).toBeLessThan(300)
    // A second account making the same model public counts it once, with two uploaders; uploading it without a kind
    // later doesn't unsay that it is a model.
    expect((await put(older, '?public=true', privateKeyToAccount(devKeys[6]))).status).toBe(200)
    const listed = (await models()).data?.models ?? []
    const ours = listed.filter((m) => [older, newer, hidden, unchecked].some((b) => sha256Hex(b) === m.sha256))
    expect(ours).toEqual([
      { sha256: sha256Hex(older), size: String(older.length), uploaders: 2 },
      { sha256: sha256Hex(newer), size: String(newer.length), uploaders: 1 },
    ])
    expect((await models(1)).data?.models).toHaveLength(1)
    for (const first of [0, 201]) expect((await models(first)).errors?.[0]?.message).toBe(`first must be from 1 to 200, got ${first}`)
  })
})
