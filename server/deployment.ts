import type { Address } from 'viem'

/**
 * The part of `contracts/deployments/<chainId>.json` the server reads (structurally a subset of
 * the contracts package's `Deployment`, so either can be passed).
 */
export type ServerDeployment = {
  chainId: number
  startBlock?: number
  matcher?: Address | string
  contracts: Record<
    'TesseraToken' | 'ProviderRegistry' | 'JobMarket' | 'EmissionController',
    { address: Address | string; blockNumber: number }
  >
  params: Record<string, unknown>
}

/** A deployment parameter as bigint (deployment JSON carries big values as decimal strings). */
export function paramBigInt(deployment: ServerDeployment, name: string, fallback?: bigint): bigint {
  const v = deployment.params[name]
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return BigInt(v)
  if (fallback !== undefined) return fallback
  throw new Error(`deployment.params.${name} is missing`)
}
