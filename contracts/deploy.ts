/**
 * Deploys and wires Tessera's contracts and their governance timelock with viem and writes `contracts/deployments/<chainId>.json`.
 *
 * Script: `npx tessera deploy --rpc http://127.0.0.1:8545 [--key-file <path>] [--matcher 0x…] [--deployment path]` (this
 * file run directly is the same command).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Abi, type Address, createPublicClient, createWalletClient, getAddress, type Hex, http, zeroAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { emissionParams } from '../economics/params.ts'
import { chainOf } from '../protocol/chain.ts'
import { type ContractDeployment, type Deployment, type DeploymentParams, stringifyDeployment } from '../protocol/deployment.ts'
import { TSR } from '../protocol/units.ts'
import {
  challengeLedgerAbi,
  challengeLedgerBytecode,
  emissionControllerAbi,
  emissionControllerBytecode,
  jobBatcherAbi,
  jobBatcherBytecode,
  jobMarketAbi,
  jobMarketBytecode,
  providerBatcherAbi,
  providerBatcherBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
  tesseraTimelockAbi,
  tesseraTimelockBytecode,
  tesseraTokenAbi,
  tesseraTokenBytecode,
} from './generated/index.ts'

const contractsDir = path.dirname(fileURLToPath(import.meta.url))

/** Folder of the deployment files. */
export const deploymentsDir = path.join(contractsDir, 'deployments')

/** The deployment file of a chain: `contracts/deployments/<chainId>.json`. */
export function deploymentFileOf(chainId: number): string {
  return path.join(deploymentsDir, `${chainId}.json`)
}

/** Devnet and test defaults (PROTOCOL.md); the emission parameters are economics/'s defaults with a 30 s epoch. */
export const devnetParams: DeploymentParams = {
  token: { genesisSupply: 100_000_000n * TSR },
  registry: { minStake: 100n * TSR, unbondingPeriod: 600n },
  market: {
    takeBps: 1000n,
    collateralBps: 10_000n,
    slashBeneficiaryBps: 5000n,
    commitWindow: 120n,
    revealWindow: 120n,
    failureFeeBps: 1000n,
    claimGrace: 300n,
    proofWindow: 30n,
    challengeWindow: 60n,
    spotCheckBps: 800n,
    challengeBondBps: 10_000n,
    optimisticCollateralBps: 125_000n,
    auditThreshold: 10_000n * TSR,
    minTake: TSR / 100n,
  },
  emission: emissionParams({ epochLength: 30n }),
  governance: { minDelay: 60n },
}

/** Overrides of {@link devnetParams}, per contract and field. */
export type DeployParamsOverrides = { [G in keyof DeploymentParams]?: Partial<DeploymentParams[G]> }

export type DeployAllParameters = {
  rpcUrl: string
  /** Deployer and admin of every contract; receives the genesis supply. */
  deployerKey: Hex
  /** Gets `MATCHER_ROLE` on the JobMarket. */
  matcher: Address
  params?: DeployParamsOverrides
  /**
   * Where to write the deployment JSON: a path, `false` to skip writing (tests), or by default
   * `contracts/deployments/<chainId>.json`.
   */
  out?: string | false
}

/**
 * Deploys TesseraToken, ProviderRegistry, EmissionController, JobMarket, ChallengeLedger, TesseraTimelock, JobBatcher and
 * ProviderBatcher,
 * wires them (registry and controller → JobMarket, controller and registry → ChallengeLedger, token minter → controller,
 * JobMarket's MATCHER_ROLE → matcher and batcher, the batcher's MATCHER_ROLE and
 * ISSUER_ROLE → matcher, the controller's governor and JobMarket's GOVERNOR_ROLE → timelock, whose only proposer is
 * the deployer) and writes the deployment file. Needs `contracts/generated` to be current (`contracts/build.ts`).
 */
export async function deployAll(parameters: DeployAllParameters): Promise<Deployment> {
  const o = parameters.params ?? {}
  const params: DeploymentParams = {
    token: { ...devnetParams.token, ...o.token },
    registry: { ...devnetParams.registry, ...o.registry },
    market: { ...devnetParams.market, ...o.market },
    emission: { ...devnetParams.emission, ...o.emission },
    governance: { ...devnetParams.governance, ...o.governance },
  }
  const transport = http(parameters.rpcUrl)
  const chainId = await createPublicClient({ transport }).getChainId()
  const chain = chainOf(chainId, parameters.rpcUrl)
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
  const token = await deploy(tesseraTokenAbi, tesseraTokenBytecode, [admin, admin, params.token.genesisSupply])
  const registry = await deploy(providerRegistryAbi, providerRegistryBytecode, [
    token.address,
    admin,
    params.registry.minStake,
    params.registry.unbondingPeriod,
  ])
  const controller = await deploy(emissionControllerAbi, emissionControllerBytecode, [
    token.address,
    registry.address,
    admin,
    params.emission,
  ])
  const market = await deploy(jobMarketAbi, jobMarketBytecode, [token.address, registry.address, controller.address, admin, params.market])

  await send(registry.address, providerRegistryAbi, 'setJobMarket', [market.address])
  await send(controller.address, emissionControllerAbi, 'setJobMarket', [market.address])
  await send(token.address, tesseraTokenAbi, 'setMinter', [controller.address])
  const matcherRole = await publicClient.readContract({ address: market.address, abi: jobMarketAbi, functionName: 'MATCHER_ROLE' })
  await send(market.address, jobMarketAbi, 'grantRole', [matcherRole, parameters.matcher])
  // The leader assigns and keeps many jobs per transaction through the batcher, which passes the role on to the matcher only.
  const batcher = await deploy(jobBatcherAbi, jobBatcherBytecode, [market.address, admin])
  await send(market.address, jobMarketAbi, 'grantRole', [matcherRole, batcher.address])
  const batchMatcherRole = await publicClient.readContract({ address: batcher.address, abi: jobBatcherAbi, functionName: 'MATCHER_ROLE' })
  await send(batcher.address, jobBatcherAbi, 'grantRole', [batchMatcherRole, parameters.matcher])
  // Code providers' accounts delegate to (EIP-7702), to commit and reveal many jobs per transaction.
  const providerBatcher = await deploy(providerBatcherAbi, providerBatcherBytecode, [market.address])
  // The server's key issues the known-answer challenge jobs too.
  const ledger = await deploy(challengeLedgerAbi, challengeLedgerBytecode, [market.address, admin])
  const issuerRole = await publicClient.readContract({ address: ledger.address, abi: challengeLedgerAbi, functionName: 'ISSUER_ROLE' })
  await send(ledger.address, challengeLedgerAbi, 'grantRole', [issuerRole, parameters.matcher])
  await send(controller.address, emissionControllerAbi, 'setChallengeLedger', [ledger.address])
  await send(registry.address, providerRegistryAbi, 'setChallengeLedger', [ledger.address])
  // Governance: the deployer proposes, anyone executes once the delay has passed; the timelock administers itself.
  const timelock = await deploy(tesseraTimelockAbi, tesseraTimelockBytecode, [
    params.governance.minDelay,
    [admin],
    [zeroAddress],
    zeroAddress,
  ])
  await send(controller.address, emissionControllerAbi, 'setGovernor', [timelock.address])
  const governorRole = await publicClient.readContract({ address: market.address, abi: jobMarketAbi, functionName: 'GOVERNOR_ROLE' })
  await send(market.address, jobMarketAbi, 'grantRole', [governorRole, timelock.address])
  const emissionGenesis = await publicClient.readContract({
    address: controller.address,
    abi: emissionControllerAbi,
    functionName: 'genesis',
  })

  const deployment: Deployment = {
    chainId,
    startBlock: token.blockNumber,
    deployer: admin,
    matcher: getAddress(parameters.matcher),
    emissionGenesis,
    contracts: {
      TesseraToken: token,
      ProviderRegistry: registry,
      JobMarket: market,
      EmissionController: controller,
      ChallengeLedger: ledger,
      TesseraTimelock: timelock,
      JobBatcher: batcher,
      ProviderBatcher: providerBatcher,
    },
    params,
  }
  if (parameters.out !== false) {
    const file = parameters.out ?? deploymentFileOf(chainId)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, stringifyDeployment(deployment))
  }
  return deployment
}

// `npx tsx contracts/deploy.ts --rpc … [--matcher 0x…] [--deployment file]` is `tessera deploy`: the CLI's settings, and
// its key from --key-file or TESSERA_PRIVATE_KEY, never the command line.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.argv.splice(2, 0, 'deploy')
  void import('../cli/tessera.ts')
}
