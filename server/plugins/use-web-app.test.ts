import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { createSchema, createYoga } from 'graphql-yoga'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { useWebApp } from './use-web-app.ts'

const schema = createSchema({ typeDefs: 'type Query { ok: Boolean }', resolvers: { Query: { ok: () => true } } })
const config = { chainId: 31337, rpcUrl: 'http://127.0.0.1:8545', devnet: true }
const indexHtml = '<!doctype html><title>app</title><script type="module" src="/assets/index-abc123.js"></script>'
const script = `export const x = ${JSON.stringify('a long enough script to be worth compressing '.repeat(40))}\n`

let dir: string
const app = (webDir: string) => createYoga({ schema, logging: false, landingPage: false, plugins: [useWebApp({ dir: webDir, config })] })
const get = (yoga: ReturnType<typeof app>, pathname: string, headers: Record<string, string> = {}) =>
  yoga.fetch(`http://localhost${pathname}`, { headers })
const html = { accept: 'text/html,application/xhtml+xml' }

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-web-app-'))
  await mkdir(path.join(dir, 'assets'))
  await writeFile(path.join(dir, 'index.html'), indexHtml)
  await writeFile(path.join(dir, 'assets', 'index-abc123.js'), script)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('useWebApp', () => {
  test("serves index.html at / and at the app's own routes, revalidated on each visit", async () => {
    const yoga = app(dir)
    for (const pathname of ['/', '/jobs/42', '/providers/0xabc?x=1']) {
      const response = await get(yoga, pathname, html)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(response.headers.get('cache-control')).toBe('no-cache')
      expect(await response.text()).toBe(indexHtml)
    }
  })

  test('serves a hashed asset gzipped to a client that takes it, cached for good, and 304 when unchanged', async () => {
    const yoga = app(dir)
    const zipped = await get(yoga, '/assets/index-abc123.js', { 'accept-encoding': 'gzip, br' })
    expect(zipped.headers.get('content-encoding')).toBe('gzip')
    expect(zipped.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(zipped.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const body = new Uint8Array(await zipped.arrayBuffer())
    // fetch may or may not have decoded it already; either way the bytes are the script's.
    const text = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body).toString() : new TextDecoder().decode(body)
    expect(text).toBe(script)
    const plain = await get(yoga, '/assets/index-abc123.js')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(script)
    const etag = plain.headers.get('etag') as string
    expect(etag).toMatch(/^"[\w-]{22}"$/)
    const again = await get(yoga, '/assets/index-abc123.js', { 'if-none-match': etag })
    expect(again.status).toBe(304)
  })

  test('a missing asset is a 404, not the page: a script tag must not get HTML', async () => {
    const yoga = app(dir)
    expect((await get(yoga, '/assets/gone-999.js', html)).status).toBe(404)
    // And a non-HTML request for an unknown path is left to the API (404 here).
    expect((await get(yoga, '/jobs/42', { accept: 'application/json' })).status).toBe(404)
  })

  test("never shadows the API's paths, nor answers anything but GET and HEAD", async () => {
    const yoga = app(dir)
    const graphql = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ ok }' }),
    })
    expect(await graphql.json()).toEqual({ data: { ok: true } })
    for (const pathname of ['/blobs/x', '/deployment', '/analytics/emissions.csv', '/health', '/metrics'])
      expect(await (await get(yoga, pathname, html)).text()).not.toBe(indexHtml)
    const post = await yoga.fetch('http://localhost/', { method: 'POST', headers: html })
    expect(await post.text()).not.toBe(indexHtml)
  })

  test('a path outside the build (.., encoded or not) is never read from disk', async () => {
    await writeFile(path.join(path.dirname(dir), 'tessera-web-app-secret.txt'), 'secret')
    const yoga = app(dir)
    for (const pathname of [
      '/../tessera-web-app-secret.txt',
      '/%2e%2e/tessera-web-app-secret.txt',
      '/assets/..%2f..%2ftessera-web-app-secret.txt',
    ]) {
      const response = await get(yoga, pathname, { accept: '*/*' })
      expect(await response.text()).not.toContain('secret')
    }
    await rm(path.join(path.dirname(dir), 'tessera-web-app-secret.txt'))
  })

  test('tells the page its chain at /app-config.json', async () => {
    const response = await get(app(dir), '/app-config.json')
    expect(await response.json()).toEqual(config)
  })

  test('without a build, / says how to make one instead of a bare 404', async () => {
    const response = await get(app(path.join(dir, 'not-built')), '/', html)
    expect(response.status).toBe(503)
    expect(await response.text()).toContain('npm run web:build')
  })
})
