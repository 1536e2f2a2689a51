import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createNonceManager, jsonRpc } from 'viem/nonce'
import { chainOf } from '../../protocol/chain.ts'

export type ChainClients = {
  publicClient: PublicClient
  /** Present when the server has a key (the matcher/keeper account). */
  walletClient?: WalletClient<Transport, Chain, Account>
}

/**
 * One public client, and with `serverKey` one wallet client whose account uses viem's nonce
 * manager, so the matcher and keeper can send back-to-back without nonce races.
 */
export function createChainClients(parameters: { rpcUrl: string; chainId: number; serverKey?: Hex }): ChainClients {
  const chain = chainOf(parameters.chainId, parameters.rpcUrl)
  const transport = http(parameters.rpcUrl, { retryCount: 2, timeout: 15_000 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient
  if (!parameters.serverKey) return { publicClient }
  // Its own nonce manager, not viem's process-wide one: that one caches per (address, chain id), and a
  // fresh devnet reuses chain id 31337, so a second server in the same process would send stale nonces.
  const account = privateKeyToAccount(parameters.serverKey, { nonceManager: createNonceManager({ source: jsonRpc() }) })
  const walletClient = createWalletClient({ chain, transport, account })
  return { publicClient, walletClient }
}
