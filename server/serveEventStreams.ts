import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'
import { type ExecutionResult, type GraphQLError, getOperationAST } from 'graphql'
import type { YogaServerInstance } from 'graphql-yoga'
import type { Logger } from 'pino'
import type { ServerContext } from './context.ts'
import { everyAtOwnPhase, writeEach } from './listen.ts'

const crlf = Buffer.from('\r\n')

/** `frame` as one HTTP/1.1 chunk: what goes on the wire of a chunked response. */
const chunkOf = (frame: Buffer) => Buffer.concat([Buffer.from(`${frame.length.toString(16)}\r\n`), frame, crlf])

/** A comment, as Yoga's SSE pings: bare and as a chunk. */
const ping = { frame: Buffer.from(':\n\n'), chunk: chunkOf(Buffer.from(':\n\n')) }

type Params = { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown }

/** Until `stream` (a response or its socket) takes more, or the client has gone (when it never will). */
const drained = (stream: Writable) =>
  new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.once('drain', done)
    stream.once('close', done)
  })

/** A result's JSON, without the `http` extension Yoga keeps for itself (a status and headers, not the client's). */
function stringify(result: ExecutionResult): string {
  if (!result.errors?.length) return JSON.stringify(result)
  return JSON.stringify({
    ...result,
    errors: result.errors.map((e) => {
      const json = (e as GraphQLError).toJSON?.() ?? e
      if (!json.extensions || !('http' in json.extensions)) return json
      const { http: _http, ...extensions } = json.extensions
      return { ...json, extensions: Object.keys(extensions).length ? extensions : undefined }
    }),
  })
}

/** The status and headers the errors of a result that never streamed ask for (a 429 and its Retry-After), as Yoga does. */
function responseOf(result: ExecutionResult): { status: number; headers: Record<string, string> } {
  let status = 200
  const headers: Record<string, string> = {}
  for (const error of result.errors ?? []) {
    const http = error.extensions?.http as { status?: number; headers?: Record<string, string> } | undefined
    if (http?.headers) Object.assign(headers, http.headers)
    if (http?.status && http.status > status) status = http.status
  }
  return { status, headers }
}

/**
 * `handler` (Yoga) with a lean path for what most long-lived connections are: agents' GraphQL subscriptions over SSE
 * (`POST` or `GET /graphql`, `Accept: text/event-stream`, no `Origin`: not a browser's cross-origin request, whose CORS
 * Yoga answers). Such a subscription runs through Yoga's envelop as a WebSocket's does (the same parse and validation
 * caches, limits, cost meter, error masking and metrics) and streams straight to Node's response in Yoga's format
 * (`:` pings, `event: next`, `event: complete`), without the Fetch API request, response and stream objects Yoga makes
 * for each: half the memory an idle subscriber holds. Each result is serialised once for all the subscribers it goes
 * to. Anything else (a query, a mutation, a body that doesn't parse, a document that doesn't validate) is handed to
 * Yoga as it came, so its answer is Yoga's own.
 */
export function withLeanEventStreams(
  yoga: YogaServerInstance<Record<string, unknown>, ServerContext>,
  options: {
    maxBodyBytes: number
    log: Logger
    /** How often a stream with nothing else to send gets a comment, so proxies and clients see it alive (default 12 s, as Yoga). */
    pingIntervalMs?: number
  },
): RequestListener {
  const pingIntervalMs = options.pingIntervalMs ?? 12_000
  const handler = yoga as unknown as RequestListener
  // The bytes, not the text: a string would be encoded again for every subscriber it is written to. Both forms: the
  // frame, and the frame as one HTTP/1.1 chunk (what goes on the wire of a chunked response).
  const serialized = new WeakMap<object, { frame: Buffer; chunk: Buffer }>()
  const bytesOf = (result: ExecutionResult) => {
    let bytes = serialized.get(result)
    if (bytes === undefined) {
      const frame = Buffer.from(`event: next\ndata: ${stringify(result)}\n\n`)
      bytes = { frame, chunk: chunkOf(frame) }
      serialized.set(result, bytes)
    }
    return bytes
  }

  const candidate = (req: IncomingMessage) =>
    (req.method === 'POST' || req.method === 'GET') &&
    !req.headers.origin &&
    (req.headers.accept ?? '').includes('text/event-stream') &&
    (req.url === yoga.graphqlEndpoint || req.url?.startsWith(`${yoga.graphqlEndpoint}?`))

  /** Hands a request whose body was read to Yoga, as if it had never been touched. */
  async function toYoga(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) {
    const response = await yoga.fetch(
      new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`),
      {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: body && req.method !== 'GET' ? new Uint8Array(body) : undefined,
      },
      { req, res },
    )
    res.writeHead(response.status, Object.fromEntries(response.headers))
    if (!response.body) return void res.end()
    const reader = response.body.getReader()
    req.once('close', () => void reader.cancel().catch(() => {}))
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!res.write(value)) await drained(res)
    }
    res.end()
  }

  async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      chunks.push(chunk)
      // Past the limit without saying so (chunked): Yoga refuses what was read, as a body that isn't whole.
      if (size > options.maxBodyBytes) return undefined
    }
    return Buffer.concat(chunks)
  }

  async function serve(req: IncomingMessage, res: ServerResponse) {
    let body: Buffer | undefined
    let params: Params
    if (req.method === 'GET') {
      const search = new URL(req.url ?? '/', 'http://localhost').searchParams
      const json = (name: string) => {
        const raw = search.get(name)
        return raw === null ? undefined : JSON.parse(raw)
      }
      try {
        params = {
          query: search.get('query') ?? undefined,
          variables: json('variables'),
          operationName: search.get('operationName') ?? undefined,
        }
      } catch {
        return toYoga(req, res, undefined)
      }
    } else {
      // Declared too large: Yoga refuses it as it does any other, from the untouched request.
      if (Number(req.headers['content-length'] ?? 0) > options.maxBodyBytes) return handler(req, res)
      body = await readBody(req)
      if (body === undefined || !/^application\/(graphql-response\+)?json\b/.test(req.headers['content-type'] ?? 'application/json'))
        return toYoga(req, res, body)
      try {
        params = JSON.parse(body.toString('utf8')) as Params
      } catch {
        return toYoga(req, res, body)
      }
    }
    if (typeof params !== 'object' || params === null || typeof params.query !== 'string') return toYoga(req, res, body)
    const variables = params.variables ?? undefined
    const operationName = typeof params.operationName === 'string' ? params.operationName : undefined
    if (variables !== undefined && (typeof variables !== 'object' || variables === null || Array.isArray(variables)))
      return toYoga(req, res, body)

    const { parse, validate, contextFactory, subscribe, schema } = yoga.getEnveloped({ req, res, params })
    let document: ReturnType<typeof parse>
    try {
      document = parse(params.query)
      if (getOperationAST(document, operationName)?.operation !== 'subscription' || validate(schema, document).length)
        return toYoga(req, res, body)
    } catch {
      return toYoga(req, res, body)
    }
    const result = await subscribe({
      schema,
      document,
      variableValues: variables as Record<string, unknown> | undefined,
      operationName,
      contextValue: await contextFactory(),
    })
    const headers = {
      'content-type': 'text/event-stream',
      connection: 'keep-alive',
      'cache-control': 'no-cache',
      'content-encoding': 'none',
    }
    if (!(Symbol.asyncIterator in result)) {
      // Refused before it started (a bad variable, the cost meter): one result, then the end, as Yoga sends it.
      const { status, headers: extra } = responseOf(result)
      res.writeHead(status, { ...headers, ...extra })
      res.end(`:\n\n${bytesOf(result).frame.toString()}event: complete\ndata:\n\n`)
      return
    }
    const iterator = result[Symbol.asyncIterator]()
    res.writeHead(200, headers)
    res.write(':\n\n')
    let closed = false
    // Events go straight to the connection, framed as the response is (a chunk, or bare where it isn't chunked, as
    // an HTTP/1.0 client's): `res.write` would cork the socket until the next tick, which for an event going to
    // thousands of subscribers comes only once every one of them has been handed it, so no byte would leave before
    // the last copy was made. A response waiting behind another on its connection (pipelined) has no socket yet,
    // and writes through `res`, which queues it.
    const chunked = res.chunkedEncoding
    /** Set when a write found the connection full: what to wait for before the next. */
    let full: Promise<void> | undefined
    /** Writes a frame; false when the connection is gone or full (`full`). */
    const writeBytes = ({ frame, chunk }: { frame: Buffer; chunk: Buffer }): boolean => {
      if (closed) return false
      const socket = res.socket
      if (socket) {
        if (!socket.write(chunked ? chunk : frame)) full = drained(socket)
      } else if (!res.write(frame)) full = drained(res)
      return full === undefined
    }
    /** Whether an event went out since the last ping's turn: a stream that streams needs no ping. */
    let sent = false
    const write = (result: ExecutionResult): boolean => {
      sent = true
      return writeBytes(bytesOf(result))
    }
    const stopPinging = everyAtOwnPhase(pingIntervalMs, () => {
      if (!sent && full === undefined) writeBytes(ping)
      sent = false
    })
    const close = () => {
      if (closed) return
      closed = true
      stopPinging()
      void iterator.return?.()
    }
    // A response closes when it ends or its connection drops (not the socket: a kept-alive one outlives many streams).
    res.once('close', close)
    const writable = () => {
      const waiting = full
      full = undefined
      return waiting
    }
    try {
      if (await writeEach(iterator, { write, writable, closed: () => closed })) res.end('event: complete\ndata:\n\n')
    } finally {
      close()
    }
  }

  return (req, res) => {
    if (!candidate(req)) return handler(req, res)
    serve(req, res).catch((error: unknown) => {
      options.log.error({ err: error }, 'an SSE subscription failed')
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ message: 'Unexpected error.' }] }))
      } else res.destroy(error as Error)
    })
  }
}
