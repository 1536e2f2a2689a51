import { createPublicClient, createWalletClient, http, parseEther } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { providerRegistryAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { Stack } from '../../devnet/startStack.ts'
import { defaultHardware } from '../../devnet/testSystem.ts'
import { encodeRegion } from '../../protocol/region.ts'
import { sendHeartbeat } from './market.ts'

/**
 * A provider with no agent: registered and staked (twice the minimum) like any provider, live by heartbeats every 5 s
 * until `stop()`, and never running anything it is assigned. Its key must hold TSR (a stack's `spareProviders`).
 */
export async function startGhostProvider(stack: Stack, ghost: PrivateKeyAccount): Promise<{ stop: () => void }> {
  const client = createPublicClient({ transport: http(stack.rpcUrl) })
  const wallet = createWalletClient({ account: ghost, chain: foundry, transport: http(stack.rpcUrl) })
  const { ProviderRegistry: registry, TesseraToken: token } = stack.deployment.contracts
  const stake = stack.deployment.params.registry.minStake * 2n
  for (const call of [
    {
      address: registry.address,
      abi: providerRegistryAbi,
      functionName: 'register',
      args: [defaultHardware, parseEther('0.001'), encodeRegion('eu'), '0x01'],
    },
    { address: token.address, abi: tesseraTokenAbi, functionName: 'approve', args: [registry.address, stake] },
    { address: registry.address, abi: providerRegistryAbi, functionName: 'stake', args: [stake] },
  ] as const) {
    const hash = await wallet.writeContract(call as never)
    await client.waitForTransactionReceipt({ hash })
  }
  const beat = () => sendHeartbeat(stack.graphqlUrl, ghost).catch(() => undefined)
  await beat()
  const heartbeats = setInterval(beat, 5_000)
  return { stop: () => clearInterval(heartbeats) }
}
