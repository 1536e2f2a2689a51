import type { Plugin } from 'graphql-yoga'
import { type Deployment, stringifyDeployment } from '../../protocol/deployment.ts'
import type { ServerMetrics } from '../metrics.ts'

/**
 * `/deployment` (the deployment JSON, bigints as decimal strings: `parseDeployment` reads it), `/ready` (200 when
 * `ready()` resolves true, else 503 with the reason) and `/metrics` (Prometheus text). `/health` is Yoga's own
 * liveness route.
 */
export function useOpsRoutes(options: {
  deployment: Deployment
  metrics: ServerMetrics
  ready: () => Promise<{ ok: boolean; reason?: string }>
}): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return
      if (url.pathname === '/deployment') {
        return endResponse(
          new Response(stringifyDeployment(options.deployment), { headers: { 'content-type': 'application/json; charset=utf-8' } }),
        )
      }
      if (url.pathname === '/ready') {
        const r = await options.ready().catch((error: Error) => ({ ok: false, reason: error.message }))
        return endResponse(
          new Response(JSON.stringify(r.ok ? { ready: true } : { ready: false, reason: r.reason }), {
            status: r.ok ? 200 : 503,
            headers: { 'content-type': 'application/json' },
          }),
        )
      }
      if (url.pathname === '/metrics') {
        return endResponse(
          new Response(await options.metrics.registry.metrics(), { headers: { 'content-type': options.metrics.registry.contentType } }),
        )
      }
    },
  }
}
