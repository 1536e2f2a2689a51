import { GraphQLError } from 'graphql'
import type { Plugin } from 'graphql-yoga'

/**
 * Largest GraphQL request body (1 MiB). The largest request this API has a use for, a `…_in` list of 1,000 addresses,
 * is some 45 kB; Yoga's own default (25 MB) would let one request hold 25 MB, and its parsed copy, until refused.
 */
export const defaultMaxRequestBodyBytes = 1024 * 1024

export type RequestBodyGuardOptions = {
  /** The limit, in bytes; pass Yoga the same as `maxRequestBodySize`, which enforces it while reading at `/graphql`. */
  maxBytes: number
  /** graphql-sse's endpoint (`useGraphQLSSE`), which reads bodies itself: checked here before it sees them. */
  streamEndpoint?: string
}

const notJsonBody = 'the request body is not valid JSON'
const notJsonParameters = 'the variables or extensions parameter is not valid JSON'
const tooLargeMessage = (maxBytes: number) => `the request body is over the limit of ${maxBytes} bytes`

const badRequest = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } })
const tooLarge = (maxBytes: number) =>
  new GraphQLError(tooLargeMessage(maxBytes), {
    extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', limit: maxBytes, http: { status: 413 } },
  })

/** Whether `error` comes from reading or parsing the client's bytes, so its message may quote them. */
function quotesInput(error: unknown): boolean {
  // A client that went away: Yoga ends the request quietly.
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return false
  if (!(error instanceof GraphQLError)) return true
  return error.originalError != null || error.extensions.originalError != null
}

/**
 * Keeps a request's bytes out of the answer and bounds how many are read. Yoga answers malformed JSON with the parser's
 * message, which quotes the body (a 10 MB body came back whole); here that is "the request body is not valid JSON" with
 * nothing of the body, and a GET's malformed `variables` or `extensions` likewise. A body over `maxBytes` gets 413
 * naming the limit, at once when its Content-Length says so, else as soon as reading passes it. Yoga's own fixed
 * messages (a body that is JSON but not an object, …) pass as they are.
 */
export function useRequestBodyGuard(options: RequestBodyGuardOptions): Plugin {
  const { maxBytes } = options
  const declaredTooLarge = (request: Request) => Number(request.headers.get('content-length') ?? 0) > maxBytes
  return {
    async onRequest({ url, request, setRequest, endResponse, fetchAPI }) {
      if (options.streamEndpoint === undefined || url.pathname !== options.streamEndpoint || request.method !== 'POST') return
      // What graphql-sse reads as JSON; it answers anything else 415 unread.
      if (!request.headers.get('content-type')?.includes('application/json')) return
      // In graphql-sse's shape for errors, the status aside.
      const answer = (error: GraphQLError) => {
        const { http, ...extensions } = error.extensions
        return endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message: error.message, extensions }] }), {
            status: (http as { status: number }).status,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
        )
      }
      if (declaredTooLarge(request)) return answer(tooLarge(maxBytes))
      const text = await readText(request, maxBytes)
      if (text === undefined) return answer(tooLarge(maxBytes))
      try {
        JSON.parse(text)
      } catch {
        return answer(badRequest(notJsonBody))
      }
      setRequest(
        new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, body: text, signal: request.signal }),
      )
    },
    onRequestParse({ request, requestParser, setRequestParser }) {
      if (declaredTooLarge(request)) throw tooLarge(maxBytes)
      if (!requestParser) return
      setRequestParser(async (req) => {
        try {
          return await requestParser(req)
        } catch (error) {
          if (error instanceof GraphQLError && error.extensions.code === 'REQUEST_ENTITY_TOO_LARGE') throw tooLarge(maxBytes)
          if (quotesInput(error)) throw badRequest(req.method === 'GET' ? notJsonParameters : notJsonBody)
          throw error
        }
      })
    },
  }
}

/** The body as text, or undefined (and the rest left unread) once it passes `maxBytes`. */
async function readText(request: Request, maxBytes: number): Promise<string | undefined> {
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel()
      return undefined
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
