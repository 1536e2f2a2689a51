import { Readable } from 'node:stream'
import type { Plugin } from 'graphql-yoga'
import { BlobHashMismatchError, type BlobStore, BlobTooLargeError, parseSha256 } from '../blobs/blobStore.ts'
import { type BlobKind, BlobRejectedError, blobKinds, blobValidator, type ModelInspector } from '../checkJob.ts'
import type { ServerMetrics } from '../metrics.ts'

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } })

/**
 * `PUT /blobs` (raw body → `201 {sha256, size}`, 200 when already stored) and
 * `GET /blobs/<0x-sha256>` (the bytes). Errors are JSON `{ error, … }`: 413 over the size limit,
 * 400 on a hash mismatch or malformed hash, 404 when unknown. `PUT /blobs?kind=model` (or `input`) checks the
 * upload first — a model must load in onnxruntime, an input must be a tensor blob — and refuses it with 422
 * `{ error, code }` naming the problem; nothing is stored then.
 */
export function useBlobRoutes(options: { store: BlobStore; metrics?: ServerMetrics; inspector?: ModelInspector }): Plugin {
  const { store, metrics, inspector } = options
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname === '/blobs' || url.pathname === '/blobs/') {
        if (request.method !== 'PUT' && request.method !== 'POST')
          return endResponse(json(405, { error: 'use PUT /blobs with the raw bytes as the body' }))
        const declaredLength = Number(request.headers.get('content-length') ?? NaN)
        if (declaredLength > store.maxBytes) {
          metrics?.blobsRejected.inc({ reason: 'too_large' })
          return endResponse(
            json(413, { error: `blob of ${declaredLength} bytes exceeds the limit of ${store.maxBytes} bytes`, limit: store.maxBytes }),
          )
        }
        const declared = request.headers.get('x-content-sha256') ?? undefined
        if (declared !== undefined && !parseSha256(declared)) {
          metrics?.blobsRejected.inc({ reason: 'bad_hash' })
          return endResponse(json(400, { error: `x-content-sha256 must be 0x followed by 64 hex digits, got "${declared.slice(0, 80)}"` }))
        }
        const kind = url.searchParams.get('kind')
        if (kind !== null && !blobKinds.includes(kind as BlobKind))
          return endResponse(json(400, { error: `kind must be one of ${blobKinds.join(', ')}, got "${kind.slice(0, 40)}"` }))
        const validate = kind === null ? undefined : blobValidator(kind as BlobKind, inspector)
        try {
          const body = request.body as unknown as AsyncIterable<Uint8Array> | null
          const r = await store.put(body, declared, validate)
          if (r.created) metrics?.blobsStored.inc(r.size)
          return endResponse(json(r.created ? 201 : 200, { sha256: r.sha256, size: r.size }))
        } catch (error) {
          if (error instanceof BlobTooLargeError) {
            metrics?.blobsRejected.inc({ reason: 'too_large' })
            return endResponse(json(413, { error: error.message, limit: error.limit }))
          }
          if (error instanceof BlobRejectedError) {
            metrics?.blobsRejected.inc({ reason: 'invalid' })
            return endResponse(json(422, { error: error.message, code: error.problem.code }))
          }
          if (error instanceof BlobHashMismatchError) {
            metrics?.blobsRejected.inc({ reason: 'hash_mismatch' })
            return endResponse(json(400, { error: error.message, expected: error.expected, actual: error.actual }))
          }
          throw error
        }
      }
      if (url.pathname.startsWith('/blobs/')) {
        if (request.method !== 'GET' && request.method !== 'HEAD') return endResponse(json(405, { error: 'use GET /blobs/<0x-sha256>' }))
        const raw = decodeURIComponent(url.pathname.slice('/blobs/'.length))
        const sha256 = parseSha256(raw)
        if (!sha256)
          return endResponse(json(400, { error: `malformed blob hash "${raw.slice(0, 80)}": expected 0x followed by 64 hex digits` }))
        const blob = await store.get(sha256)
        if (!blob) return endResponse(json(404, { error: `no blob ${sha256}` }))
        const headers = {
          'content-type': 'application/octet-stream',
          'content-length': String(blob.size),
          'cache-control': 'public, max-age=31536000, immutable',
          etag: `"${sha256}"`,
        }
        if (request.method === 'HEAD') return endResponse(new Response(null, { status: 200, headers }))
        const stream = Readable.toWeb(blob.stream() as Readable) as unknown as ReadableStream
        return endResponse(new Response(stream, { status: 200, headers }))
      }
    },
  }
}
