import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createConfig } from 'ponder'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi } from '../contracts/generated/index.ts'

// Everything chain-specific comes from the environment and the deployment file written by contracts/deploy.ts:
//   TESSERA_RPC_URL      JSON-RPC endpoint (default http://127.0.0.1:8545)
//   TESSERA_CHAIN_ID     chain id (default 31337, the devnet)
//   TESSERA_DEPLOYMENT   deployment JSON (default contracts/deployments/<chainId>.json; relative paths from the cwd)
//   DATABASE_URL         Postgres connection string (required)
//   TESSERA_POLLING_INTERVAL_MS  block polling interval (default 200 on the devnet, 1000 elsewhere)

const devnetChainId = 31337
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const rpcUrl = process.env.TESSERA_RPC_URL || 'http://127.0.0.1:8545'
const chainId = Number(process.env.TESSERA_CHAIN_ID || devnetChainId)
if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new Error(`TESSERA_CHAIN_ID is not a chain id: ${process.env.TESSERA_CHAIN_ID}`)
const deploymentPath = process.env.TESSERA_DEPLOYMENT
  ? path.resolve(process.env.TESSERA_DEPLOYMENT)
  : path.join(repoRoot, 'contracts', 'deployments', `${chainId}.json`)
const databaseUrl = process.env.DATABASE_URL
if (!databaseUrl) throw new Error('DATABASE_URL is not set: the indexer writes to Postgres (the server reads its views schema)')

type DeployedContract = { address: `0x${string}`; blockNumber: number }
type Deployment = {
  chainId: number
  startBlock: number
  contracts: Record<'ProviderRegistry' | 'JobMarket' | 'EmissionController', DeployedContract>
}

let deployment: Deployment
try {
  deployment = JSON.parse(readFileSync(deploymentPath, 'utf8')) as Deployment
} catch (error) {
  throw new Error(`Cannot read the deployment file ${deploymentPath} (set TESSERA_DEPLOYMENT): ${(error as Error).message}`)
}
if (deployment.chainId !== chainId) {
  throw new Error(`Deployment ${deploymentPath} is for chain ${deployment.chainId}, but TESSERA_CHAIN_ID is ${chainId}`)
}

function contract(name: keyof Deployment['contracts']) {
  const deployed = deployment.contracts?.[name]
  if (!deployed?.address) throw new Error(`Deployment ${deploymentPath} has no address for ${name}`)
  return { chain: 'tessera', address: deployed.address, startBlock: deployed.blockNumber ?? deployment.startBlock } as const
}

const isDevnet = chainId === devnetChainId

export default createConfig({
  database: { kind: 'postgres', connectionString: databaseUrl },
  chains: {
    tessera: {
      id: chainId,
      rpc: rpcUrl,
      // A fresh anvil reuses chain id 31337, so Ponder's RPC cache would serve another chain's blocks.
      disableCache: isDevnet,
      pollingInterval: Number(process.env.TESSERA_POLLING_INTERVAL_MS || (isDevnet ? 200 : 1000)),
    },
  },
  contracts: {
    ProviderRegistry: { abi: providerRegistryAbi, ...contract('ProviderRegistry') },
    JobMarket: { abi: jobMarketAbi, ...contract('JobMarket') },
    EmissionController: { abi: emissionControllerAbi, ...contract('EmissionController') },
  },
})
