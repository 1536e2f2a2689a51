import type { Logger } from 'pino'
import { type Address, formatEther, type Hex, type PublicClient } from 'viem'
import { providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { TesseraError } from '../protocol/errors.ts'
import { type Hardware, sameHardware } from '../protocol/hardware.ts'
import type { TxSender } from './txSender.ts'

/** The agent cannot get registered and staked; not retryable: a person must act (fund the wallet, fix a flag). */
export class AgentSetupError extends TesseraError {
  override name = 'AgentSetupError'
}

export type EnsureProviderParameters = {
  publicClient: PublicClient
  sender: TxSender
  provider: Address
  registry: Address
  token: Address
  hardware: Hardware
  pricePerUnit: bigint
  /** As the registry stores it (`encodeRegion`). */
  region: Hex
  /** Stake to hold; default minStake × 10. */
  stake?: bigint
  log: Logger
}

export type EnsureProviderReturnType = {
  registered: 'new' | 'updated' | 'unchanged'
  staked: bigint
  stake: bigint
  minStake: bigint
  unpaused: boolean
}

/**
 * Makes the on-chain provider match this agent, idempotently: registers it if unregistered, updates hardware,
 * ask or region when they changed, unpauses it, and approves + stakes up to the target. Throws
 * `AgentSetupError` when the wallet holds too little TSR.
 */
export async function ensureProvider(parameters: EnsureProviderParameters): Promise<EnsureProviderReturnType> {
  const { publicClient, sender, provider, registry, token, hardware, pricePerUnit, region, log } = parameters
  if (pricePerUnit <= 0n) throw new AgentSetupError('pricePerUnit must be positive')
  const read = () =>
    publicClient.readContract({ address: registry, abi: providerRegistryAbi, functionName: 'getProvider', args: [provider] })
  const minStake = await publicClient.readContract({ address: registry, abi: providerRegistryAbi, functionName: 'minStake' })
  const target = parameters.stake ?? minStake * 10n
  let current = await read()
  let registered: EnsureProviderReturnType['registered'] = 'unchanged'
  if (!current.registered) {
    const { hash } = await sender.send({
      address: registry,
      abi: providerRegistryAbi,
      functionName: 'register',
      args: [hardware, pricePerUnit, region, '0x'],
    })
    log.info({ txHash: hash, pricePerUnit: pricePerUnit.toString(), hardware }, 'provider registered')
    registered = 'new'
  } else if (
    !sameHardware(current.hardware, hardware) ||
    current.pricePerUnit !== pricePerUnit ||
    current.region.toLowerCase() !== region.toLowerCase()
  ) {
    const { hash } = await sender.send({
      address: registry,
      abi: providerRegistryAbi,
      functionName: 'update',
      args: [hardware, pricePerUnit, region],
    })
    log.info({ txHash: hash, pricePerUnit: pricePerUnit.toString(), hardware }, 'provider updated')
    registered = 'updated'
  }
  current = await read()
  let unpaused = false
  if (current.paused) {
    await sender.send({ address: registry, abi: providerRegistryAbi, functionName: 'unpause', args: [] })
    log.info('provider unpaused')
    unpaused = true
  }
  // Stake that is unbonding does not count towards eligibility, so top up against stake − pendingUnstake.
  const effective = current.stake - current.pendingUnstake
  let staked = 0n
  if (effective < target) {
    const need = target - effective
    const balance = await publicClient.readContract({ address: token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [provider] })
    if (balance < need) {
      const [holds, short, total] = [balance, need, target].map((wei) => formatEther(wei))
      throw new AgentSetupError(`provider ${provider} holds ${holds} TSR but needs ${short} TSR more to stake ${total} TSR`, {
        details: `balance ${balance} wei, stake ${current.stake} wei, pending unstake ${current.pendingUnstake} wei, target ${target} wei`,
        metaMessages: ['Fund the wallet with TSR (the devnet deployer holds the genesis supply) or lower --stake.'],
      })
    }
    const allowance = await publicClient.readContract({
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'allowance',
      args: [provider, registry],
    })
    if (allowance < need) await sender.send({ address: token, abi: tesseraTokenAbi, functionName: 'approve', args: [registry, need] })
    const { hash } = await sender.send({ address: registry, abi: providerRegistryAbi, functionName: 'stake', args: [need] })
    log.info({ txHash: hash, amount: need.toString(), target: target.toString() }, 'stake topped up')
    staked = need
  }
  return { registered, staked, stake: current.stake + staked, minStake, unpaused }
}
