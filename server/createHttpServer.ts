import { createServer, type RequestListener, type Server } from 'node:http'
import { ServerConfigError } from './serverConfigError.ts'

/** How long Node's HTTP server waits on a client, in milliseconds (see {@link defaultHttpTimeouts}). */
export type HttpTimeouts = {
  /**
   * To receive a whole request, headers and body, from its first byte; a client still sending then gets 408 and the
   * connection closes. Only the request: a response may stream as long as it likes (SSE subscriptions), and a
   * WebSocket is no request once upgraded.
   */
  requestTimeoutMs?: number
  /** To receive a request's headers (at most `requestTimeoutMs`). */
  headersTimeoutMs?: number
  /** How long a kept-alive connection may sit idle between requests before it closes. */
  keepAliveTimeoutMs?: number
  /**
   * How often Node looks for requests past those limits: a late request is cut between one and this much after its
   * limit. Node's own default, 30 s, would let a 60 s limit run to 90 s.
   */
  checkIntervalMs?: number
}

/**
 * 60 s for a request: a blob at the 64 MiB limit needs some 9 Mbit/s to arrive within it (30 s would ask 18 Mbit/s of a
 * requester uploading a model); GraphQL requests, under 1 MiB, take a fraction of it. 10 s for headers, 5 s idle
 * (Node's default; a load balancer in front should time out idle connections before this does), checked every second.
 */
export const defaultHttpTimeouts = {
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
} as const satisfies Required<HttpTimeouts>

/**
 * `timeouts` with the defaults filled in; throws `ServerConfigError` for a limit that is not a positive integer, or
 * headers allowed longer than the whole request (`startServer` checks before it connects to anything).
 */
export function resolveHttpTimeouts(timeouts: HttpTimeouts = {}): Required<HttpTimeouts> {
  const t = {
    requestTimeoutMs: timeouts.requestTimeoutMs ?? defaultHttpTimeouts.requestTimeoutMs,
    headersTimeoutMs: timeouts.headersTimeoutMs ?? defaultHttpTimeouts.headersTimeoutMs,
    keepAliveTimeoutMs: timeouts.keepAliveTimeoutMs ?? defaultHttpTimeouts.keepAliveTimeoutMs,
    checkIntervalMs: timeouts.checkIntervalMs ?? defaultHttpTimeouts.checkIntervalMs,
  }
  for (const [name, value] of Object.entries(t))
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new ServerConfigError(`HTTP timeout ${name} must be a positive integer, got ${value}`)
  if (t.headersTimeoutMs > t.requestTimeoutMs)
    throw new ServerConfigError(
      `HTTP timeout headersTimeoutMs (${t.headersTimeoutMs}) must not exceed requestTimeoutMs (${t.requestTimeoutMs})`,
    )
  return t
}

/**
 * A Node HTTP server for `handler` (Yoga) that cuts off slow clients: one trickling a request body or its headers is
 * answered 408 and disconnected once past `timeouts` (no more holding a connection open for ever with a byte a second),
 * while responses that stream, SSE subscriptions, and upgraded WebSockets stay open. Throws as `resolveHttpTimeouts`.
 */
export function createHttpServer(handler: RequestListener, timeouts: HttpTimeouts = {}): Server {
  const t = resolveHttpTimeouts(timeouts)
  return createServer(
    {
      requestTimeout: t.requestTimeoutMs,
      headersTimeout: t.headersTimeoutMs,
      keepAliveTimeout: t.keepAliveTimeoutMs,
      connectionsCheckingInterval: t.checkIntervalMs,
    },
    handler,
  )
}
