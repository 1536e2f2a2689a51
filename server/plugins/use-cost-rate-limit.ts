import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import type { Plugin } from '@envelop/core'
import { type ExecutionArgs, GraphQLError } from 'graphql'
import { createTokenBuckets } from '../tokenBuckets.ts'
import { operationComplexity } from './operationComplexity.ts'

/** What a client key is read from: Yoga's context (the fetch `request`, and Node's `req` over HTTP and WebSocket). */
export type CostRateLimitContext = { request?: Request; req?: IncomingMessage }

export type CostRateLimitOptions = {
  /** Query cost a client earns per second (default 20,000: a dozen 100-job pages a second). */
  costPerSecond?: number
  /**
   * The most a client can spend at once (default 100,000, twice the costliest query the complexity limit lets through).
   * A query costing more still runs from a full bucket, leaving the client in debt for the difference.
   */
  burst?: number
  /**
   * Who pays: a client's key, or undefined to let the operation through unmetered. Default: the peer's IP address (an
   * IPv6 address's /64, which one host usually holds whole) from Node's socket, so `yoga.fetch` without a socket is not
   * metered. Behind a reverse proxy every client shares the proxy's address: read the header the proxy sets instead.
   */
  key?: (context: CostRateLimitContext) => string | undefined
  /**
   * Leave loopback clients (127.0.0.0/8, ::1) unmetered (default true): on loopback are the operator's own tools, the
   * benchmarks and the end-to-end tests, and a proxy on the same host, which must then pass `key` (see above).
   */
  exemptLoopback?: boolean
  /** Clients remembered at most (default 10,000); the one seen longest ago is forgotten first. */
  maxClients?: number
  /** Milliseconds; tests pin it. */
  now?: () => number
}

/**
 * A token bucket per client on the total query cost it runs (the complexity the limits measure, at least 1 an
 * operation): each client earns `costPerSecond`, holds at most `burst`, and an operation costing more than it holds is
 * refused before it runs with `RATE_LIMITED`, saying in how many seconds to retry (`extensions.retryAfterSeconds`, and
 * HTTP 429 with `Retry-After`). Queries, mutations and subscriptions (once, when they start) all pay, over HTTP, SSE
 * and WebSocket. Place it before plugins that answer without running the operation (the response cache), so that a
 * cached answer is metered too.
 */
export function useCostRateLimit(options: CostRateLimitOptions = {}): Plugin {
  const costPerSecond = options.costPerSecond ?? 20_000
  const burst = options.burst ?? 100_000
  const maxClients = options.maxClients ?? 10_000
  const keyOf = options.key ?? ((context: CostRateLimitContext) => clientAddressKey(context.req?.socket.remoteAddress))
  const exemptLoopback = options.exemptLoopback ?? true
  const buckets = createTokenBuckets({ perSecond: costPerSecond, burst, maxKeys: maxClients, now: options.now })

  function check(args: ExecutionArgs): GraphQLError | undefined {
    const context = (args.contextValue ?? {}) as CostRateLimitContext
    const key = keyOf(context)
    if (key === undefined || (exemptLoopback && isLoopback(key))) return undefined
    const cost = Math.max(1, operationComplexity(args))
    const retryAfter = buckets.take(key, cost)
    if (retryAfter === undefined) return undefined
    return new GraphQLError(
      `rate limited: this operation costs ${cost} and this client may spend ${costPerSecond} a second (${burst} at once); retry in ${retryAfter} s`,
      {
        extensions: {
          code: 'RATE_LIMITED',
          retryAfterSeconds: retryAfter,
          http: { status: 429, headers: { 'retry-after': String(retryAfter) } },
        },
      },
    )
  }

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args)
      if (error) setResultAndStopExecution({ errors: [error] })
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args)
      if (error) setResultAndStopExecution({ errors: [error] })
    },
  }
}

/** A peer address as a client key: IPv4 as it is (an IPv4-mapped IPv6 address too), IPv6 as its /64. */
export function clientAddressKey(address: string | undefined): string | undefined {
  if (!address) return undefined
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]
  if (isIP(address) !== 6) return address
  if (address === '::1') return address
  const [head, tail = ''] = address.toLowerCase().split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}

/** Whether a client key is a loopback address (as `clientAddressKey` gives it). */
function isLoopback(key: string): boolean {
  return key === '::1' || /^127\.\d+\.\d+\.\d+$/.test(key)
}
