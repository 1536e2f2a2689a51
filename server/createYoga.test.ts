import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { parseDeployment } from '../protocol/deployment.ts'
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
  // Room in the body for the 50,000-address list below, so that the complexity limit is what refuses it (the default
  // 1 MiB would refuse its 2.2 MB before parsing: see use-request-body-guard.test.ts).
  const maxRequestBodyBytes = 4 * 1024 * 1024
  yoga = createYoga({ db, viewsSchema: 'chain', deployment, dataDir, maxBlobBytes, maxRequestBodyBytes, now: () => now }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

/** The response fields these tests read. */
type GraphQLResponse = {
  data?: { __schema?: { queryType: { name: string } } }
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

// The blob routes (auth, quotas, reads) are tested in plugins/use-blob-routes.test.ts.

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
