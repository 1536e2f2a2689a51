/**
 * Deploys and wires Tessera's four contracts with viem and writes `contracts/deployments/<chainId>.json`.
 *
 * Script: `npx tsx contracts/deploy.ts --rpc http://127.0.0.1:8545 [--key 0x…] [--matcher 0x…] [--out path]`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Abi, type Address, type Chain, createPublicClient, createWalletClient, defineChain, getAddress, type Hex, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { emissionParams } from '../economics/params.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import {
  emissionControllerAbi,
  emissionControllerBytecode,
  jobMarketAbi,
  jobMarketBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
  tesseraTokenAbi,
  tesseraTokenBytecode,
} from './generated/index.ts'

const contractsDir = path.dirname(fileURLToPath(import.meta.url))

/** Folder of the deployment files. */
export const deploymentsDir = path.join(contractsDir, 'deployments')

/** One TSR in wei. */
const TSR = 10n ** 18n

/** Deployment knobs; every field has a devnet default (see {@link devnetParams}). */
export type DeployParams = {
  /** TSR wei minted to the deployer at genesis. */
  genesisSupply: bigint
  /** ProviderRegistry: stake (TSR wei) a provider needs to be eligible. */
  minStake: bigint
  /** ProviderRegistry: seconds between `requestUnstake` and `withdraw`. */
  unbondingPeriod: bigint
  /** EmissionController: seconds per epoch. */
  epochLength: bigint
  /** JobMarket: protocol take τ in bps, burned at settlement. */
  takeBps: number
  /** JobMarket: collateral per slot in bps of the slot's max value. */
  collateralBps: number
  /** JobMarket: share of a slash paid to the honest side, in bps; the rest is burned. */
  slashBeneficiaryBps: number
  /** JobMarket: seconds the providers have to commit after assignment. */
  commitWindow: bigint
  /** JobMarket: seconds the providers have to reveal after the last commit. */
  revealWindow: bigint
  /** EmissionController overrides of `economics/params.ts` defaults (all but `epochLength`). */
  emission?: Partial<Omit<EmissionParams, 'epochLength'>>
}

/** Devnet and test defaults (PROTOCOL.md). */
export const devnetParams: DeployParams = {
  genesisSupply: 100_000_000n * TSR,
  minStake: 100n * TSR,
  unbondingPeriod: 600n,
  epochLength: 30n,
  takeBps: 1000,
  collateralBps: 10_000,
  slashBeneficiaryBps: 5000,
  commitWindow: 120n,
  revealWindow: 120n,
}

/** Where one contract lives and the block it was deployed in. */
export type ContractDeployment = { address: Address; blockNumber: number }

/** The names of the deployed contracts. */
export type ContractName = 'TesseraToken' | 'ProviderRegistry' | 'JobMarket' | 'EmissionController'

/**
 * The deployment file's content (`contracts/deployments/<chainId>.json`). Token amounts and WAD
 * fractions are decimal strings; seconds and bps are numbers.
 */
export type Deployment = {
  chainId: number
  /** First block to index: the token's deployment block. */
  startBlock: number
  deployer: Address
  matcher: Address
  contracts: Record<ContractName, ContractDeployment>
  params: {
    genesisSupply: string
    minStake: string
    unbondingPeriod: number
    epochLength: number
    takeBps: number
    collateralBps: number
    slashBeneficiaryBps: number
    commitWindow: number
    revealWindow: number
    /** The EmissionController's full `Params` (WAD fractions and TSR wei as strings). */
    emission: Record<keyof EmissionParams, string>
  }
}

export type DeployAllParameters = {
  rpcUrl: string
  /** Deployer and admin of every contract; receives the genesis supply. */
  deployerKey: Hex
  /** Gets `MATCHER_ROLE` on the JobMarket. */
  matcher: Address
  params?: Partial<DeployParams>
  /**
   * Where to write the deployment JSON: a path, `false` to skip writing (tests), or by default
   * `contracts/deployments/<chainId>.json`.
   */
  out?: string | false
}

/**
 * Deploys TesseraToken, ProviderRegistry, EmissionController and JobMarket, wires them
 * (registry and controller → JobMarket, token minter → controller, MATCHER_ROLE → matcher) and
 * writes the deployment file. Needs `contracts/generated` to be current (`contracts/build.ts`).
 */
export async function deployAll(parameters: DeployAllParameters): Promise<Deployment> {
  const p: DeployParams = { ...devnetParams, ...parameters.params }
  const transport = http(parameters.rpcUrl)
  const chainId = await createPublicClient({ transport }).getChainId()
  const chain = localChain(chainId, parameters.rpcUrl)
  const account = privateKeyToAccount(parameters.deployerKey)
  // Short polling: on a devnet with interval mining a receipt is a block away, not four seconds.
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 })
  const wallet = createWalletClient({ chain, transport, account, pollingInterval: 100 })

  async function deploy(abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<ContractDeployment> {
    const hash = await wallet.deployContract({ abi, bytecode, args } as never)
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`deployment reverted: ${hash}`)
    return { address: getAddress(receipt.contractAddress), blockNumber: Number(receipt.blockNumber) }
  }
  async function send(address: Address, abi: Abi, functionName: string, args: readonly unknown[]): Promise<void> {
    const hash = await wallet.writeContract({ address, abi, functionName, args } as never)
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new Error(`${functionName} reverted: ${hash}`)
  }

  const admin = account.address
  const emission = emissionParams({ epochLength: p.epochLength, ...p.emission })
  const marketParams = {
    takeBps: p.takeBps,
    collateralBps: p.collateralBps,
    slashBeneficiaryBps: p.slashBeneficiaryBps,
    commitWindow: p.commitWindow,
    revealWindow: p.revealWindow,
  }

  const token = await deploy(tesseraTokenAbi, tesseraTokenBytecode, [admin, admin, p.genesisSupply])
  const registry = await deploy(providerRegistryAbi, providerRegistryBytecode, [token.address, admin, p.minStake, p.unbondingPeriod])
  const controller = await deploy(emissionControllerAbi, emissionControllerBytecode, [token.address, registry.address, admin, emission])
  const market = await deploy(jobMarketAbi, jobMarketBytecode, [token.address, registry.address, controller.address, admin, marketParams])

  await send(registry.address, providerRegistryAbi, 'setJobMarket', [market.address])
  await send(controller.address, emissionControllerAbi, 'setJobMarket', [market.address])
  await send(token.address, tesseraTokenAbi, 'setMinter', [controller.address])
  const matcherRole = await publicClient.readContract({ address: market.address, abi: jobMarketAbi, functionName: 'MATCHER_ROLE' })
  await send(market.address, jobMarketAbi, 'grantRole', [matcherRole, parameters.matcher])

  const deployment: Deployment = {
    chainId,
    startBlock: token.blockNumber,
    deployer: admin,
    matcher: getAddress(parameters.matcher),
    contracts: { TesseraToken: token, ProviderRegistry: registry, JobMarket: market, EmissionController: controller },
    params: {
      genesisSupply: p.genesisSupply.toString(),
      minStake: p.minStake.toString(),
      unbondingPeriod: Number(p.unbondingPeriod),
      epochLength: Number(p.epochLength),
      takeBps: p.takeBps,
      collateralBps: p.collateralBps,
      slashBeneficiaryBps: p.slashBeneficiaryBps,
      commitWindow: Number(p.commitWindow),
      revealWindow: Number(p.revealWindow),
      emission: Object.fromEntries(Object.entries(emission).map(([k, v]) => [k, v.toString()])) as Record<keyof EmissionParams, string>,
    },
  }
  if (parameters.out !== false) {
    const file = parameters.out ?? path.join(deploymentsDir, `${chainId}.json`)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, `${JSON.stringify(deployment, null, 2)}\n`)
  }
  return deployment
}

/** Reads a deployment file by chain id (`contracts/deployments/<id>.json`) or by path. */
export function readDeployment(chainIdOrPath: number | string): Deployment {
  const file = typeof chainIdOrPath === 'number' ? path.join(deploymentsDir, `${chainIdOrPath}.json`) : chainIdOrPath
  return JSON.parse(readFileSync(file, 'utf8')) as Deployment
}

/** A viem chain for a local or custom RPC endpoint. */
export function localChain(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? 'Anvil' : `Chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
}

async function main(): Promise<void> {
  const { devKeys } = await import('../devnet/devAccounts.ts')
  const args = process.argv.slice(2)
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? args[i + 1] : undefined
  }
  const rpcUrl = flag('rpc') ?? process.env.TESSERA_RPC_URL ?? 'http://127.0.0.1:8545'
  const deployerKey = (flag('key') ?? process.env.TESSERA_DEPLOYER_KEY ?? devKeys[0]) as Hex
  const matcher = (flag('matcher') ?? privateKeyToAccount(devKeys[1]).address) as Address
  const deployment = await deployAll({ rpcUrl, deployerKey, matcher, out: flag('out') })
  console.log(JSON.stringify(deployment, null, 2))
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
