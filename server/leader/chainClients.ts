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
import { chainOf } from '../../protocol/chain.ts'

export type ChainClients = {
  publicClient: PublicClient
  /** Present when the server has a key (the matcher/keeper account). */
  walletClient?: WalletClient<Transport, Chain, Account>
}

/**
 * One public client, and with `serverKey` one wallet client for the matcher/keeper account. The account has no
 * nonce manager: the leader's transaction sender picks every nonce from the chain's pending count, so a transaction a
 * reorg dropped leaves no gap (a local counter would go on past it and every later transaction would queue forever).
 */
export function createChainClients(parameters: { rpcUrl: string; chainId: number; serverKey?: Hex }): ChainClients {
  const chain = chainOf(parameters.chainId, parameters.rpcUrl)
  const transport = http(parameters.rpcUrl, { retryCount: 2, timeout: 15_000 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient
  if (!parameters.serverKey) return { publicClient }
  const account = privateKeyToAccount(parameters.serverKey)
  const walletClient = createWalletClient({ chain, transport, account })
  return { publicClient, walletClient }
}
