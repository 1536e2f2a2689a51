import type { Plugin } from 'graphql-yoga'
import { contractAbis } from '../../protocol/abis.ts'
import { type Deployment, stringifyDeployment } from '../../protocol/deployment.ts'

/**
 * `GET /deployment`: the deployment JSON (chain id, every contract's address and deployment block, the parameters;
 * bigints as decimal strings, so `parseDeployment` reads it as it reads the file) with `abis`, each contract's ABI by
 * name, so a wallet or frontend needs nothing but this server to encode calls and decode events. Built once.
 */
export function useDeploymentRoute(options: { deployment: Deployment }): Plugin {
  const deployment = JSON.parse(stringifyDeployment(options.deployment)) as Record<string, unknown>
  const body = `${JSON.stringify({ ...deployment, abis: contractAbis })}\n`
  return {
    onRequest({ url, request, endResponse }) {
      if (url.pathname !== '/deployment' || (request.method !== 'GET' && request.method !== 'HEAD')) return
      endResponse(new Response(body, { headers: { 'content-type': 'application/json; charset=utf-8' } }))
    },
  }
}
