import path from 'node:path'
import type { Command } from 'commander'
import type { Logger } from 'pino'
import { type Address, createPublicClient, createWalletClient, formatEther, type Hex, http, maxUint256, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { TxSender } from '../agent/txSender.ts'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import {
  accountKey,
  ConfigError,
  oneShotLogger,
  printJson,
  progress,
  requiredAccountKey,
  resolveSettings,
  settingsCommand,
} from './config.ts'

/** The account settings of `tessera provider`: a key is needed to send (no default: a provider's key is its own). */
const accountSettings = [
  'server',
  'rpc',
  { name: 'keyFile', description: "file holding the provider's private key (or TESSERA_PRIVATE_KEY)" },
  'privateKey',
] as const

/** What a provider command that sends transactions works with. */
type ProviderContext = {
  deployment: Deployment
  provider: Address
  publicClient: PublicClient
  sender: TxSender
  log: Logger
}

/** The deployment (from the server), clients on the RPC, and the agent's transaction sender for the key. */
async function providerContext(command: Command, config: { server: string; rpc: string }, privateKey: Hex): Promise<ProviderContext> {
  const { fetchDeployment } = await import('../client/serverClient.ts')
  const { TxSender } = await import('../agent/txSender.ts')
  const deployment = await fetchDeployment({ serverUrl: config.server })
  const account = privateKeyToAccount(privateKey)
  const chain = chainOf(deployment.chainId, config.rpc)
  const transport = http(config.rpc)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient
  const rpcChainId = await publicClient.getChainId()
  if (rpcChainId !== deployment.chainId)
    throw new ConfigError(`--rpc ${config.rpc} serves chain ${rpcChainId}, but the server's deployment is on chain ${deployment.chainId}`)
  const wallet = createWalletClient({ chain, transport, account, pollingInterval: 250 })
  const log = oneShotLogger(command)
  return { deployment, provider: account.address, publicClient, sender: new TxSender(publicClient, wallet, account, log), log }
}

const providerQuery = /* GraphQL */ `
  query Provider($address: Address!) {
    provider(address: $address) {
      address registered paused live lastHeartbeatAt pricePerUnit region
      stake locked pendingUnstake freeStake unstakeAvailableAt
      gpuModel gpuCount vramMiB benchmarkScore capacity reputation
      jobsCompleted jobsFailed noShowCount slashCount challengesPassed challengesFailed
      earnings { fees slashShares bondShares earnedTotal slashedTotal withdrawn }
    }
  }`

const statusSettings = [...accountSettings, 'address'] as const
const registerSettings = [
  ...accountSettings,
  'price',
  'region',
  'gpuModel',
  'vramMib',
  'benchmarkScore',
  { name: 'dataDir', description: 'data directory: the measured benchmark is cached in <dir>/agent, where `tessera agent` reads it' },
] as const
const stakeSettings = [...accountSettings, { name: 'amount', description: 'TSR to add to the stake (required)' }] as const
const unstakeSettings = [...accountSettings, { name: 'amount', description: 'TSR of free stake to start unbonding' }, 'complete'] as const
const withdrawSettings = [...accountSettings, 'minWithdraw'] as const
const claimSettings = [...accountSettings, 'epochs'] as const

/** Adds `status`, `register`, `stake`, `unstake`, `withdraw` and `claim` to `tessera provider`. */
export function addProviderCommands(provider: Command): void {
  settingsCommand(
    provider,
    'status',
    'a provider as the server indexed it (stake, ask, liveness, reputation, earnings), with what JobMarket owes it now',
    statusSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, statusSettings)
    const key = config.address ? undefined : accountKey(config)
    const address = config.address ?? (key ? privateKeyToAccount(key).address : undefined)
    if (!address) throw new ConfigError('give --address <address>, or a key (--key-file or TESSERA_PRIVATE_KEY) to read its address')
    const { fetchDeployment, graphqlRequest } = await import('../client/serverClient.ts')
    const [data, deployment] = await Promise.all([
      graphqlRequest<{ provider: Record<string, unknown> | null }>({
        serverUrl: config.server,
        query: providerQuery,
        variables: { address },
      }),
      fetchDeployment({ serverUrl: config.server }),
    ])
    const publicClient = createPublicClient({ chain: chainOf(deployment.chainId, config.rpc), transport: http(config.rpc) })
    const [owed, balance] = await Promise.all([
      publicClient.readContract({
        address: deployment.contracts.JobMarket.address,
        abi: jobMarketAbi,
        functionName: 'owed',
        args: [address],
      }),
      publicClient.readContract({
        address: deployment.contracts.TesseraToken.address,
        abi: tesseraTokenAbi,
        functionName: 'balanceOf',
        args: [address],
      }),
    ])
    printJson({ address, registered: false, ...data.provider, owed, balance })
  })

  settingsCommand(
    provider,
    'register',
    "register the key's address as a provider (or update its ask, region and hardware, and unpause it), without staking",
    registerSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, registerSettings)
    const privateKey = requiredAccountKey(config, 'provider register')
    const { encodeRegion } = await import('../protocol/region.ts')
    const region = encodeRegion(config.region)
    const ctx = await providerContext(command, config, privateKey)
    const { detectHardware } = await import('../agent/detectHardware.ts')
    const dataDir = path.join(config.dataDir, 'agent')
    const hardware = await detectHardware({
      epochLength: ctx.deployment.params.emission.epochLength,
      overrides: {
        ...(config.gpuModel !== undefined ? { gpuModel: config.gpuModel } : {}),
        ...(config.vramMib !== undefined ? { vramMiB: config.vramMib } : {}),
        ...(config.benchmarkScore !== undefined ? { benchmarkScore: config.benchmarkScore } : {}),
      },
      benchmark: async () => {
        progress('measuring inference throughput (cached in the data directory; --benchmark-score skips it)…')
        const { InferencePool } = await import('../agent/inferencePool.ts')
        const { benchmarkThroughput, cachedBenchmark } = await import('../agent/cachedBenchmark.ts')
        const pool = new InferencePool({ size: 1 })
        try {
          return await cachedBenchmark({ dataDir, measure: () => benchmarkThroughput(pool), log: ctx.log })
        } finally {
          await pool.close()
        }
      },
    })
    const { ensureProvider } = await import('../agent/ensureProvider.ts')
    const result = await ensureProvider({
      publicClient: ctx.publicClient,
      sender: ctx.sender,
      provider: ctx.provider,
      registry: ctx.deployment.contracts.ProviderRegistry.address,
      token: ctx.deployment.contracts.TesseraToken.address,
      hardware,
      pricePerUnit: config.price,
      region,
      // Registering stakes nothing: `tessera provider stake` does.
      stake: 0n,
      log: ctx.log,
    })
    if (result.stake < result.minStake)
      progress(
        `registered; the matcher takes a provider from ${formatEther(result.minStake)} TSR staked: \`tessera provider stake --amount <tsr>\``,
      )
    printJson({
      provider: ctx.provider,
      registered: result.registered,
      unpaused: result.unpaused,
      stake: result.stake,
      minStake: result.minStake,
      hardware,
    })
  })

  settingsCommand(provider, 'stake', "add TSR from the key's balance to its stake (approving the registry first)", stakeSettings).action(
    async (_options, command: Command) => {
      const config = resolveSettings(command, stakeSettings)
      if (config.amount === undefined) throw new ConfigError('--amount <tsr> is required: the TSR to stake')
      const amount = config.amount
      const privateKey = requiredAccountKey(config, 'provider stake')
      const ctx = await providerContext(command, config, privateKey)
      const { ProviderRegistry: registry, TesseraToken: token } = ctx.deployment.contracts
      const read = <const name extends 'balanceOf' | 'allowance'>(
        functionName: name,
        args: readonly [Address] | readonly [Address, Address],
      ) => ctx.publicClient.readContract({ address: token.address, abi: tesseraTokenAbi, functionName, args } as never) as Promise<bigint>
      const balance = await read('balanceOf', [ctx.provider])
      if (balance < amount)
        throw new ConfigError(
          `${ctx.provider} holds ${formatEther(balance)} TSR, less than the --amount ${formatEther(amount)} TSR to stake`,
        )
      const provider = await ctx.publicClient.readContract({
        address: registry.address,
        abi: providerRegistryAbi,
        functionName: 'getProvider',
        args: [ctx.provider],
      })
      if (!provider.registered) throw new ConfigError(`${ctx.provider} is not a registered provider: \`tessera provider register\` first`)
      if ((await read('allowance', [ctx.provider, registry.address])) < amount)
        await ctx.sender.send({ address: token.address, abi: tesseraTokenAbi, functionName: 'approve', args: [registry.address, amount] })
      const { hash } = await ctx.sender.send({ address: registry.address, abi: providerRegistryAbi, functionName: 'stake', args: [amount] })
      printJson({ provider: ctx.provider, staked: amount, stake: provider.stake + amount, txHash: hash })
    },
  )

  settingsCommand(
    provider,
    'unstake',
    'start unbonding free stake (--amount), or once the unbonding period has passed pay it out (--complete)',
    unstakeSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, unstakeSettings)
    if ((config.amount === undefined) === !config.complete)
      throw new ConfigError('give --amount <tsr> to start unbonding, or --complete to pay out what has unbonded (one of the two)')
    const privateKey = requiredAccountKey(config, 'provider unstake')
    const ctx = await providerContext(command, config, privateKey)
    const registry = { address: ctx.deployment.contracts.ProviderRegistry.address, abi: providerRegistryAbi } as const
    if (config.complete) {
      const { hash } = await ctx.sender.send({ ...registry, functionName: 'withdraw', args: [] })
      return printJson({ provider: ctx.provider, txHash: hash })
    }
    const { hash } = await ctx.sender.send({ ...registry, functionName: 'requestUnstake', args: [config.amount as bigint] })
    const after = await ctx.publicClient.readContract({ ...registry, functionName: 'getProvider', args: [ctx.provider] })
    progress(
      `unbonding until ${new Date(Number(after.unstakeAvailableAt) * 1000).toISOString()}; then \`tessera provider unstake --complete\``,
    )
    printJson({ provider: ctx.provider, pendingUnstake: after.pendingUnstake, unstakeAvailableAt: after.unstakeAvailableAt, txHash: hash })
  })

  settingsCommand(
    provider,
    'withdraw',
    'pay out what JobMarket owes the key (fees, returned collateral, slash shares, refunds): JobMarket.withdraw',
    withdrawSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, withdrawSettings)
    const privateKey = requiredAccountKey(config, 'provider withdraw')
    const ctx = await providerContext(command, config, privateKey)
    const { createAgentMetrics } = await import('../agent/agentMetrics.ts')
    const { withdrawEarnings } = await import('../agent/withdrawEarnings.ts')
    const result = await withdrawEarnings({
      provider: ctx.provider,
      jobMarket: ctx.deployment.contracts.JobMarket.address,
      publicClient: ctx.publicClient,
      sender: ctx.sender,
      minWithdraw: config.minWithdraw,
      metrics: createAgentMetrics(),
      log: ctx.log,
    })
    if (result.withdrawn === 0n)
      progress(result.owed === 0n ? 'JobMarket owes this account nothing' : 'below --min-withdraw: nothing withdrawn')
    printJson({ provider: ctx.provider, owed: result.owed, withdrawn: result.withdrawn, txHash: result.txHash ?? null })
  })

  settingsCommand(
    provider,
    'claim',
    "claim the key's emission rewards of the latest closed epochs (--epochs of them): EmissionController.claim for each with a reward",
    claimSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, claimSettings)
    const privateKey = requiredAccountKey(config, 'provider claim')
    const ctx = await providerContext(command, config, privateKey)
    const controller = ctx.deployment.contracts.EmissionController.address
    const lastClosed = await ctx.publicClient.readContract({
      address: controller,
      abi: emissionControllerAbi,
      functionName: 'lastClosedEpoch',
    })
    if (lastClosed === maxUint256) {
      progress('no epoch has closed yet: nothing to claim')
      return printJson({ provider: ctx.provider, claimed: [], total: 0n })
    }
    const epochs = BigInt(config.epochs)
    // The scan starts after this cursor, so it checks the last `epochs` closed epochs.
    let checkedThrough: bigint | undefined = lastClosed >= epochs ? lastClosed - epochs : undefined
    const firstEpoch = checkedThrough === undefined ? 0n : checkedThrough + 1n
    const journal = {
      get rewardsCheckedThrough() {
        return checkedThrough
      },
      setRewardsCheckedThrough: async (epoch: bigint) => {
        checkedThrough = epoch
      },
    }
    const { createAgentMetrics } = await import('../agent/agentMetrics.ts')
    const { claimRewards } = await import('../agent/claimRewards.ts')
    const result = await claimRewards({
      provider: ctx.provider,
      emissionController: controller,
      publicClient: ctx.publicClient,
      sender: ctx.sender,
      journal,
      maxEpochs: config.epochs,
      confirmations: 1,
      metrics: createAgentMetrics(),
      log: ctx.log,
    })
    const total = result.claimed.reduce((sum, claim) => sum + claim.amount, 0n)
    if (!result.claimed.length) progress(`no reward to claim in epochs ${firstEpoch} to ${lastClosed}`)
    printJson({ provider: ctx.provider, claimed: result.claimed, total, checkedThrough: result.checkedThrough ?? null })
  })
}
