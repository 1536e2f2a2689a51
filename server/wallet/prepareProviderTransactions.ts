import { type Address, encodeFunctionData, type Hex, isHex, maxUint256 } from 'viem'
import { emissionControllerAbi, providerRegistryAbi } from '../../contracts/generated/index.ts'
import { hardwareProblems } from '../../protocol/hardware.ts'
import { encodeRegion, InvalidRegionError } from '../../protocol/region.ts'
import { claimableRewardsOf, type EpochReward } from './balances.ts'
import {
  approvalFor,
  formatTsr,
  InvalidArgumentError,
  type PreparedTransaction,
  prepareTransaction,
  type WalletContext,
} from './preparedTransaction.ts'

/** A provider's machine, ask and region as `register` and `update` take them. */
export type ProviderSettings = {
  /** Canonical GPU model id (uint32); 0 = unknown or CPU only. */
  gpuModel: bigint
  gpuCount: number
  /** uint32. */
  vramMiB: bigint
  cpuCores: number
  /** uint32. */
  memoryMiB: bigint
  /** Inference units one device serves per epoch (uint32). */
  benchmarkScore: bigint
  /** TSR wei per unit: positive. */
  pricePerUnit: bigint
  /** A label of at most 32 bytes (`eu`) or a bytes32; empty or absent: none. */
  region?: string | null
}

/** The longest encryption key `prepareRegisterProvider` takes: a public key is tens of bytes; more is a mistake. */
const maxEncryptionKeyBytes = 4096

/** Claims one `prepareClaimRewards` prepares at most; the rest come in a later call. */
export const maxClaimsPerCall = 64

const registry = (wallet: Pick<WalletContext, 'deployment'>) =>
  ({ address: wallet.deployment.contracts.ProviderRegistry.address, abi: providerRegistryAbi }) as const

const readProvider = (wallet: WalletContext, provider: Address) =>
  wallet.publicClient.readContract({ ...registry(wallet), functionName: 'getProvider', args: [provider] })

/** `settings` as the registry's `Hardware`, ask and bytes32 region; refuses, naming each field, what it can't hold. */
function registryArgs(settings: ProviderSettings) {
  const problems = hardwareProblems(settings).map((p) => ({ field: `provider.${p.field}`, message: `provider.${p.message}` }))
  if (settings.pricePerUnit <= 0n || settings.pricePerUnit > maxUint256)
    problems.push({
      field: 'provider.pricePerUnit',
      message: `provider.pricePerUnit must be positive (wei per unit), got ${settings.pricePerUnit}`,
    })
  let region: Hex | undefined
  try {
    region = encodeRegion(settings.region ?? undefined)
  } catch (error) {
    if (!(error instanceof InvalidRegionError)) throw error
    problems.push({ field: 'provider.region', message: `provider.region: ${error.shortMessage}` })
  }
  if (problems.length || !region)
    throw new InvalidArgumentError(problems.map((p) => p.field).join(', '), problems.map((p) => p.message).join('; '))
  const hardware = {
    gpuModel: Number(settings.gpuModel),
    gpuCount: settings.gpuCount,
    vramMiB: Number(settings.vramMiB),
    cpuCores: settings.cpuCores,
    memoryMiB: Number(settings.memoryMiB),
    benchmarkScore: Number(settings.benchmarkScore),
  }
  return { hardware, pricePerUnit: settings.pricePerUnit, region }
}

/**
 * `register(hardware, pricePerUnit, region, encryptionPubKey)` from `from`. Refused, naming each field, for hardware
 * outside its uint16/uint32 fields, an ask of 0 or less, a region label over 32 bytes, a key that isn't hex, and an
 * account already registered (then `prepareUpdateProvider`). A provider must then stake (`prepareStake`).
 */
export async function prepareRegisterProvider(
  wallet: WalletContext,
  parameters: { from: Address; provider: ProviderSettings; encryptionPubKey?: string | null },
): Promise<PreparedTransaction> {
  const { from } = parameters
  const { hardware, pricePerUnit, region } = registryArgs(parameters.provider)
  const key = parameters.encryptionPubKey ?? '0x'
  if (!isHex(key, { strict: true }) || key.length % 2 !== 0 || (key.length - 2) / 2 > maxEncryptionKeyBytes)
    throw new InvalidArgumentError(
      'encryptionPubKey',
      `encryptionPubKey must be 0x-prefixed hex of whole bytes, at most ${maxEncryptionKeyBytes}, got ${JSON.stringify(key.slice(0, 80))}`,
    )
  if ((await readProvider(wallet, from)).registered)
    throw new InvalidArgumentError('from', `from ${from} is registered already: change its settings with prepareUpdateProvider`)
  return prepareTransaction(wallet, {
    from,
    contract: 'ProviderRegistry',
    functionName: 'register',
    data: encodeFunctionData({ abi: providerRegistryAbi, functionName: 'register', args: [hardware, pricePerUnit, region, key] }),
    description: `Register as a provider asking ${formatTsr(pricePerUnit)} a unit; then stake to be assigned jobs`,
  })
}

/** `update(hardware, pricePerUnit, region)` from `from`; refused as `prepareRegisterProvider` is, and for an unregistered account. */
export async function prepareUpdateProvider(
  wallet: WalletContext,
  parameters: { from: Address; provider: ProviderSettings },
): Promise<PreparedTransaction> {
  const { from } = parameters
  const { hardware, pricePerUnit, region } = registryArgs(parameters.provider)
  if (!(await readProvider(wallet, from)).registered)
    throw new InvalidArgumentError('from', `from ${from} is not a registered provider: register with prepareRegisterProvider first`)
  return prepareTransaction(wallet, {
    from,
    contract: 'ProviderRegistry',
    functionName: 'update',
    data: encodeFunctionData({ abi: providerRegistryAbi, functionName: 'update', args: [hardware, pricePerUnit, region] }),
    description: `Update your provider settings, asking ${formatTsr(pricePerUnit)} a unit (jobs already assigned keep their ask)`,
  })
}

function checkAmount(amount: bigint): void {
  if (amount <= 0n || amount > maxUint256) throw new InvalidArgumentError('amount', `amount must be positive (TSR wei), got ${amount}`)
}

/**
 * `stake(amount)` from `from`, after an `approve` of `amount` when the registry's allowance is short. Refused for an
 * amount of 0 or less, an unregistered account and a balance short of `amount`.
 */
export async function prepareStake(wallet: WalletContext, parameters: { from: Address; amount: bigint }): Promise<PreparedTransaction[]> {
  const { from, amount } = parameters
  checkAmount(amount)
  if (!(await readProvider(wallet, from)).registered)
    throw new InvalidArgumentError(
      'from',
      `from ${from} is not a registered provider: register with prepareRegisterProvider before staking`,
    )
  const approval = await approvalFor(wallet, { from, spender: 'ProviderRegistry', amount, purpose: 'the stake' })
  const stake = await prepareTransaction(wallet, {
    from,
    contract: 'ProviderRegistry',
    functionName: 'stake',
    data: encodeFunctionData({ abi: providerRegistryAbi, functionName: 'stake', args: [amount] }),
    description: `Stake ${formatTsr(amount)} as a provider`,
    estimate: approval.length === 0,
  })
  return [...approval, stake]
}

/**
 * `requestUnstake(amount)` from `from`: starts unbonding `amount` of its free stake, paid by `prepareWithdrawStake`
 * once the unbonding period has passed (a new request restarts the clock for everything pending). Refused for an amount
 * of 0 or less, or above the free stake (stake − locked collateral − already pending).
 */
export async function prepareUnstake(wallet: WalletContext, parameters: { from: Address; amount: bigint }): Promise<PreparedTransaction> {
  const { from, amount } = parameters
  checkAmount(amount)
  const free = await wallet.publicClient.readContract({ ...registry(wallet), functionName: 'freeStake', args: [from] })
  if (amount > free)
    throw new InvalidArgumentError(
      'amount',
      `amount ${amount} is more than from ${from}'s free stake ${free} (stake less locked collateral and what is unbonding already)`,
    )
  const unbonding = wallet.deployment.params.registry.unbondingPeriod
  return prepareTransaction(wallet, {
    from,
    contract: 'ProviderRegistry',
    functionName: 'requestUnstake',
    data: encodeFunctionData({ abi: providerRegistryAbi, functionName: 'requestUnstake', args: [amount] }),
    description: `Start unbonding ${formatTsr(amount)} of your stake: withdraw it ${unbonding} s later (prepareWithdrawStake)`,
  })
}

/** The registry's `withdraw()` from `from`: pays its unbonded stake. Refused while nothing is pending or it is still unbonding. */
export async function prepareWithdrawStake(wallet: WalletContext, parameters: { from: Address }): Promise<PreparedTransaction> {
  const { from } = parameters
  const [provider, block] = await Promise.all([readProvider(wallet, from), wallet.publicClient.getBlock({ blockTag: 'latest' })])
  if (provider.pendingUnstake === 0n)
    throw new InvalidArgumentError('from', `from ${from} has no stake unbonding: request it first (prepareUnstake)`)
  if (block.timestamp < provider.unstakeAvailableAt)
    throw new InvalidArgumentError(
      'from',
      `from ${from}'s ${formatTsr(provider.pendingUnstake)} is unbonding until ${provider.unstakeAvailableAt} (chain time ${block.timestamp})`,
    )
  return prepareTransaction(wallet, {
    from,
    contract: 'ProviderRegistry',
    functionName: 'withdraw',
    data: encodeFunctionData({ abi: providerRegistryAbi, functionName: 'withdraw' }),
    description: `Withdraw ${formatTsr(provider.pendingUnstake)} of unbonded stake`,
  })
}

/**
 * One `claim(epoch)` per closed epoch with a reward for `from`, oldest first, at most {@link maxClaimsPerCall}: the
 * named `epochs`, or else every epoch `claimableRewardsOf` finds. Refused for a named epoch that is negative, not
 * closed, or has no reward left for `from` (claimed already, or none earned), and when there is nothing to claim.
 */
export async function prepareClaimRewards(
  wallet: WalletContext,
  parameters: { from: Address; epochs?: readonly bigint[] | null },
): Promise<PreparedTransaction[]> {
  const { from, epochs } = parameters
  let rewards: EpochReward[]
  if (epochs?.length) {
    if (epochs.length > maxClaimsPerCall)
      throw new InvalidArgumentError('epochs', `epochs may name at most ${maxClaimsPerCall} epochs, got ${epochs.length}`)
    if (new Set(epochs.map(String)).size !== epochs.length)
      throw new InvalidArgumentError('epochs', 'epochs names an epoch more than once: each can be claimed once')
    const controller = { address: wallet.deployment.contracts.EmissionController.address, abi: emissionControllerAbi } as const
    const lastClosed = await wallet.publicClient.readContract({ ...controller, functionName: 'lastClosedEpoch' })
    rewards = await Promise.all(
      epochs.map(async (epoch, i): Promise<EpochReward> => {
        if (epoch < 0n) throw new InvalidArgumentError(`epochs[${i}]`, `epochs[${i}] must be 0 or more, got ${epoch}`)
        if (lastClosed === maxUint256 || epoch > lastClosed)
          throw new InvalidArgumentError(
            `epochs[${i}]`,
            `epochs[${i}]: epoch ${epoch} is not closed (${lastClosed === maxUint256 ? 'none has closed yet' : `the last closed is ${lastClosed}`})`,
          )
        const [usage, availability] = await wallet.publicClient.readContract({
          ...controller,
          functionName: 'claimable',
          args: [epoch, from],
        })
        if (usage + availability === 0n)
          throw new InvalidArgumentError(
            `epochs[${i}]`,
            `epochs[${i}]: epoch ${epoch} has no reward left for ${from} (claimed already, or none earned)`,
          )
        return { epoch, usage, availability, amount: usage + availability }
      }),
    )
  } else {
    rewards = (await claimableRewardsOf(wallet, from)).slice(0, maxClaimsPerCall)
    if (rewards.length === 0) throw new InvalidArgumentError('from', `from ${from} has no emission reward to claim in any closed epoch`)
  }
  return Promise.all(
    rewards.map((r) =>
      prepareTransaction(wallet, {
        from,
        contract: 'EmissionController',
        functionName: 'claim',
        data: encodeFunctionData({ abi: emissionControllerAbi, functionName: 'claim', args: [r.epoch] }),
        description: `Claim ${formatTsr(r.amount)} of emission rewards for epoch ${r.epoch} (usage ${formatTsr(r.usage)}, availability ${formatTsr(r.availability)})`,
      }),
    ),
  )
}
