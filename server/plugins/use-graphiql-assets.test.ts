import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { fixtureDeployment } from '../../test/support/deployment.ts'
import { createYoga } from '../createYoga.ts'
import { createDb } from '../db/createDb.ts'

// GraphiQL reads no database: the pool is never connected.
const { db } = createDb({ databaseUrl: 'postgres://127.0.0.1:1/unused' })
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-graphiql-'))
  yoga = createYoga({ db, viewsSchema: 'chain', deployment: fixtureDeployment, dataDir }).yoga
})

afterAll(async () => {
  await db.destroy()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

const contentTypes: Record<string, RegExp> = {
  js: /^text\/javascript; charset=utf-8$/,
  css: /^text\/css; charset=utf-8$/,
  ico: /^image\/x-icon$/,
}

test('the GraphiQL page loads every script, style, editor worker and icon from this server, none from a CDN', async () => {
  const page = await yoga.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } })
  expect(page.status).toBe(200)
  expect(page.headers.get('content-type')).toMatch(/^text\/html/)
  const html = await page.text()
  expect(html).not.toMatch(/https?:\/\/|\/\/unpkg|cdn/i)
  // src/href attributes, and the editor workers' URLs the inline script hands Monaco.
  const attributes = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] as string)
  const workers = [...html.matchAll(/"(\/[^"]*\.worker\.js)"/g)].map((m) => m[1] as string)
  expect(attributes).toHaveLength(3)
  expect(workers).toHaveLength(3)
  for (const reference of [...attributes, ...workers]) {
    // Path-absolute: same origin whatever host the page was served from.
    expect(reference).toMatch(/^\/[^/]/)
    const asset = await yoga.fetch(new URL(reference, 'http://localhost'))
    expect(asset.status, reference).toBe(200)
    expect(asset.headers.get('content-type'), reference).toMatch(contentTypes[reference.split('.').at(-1) as string] as RegExp)
    const body = new Uint8Array(await asset.arrayBuffer())
    expect(body.length, reference).toBeGreaterThan(1000)
    if (reference.endsWith('yoga-graphiql.js')) expect(new TextDecoder().decode(body)).toContain('renderYogaGraphiQL')
    if (reference.endsWith('.worker.js')) expect(new TextDecoder().decode(body)).not.toMatch(/^\s*import\s/m)
  }
})

test('an asset answers 304 to its ETag, and an unknown name 404', async () => {
  const first = await yoga.fetch('http://localhost/graphiql/graphiql.css')
  const etag = first.headers.get('etag') as string
  expect(etag).toMatch(/^"[\w-]+"$/)
  expect(first.headers.get('cache-control')).toBe('no-cache')
  const again = await yoga.fetch('http://localhost/graphiql/graphiql.css', { headers: { 'if-none-match': etag } })
  expect(again.status).toBe(304)
  expect((await yoga.fetch('http://localhost/graphiql/nothing.js')).status).toBe(404)
})

test('GraphQL itself is untouched: a JSON request still gets JSON', async () => {
  const res = await yoga.fetch('http://localhost/graphql?query={__typename}', { headers: { accept: 'application/json' } })
  expect(await res.json()).toEqual({ data: { __typename: 'Query' } })
})
