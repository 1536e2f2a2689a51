import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  type EIP1193Provider,
  http,
  type Transport,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { devKeys } from '../../../devnet/devAccounts.ts'
import type { AppConfig } from '../appConfig.ts'
import type { PreparedTransaction, Wallet } from './types.ts'

declare global {
  interface Window {
    ethereum?: EIP1193Provider
  }
}

const chainOf = (config: AppConfig, rpcUrl = config.rpcUrl ?? ''): Chain =>
  defineChain({
    id: config.chainId,
    name: config.devnet ? 'Tessera devnet' : `Chain ${config.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })

function wallet(
  parameters: Pick<Wallet, 'address' | 'kind' | 'label' | 'signMessage'> & {
    account: Account | `0x${string}`
    transport: Transport
    chain: Chain
  },
): Wallet {
  const { address, account, transport, chain, kind, label, signMessage } = parameters
  const walletClient = createWalletClient({ account, transport, chain })
  const publicClient = createPublicClient({ transport, chain, pollingInterval: 250 })
  const send = async (transactions: PreparedTransaction[], onSent?: (index: number, hash: `0x${string}`) => void) => {
    const hashes: `0x${string}`[] = []
    for (const [index, tx] of transactions.entries()) {
      if (tx.from.toLowerCase() !== address.toLowerCase())
        throw new Error(`${tx.functionName} must be signed by ${tx.from}, not the connected ${address}`)
      const hash = await walletClient
        .sendTransaction({ to: tx.to, data: tx.data as `0x${string}`, value: BigInt(tx.value), gas: tx.gas ? BigInt(tx.gas) : undefined })
        .catch((error: Error) => {
          throw new Error(`${tx.functionName} was not sent: ${'shortMessage' in error ? error.shortMessage : error.message}`)
        })
      onSent?.(index, hash)
      const receipt = await publicClient.waitForTransactionReceipt({ hash })
      if (receipt.status !== 'success') throw new Error(`${tx.functionName} reverted (transaction ${hash})`)
      hashes.push(hash)
    }
    return hashes
  }
  return { address, kind, label, signMessage, send }
}

/** Signs with dev key `index` (anvil's well-known accounts) in the page, sending through the devnet's RPC. Only on a devnet. */
export function connectDevKey(config: AppConfig, index: number): Wallet {
  if (!config.devnet || !config.rpcUrl) throw new Error('Dev keys sign only on a devnet whose server publishes its RPC URL')
  const key = devKeys[index]
  if (!key) throw new Error(`There is no dev account #${index} (0 to ${devKeys.length - 1})`)
  const account = privateKeyToAccount(key)
  return wallet({
    address: account.address,
    account,
    kind: 'dev',
    label: `Dev account #${index}`,
    transport: http(config.rpcUrl),
    chain: chainOf(config),
    signMessage: (message) => account.signMessage({ message }),
  })
}

/**
 * Asks the browser's wallet (EIP-1193, `window.ethereum`) for an account, and to switch to the server's chain when it
 * is on another. Throws with a message for a person when there is no wallet or the request is refused.
 */
export async function connectInjected(config: AppConfig): Promise<Wallet> {
  const ethereum = window.ethereum
  if (!ethereum) throw new Error('No browser wallet found: install one, or use a dev account on the devnet')
  const [address] = (await ethereum.request({ method: 'eth_requestAccounts' })) as `0x${string}`[]
  if (!address) throw new Error('The wallet shared no account')
  const chainId = Number.parseInt((await ethereum.request({ method: 'eth_chainId' })) as string, 16)
  if (chainId !== config.chainId)
    await ethereum
      .request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${config.chainId.toString(16)}` }] })
      .catch(() => {
        throw new Error(`The wallet is on chain ${chainId}; switch it to chain ${config.chainId}`)
      })
  const transport = custom(ethereum)
  return wallet({
    address,
    account: address,
    kind: 'injected',
    label: 'Browser wallet',
    transport,
    chain: chainOf(config),
    signMessage: (message) =>
      ethereum.request({
        method: 'personal_sign',
        params: [`0x${Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, '0')).join('')}`, address],
      }) as Promise<`0x${string}`>,
  })
}
