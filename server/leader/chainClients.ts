import { createPublicClient, createWalletClient, http, nonceManager, type Hex, type PublicClient, type WalletClient, type Account, type Chain, type Transport } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { localChain } from '../../contracts/deploy.ts'

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
  const chain = localChain(parameters.chainId, parameters.rpcUrl)
  const transport = http(parameters.rpcUrl, { retryCount: 2, timeout: 15_000 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient
  if (!parameters.serverKey) return { publicClient }
  const account = privateKeyToAccount(parameters.serverKey, { nonceManager })
  const walletClient = createWalletClient({ chain, transport, account })
  return { publicClient, walletClient }
}
