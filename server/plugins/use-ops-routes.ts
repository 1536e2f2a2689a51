import type { Plugin } from 'graphql-yoga'
import type { ServerMetrics } from '../metrics.ts'

/** What `/ready` reports: 503 with the reason and any `details` (bigints as decimal strings) unless `ok`. */
export type Readiness = { ok: boolean; reason?: string; details?: Record<string, unknown> }

/** JSON with bigints as decimal strings. */
const stringify = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))

/**
 * `/ready` (200 when `ready()` resolves ok, else 503 with the reason and details) and `/metrics` (Prometheus text).
 * `/health` is Yoga's own liveness route; `/deployment` is `useDeploymentRoute`'s.
 */
export function useOpsRoutes(options: { metrics: ServerMetrics; ready: () => Promise<Readiness> }): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return
      if (url.pathname === '/ready') {
        const r: Readiness = await options.ready().catch((error: Error) => ({ ok: false, reason: error.message }))
        return endResponse(
          new Response(stringify(r.ok ? { ready: true } : { ready: false, reason: r.reason, ...r.details }), {
            status: r.ok ? 200 : 503,
            headers: { 'content-type': 'application/json' },
          }),
        )
      }
      if (url.pathname === '/metrics') {
        return endResponse(
          new Response(await options.metrics.render(), { headers: { 'content-type': options.metrics.registry.contentType } }),
        )
      }
    },
  }
}
