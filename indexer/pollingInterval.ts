import { devnetChainId } from '../protocol/chain.ts'

/** Ponder's floor: its config refuses a `pollingInterval` under 100 ms. */
export const minPollingIntervalMs = 100

/**
 * How often Ponder asks the chain for its latest block (ms): `TESSERA_POLLING_INTERVAL_MS` when set, else Ponder's
 * floor on the devnet and 1 s elsewhere. Anvil answers a poll (a header, patches/ponder) in well under a millisecond.
 * Where Ponder also subscribes to new heads ({@link webSocketUrlOf}) the polls only find what a subscription can't
 * tell: the head at start, and a head a reorg replaced without a new block.
 */
export function pollingIntervalOf(chainId: number, env: NodeJS.ProcessEnv = process.env): number {
  if (env.TESSERA_POLLING_INTERVAL_MS) return Number(env.TESSERA_POLLING_INTERVAL_MS)
  return chainId === devnetChainId ? minPollingIntervalMs : 1000
}

/**
 * Where Ponder subscribes to new heads (`eth_subscribe("newHeads")`), beside its polls (patches/ponder): each block
 * then reaches it as it is mined instead of at the next poll, half a polling interval later on average (bench/indexer.ts
 * measures the lag). `TESSERA_WS_URL` when set (`off`: none); else, on the devnet, anvil's own WebSocket endpoint, on
 * `rpcUrl`'s host and port; elsewhere none.
 */
export function webSocketUrlOf(chainId: number, rpcUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.TESSERA_WS_URL
  if (configured) return configured === 'off' ? undefined : configured
  return chainId === devnetChainId ? rpcUrl.replace(/^http/, 'ws') : undefined
}

/** Ponder's JSON-RPC client starts each endpoint at 20 requests a second and raises that only under steady load. */
const ponderStartingRequestsPerSecond = 20
/** Requests a second the devnet's anvil is given room for: it answers in well under a millisecond. */
const devnetRequestsPerSecond = 200

/**
 * The endpoints Ponder is given for `rpcUrl`: on the devnet the same one several times over. Ponder limits each endpoint
 * to {@link ponderStartingRequestsPerSecond} requests a second at first, counted per wall-clock second, and holds the
 * rest back until the next second. Polling every 100 ms takes half of that, and on the devnet each transaction of a
 * quiet stack is a block of its own, each another request or two: a few jobs in a second used it up, and their blocks
 * waited up to a second to be indexed (most of a quiet job's time). Each copy counts on its own; Ponder spreads its
 * requests across them. Elsewhere the provider's own limits stand.
 */
export function rpcEndpointsOf(chainId: number, rpcUrl: string): string | string[] {
  if (chainId !== devnetChainId) return rpcUrl
  return Array.from({ length: devnetRequestsPerSecond / ponderStartingRequestsPerSecond }, () => rpcUrl)
}
