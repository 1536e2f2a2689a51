import { type Chain, defineChain } from 'viem'

/** The devnet's chain id (anvil's default). */
export const devnetChainId = 31337

/** A viem chain for a chain id served at `rpcUrl` (the devnet, or any EVM network by RPC URL and chain id). */
export function chainOf(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === devnetChainId ? 'Anvil' : `Chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
}
