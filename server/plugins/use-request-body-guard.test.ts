import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fixtureDeployment } from '../../test/support/deployment.ts'
import { createYoga } from '../createYoga.ts'
import { createDb } from '../db/createDb.ts'
import { defaultMaxRequestBodyBytes } from './use-request-body-guard.ts'

// Nothing here gets as far as a resolver: the pool is never connected.
const { db } = createDb({ databaseUrl: 'postgres://127.0.0.1:1/unused' })
let dataDir: string
/** With the default limit (1 MiB). */
let yoga: ReturnType<typeof createYoga>['yoga']
/** With room for a 10 MB body, to see what a malformed one that is read whole gets back. */
let roomy: ReturnType<typeof createYoga>['yoga']

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-body-'))
  const common = { db, viewsSchema: 'chain', deployment: fixtureDeployment, dataDir }
  yoga = createYoga(common).yoga
  roomy = createYoga({ ...common, maxRequestBodyBytes: 32 * 1024 * 1024 }).yoga
})

afterAll(async () => {
  await db.destroy()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

const tenMegabytes = 10 * 1024 * 1024
/** Malformed JSON, 10 MB of it, with a marker that must not come back. */
const malformed = (size: number) => `{"query": "{ __typename }", "MARKER-${'x'.repeat(size - 40)}`
const post = (target: typeof yoga, body: BodyInit, headers: Record<string, string> = {}, url = 'http://localhost/graphql') =>
  target.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit)
/** A body streamed in 64 kB chunks without a Content-Length, so only reading it can tell its size. */
const streamed = (text: string) => {
  const bytes = new TextEncoder().encode(text)
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (offset >= bytes.length) return c.close()
      c.enqueue(bytes.subarray(offset, offset + 65536))
      offset += 65536
    },
  })
}
type Answer = { errors?: { message: string; extensions?: { code?: string; limit?: number } }[]; data?: unknown }

describe('/graphql', () => {
  test('a 10 MB malformed body read whole gets a short fixed message quoting none of it', async () => {
    const body = malformed(tenMegabytes)
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const res = await post(roomy, body, { accept })
      const text = await res.text()
      expect(res.status).toBe(400)
      expect(text.length).toBeLessThan(300)
      expect(text).not.toContain('MARKER')
      expect(text).not.toContain('xxxx')
      const { errors } = JSON.parse(text) as Answer
      expect(errors).toEqual([{ message: 'the request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }])
    }
  })

  test('under the default limit a 10 MB body is refused with 413 naming the limit, declared or streamed', async () => {
    const body = malformed(tenMegabytes)
    const declared = await post(yoga, body, { 'content-length': String(body.length) })
    const chunked = await post(yoga, streamed(body))
    for (const res of [declared, chunked]) {
      expect(res.status).toBe(413)
      const text = await res.text()
      expect(text.length).toBeLessThan(300)
      expect(text).not.toContain('MARKER')
      const { errors } = JSON.parse(text) as Answer
      expect(errors?.[0]?.message).toBe(`the request body is over the limit of ${defaultMaxRequestBodyBytes} bytes`)
      expect(errors?.[0]?.extensions).toEqual({ code: 'REQUEST_ENTITY_TOO_LARGE', limit: defaultMaxRequestBodyBytes })
    }
  })

  test('a short malformed body is not echoed either', async () => {
    const res = await post(yoga, '{"query": "{ __typename }", SECRET')
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text).not.toContain('SECRET')
    expect((JSON.parse(text) as Answer).errors?.[0]?.message).toBe('the request body is not valid JSON')
  })

  test("a GET's malformed variables are not echoed", async () => {
    const res = await yoga.fetch(`http://localhost/graphql?query=${encodeURIComponent('{ __typename }')}&variables=%7BSECRET`, {
      headers: { accept: 'application/json' },
    })
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text).not.toContain('SECRET')
    expect((JSON.parse(text) as Answer).errors?.[0]?.message).toBe('the variables or extensions parameter is not valid JSON')
  })

  test("JSON that isn't an object keeps Yoga's own message; a good body under the limit still runs", async () => {
    const scalar = await post(yoga, '"just a string"', { accept: 'application/json' })
    expect(((await scalar.json()) as Answer).errors?.[0]?.message).toBe('POST body is expected to be object but received string')
    const padded = JSON.stringify({ query: `{ __typename }${' '.repeat(defaultMaxRequestBodyBytes - 100)}` })
    const ok = await post(yoga, streamed(padded), { accept: 'application/json' })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } })
  })
})

describe('/graphql/stream (graphql-sse)', () => {
  const stream = 'http://localhost/graphql/stream'

  test('a malformed body gets the same fixed message, an oversized one 413', async () => {
    const res = await post(yoga, '{"query": SECRET', { accept: 'text/event-stream' }, stream)
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text).not.toContain('SECRET')
    expect((JSON.parse(text) as Answer).errors?.[0]?.message).toBe('the request body is not valid JSON')
    const body = malformed(tenMegabytes)
    for (const big of [
      await post(yoga, body, { 'content-length': String(body.length) }, stream),
      await post(yoga, streamed(body), {}, stream),
    ]) {
      expect(big.status).toBe(413)
      const answer = await big.text()
      expect(answer.length).toBeLessThan(300)
      expect((JSON.parse(answer) as Answer).errors?.[0]?.extensions).toEqual({
        code: 'REQUEST_ENTITY_TOO_LARGE',
        limit: defaultMaxRequestBodyBytes,
      })
    }
  })

  test('a good body still reaches graphql-sse', async () => {
    const res = await post(yoga, JSON.stringify({ query: '{ __typename }' }), { accept: 'text/event-stream' }, stream)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('"__typename":"Query"')
  })
})
