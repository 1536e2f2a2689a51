import { existsSync } from 'node:fs'
import path from 'node:path'
import { createConfig } from 'ponder'
import { deploymentFileOf } from '../contracts/deploy.ts'
import {
  challengeLedgerAbi,
  emissionControllerAbi,
  jobMarketAbi,
  providerRegistryAbi,
  tesseraTokenAbi,
} from '../contracts/generated/index.ts'
import { devnetChainId } from '../protocol/chain.ts'
import { type ContractName, DeploymentError, readDeploymentFile } from '../protocol/deployment.ts'
import { gatewayAddressOf } from '../protocol/gateway.ts'
import { pollingIntervalOf, rpcEndpointsOf, webSocketUrlOf } from './pollingInterval.ts'

// Everything chain-specific comes from the environment and the deployment file written by contracts/deploy.ts:
//   TESSERA_RPC_URL      JSON-RPC endpoint (default http://127.0.0.1:8545)
//   TESSERA_DEPLOYMENT   deployment JSON (default contracts/deployments/<TESSERA_CHAIN_ID>.json; relative paths from the cwd)
//   TESSERA_CHAIN_ID     picks the default deployment file, and must match the deployment's chain id when set
//   DATABASE_URL         Postgres connection string (required)
//   TESSERA_POLLING_INTERVAL_MS  block polling interval (default 100, Ponder's floor, on the devnet, 1000 elsewhere)
//   TESSERA_WS_URL       WebSocket endpoint for new heads, beside the polls (default: anvil's on the devnet, none
//                        elsewhere; `off` for none)

const rpcUrl = process.env.TESSERA_RPC_URL || 'http://127.0.0.1:8545'
const expectedChainId = process.env.TESSERA_CHAIN_ID ? Number(process.env.TESSERA_CHAIN_ID) : undefined
if (expectedChainId !== undefined && (!Number.isSafeInteger(expectedChainId) || expectedChainId <= 0)) {
  throw new Error(`TESSERA_CHAIN_ID is not a chain id: ${process.env.TESSERA_CHAIN_ID}`)
}
const deploymentPath = process.env.TESSERA_DEPLOYMENT
  ? path.resolve(process.env.TESSERA_DEPLOYMENT)
  : deploymentFileOf(expectedChainId ?? devnetChainId)
const databaseUrl = process.env.DATABASE_URL
if (!databaseUrl) throw new Error('DATABASE_URL is not set: the indexer writes to Postgres (the server reads its views schema)')

if (!existsSync(deploymentPath)) {
  throw new DeploymentError(`Cannot read the deployment file ${deploymentPath}: no such file (set TESSERA_DEPLOYMENT)`)
}
const deployment = readDeploymentFile(deploymentPath)
if (expectedChainId !== undefined && deployment.chainId !== expectedChainId) {
  throw new DeploymentError(`Deployment ${deploymentPath} is for chain ${deployment.chainId}, but TESSERA_CHAIN_ID is ${expectedChainId}`)
}

function contract(name: ContractName) {
  const { address, blockNumber } = deployment.contracts[name]
  return { chain: 'tessera', address, startBlock: blockNumber } as const
}

const isDevnet = deployment.chainId === devnetChainId
const gateway = gatewayAddressOf(deployment)

export default createConfig({
  database: { kind: 'postgres', connectionString: databaseUrl },
  chains: {
    tessera: {
      id: deployment.chainId,
      rpc: rpcEndpointsOf(deployment.chainId, rpcUrl),
      // A fresh anvil reuses chain id 31337, so Ponder's RPC cache would serve another chain's blocks. Not enough on
      // its own: the backfill still reads events through the sync store, which startIndexer clears for the devnet.
      disableCache: isDevnet,
      pollingInterval: pollingIntervalOf(deployment.chainId),
      ws: webSocketUrlOf(deployment.chainId, rpcUrl),
    },
  },
  contracts: {
    ProviderRegistry: { abi: providerRegistryAbi, ...contract('ProviderRegistry') },
    JobMarket: { abi: jobMarketAbi, ...contract('JobMarket') },
    EmissionController: { abi: emissionControllerAbi, ...contract('EmissionController') },
    ChallengeLedger: { abi: challengeLedgerAbi, ...contract('ChallengeLedger') },
    // Only the gateway's transfers, in and out (protocol/gateway.ts). Two entries, as Ponder keeps one filter per event.
    GatewayDeposits: { abi: tesseraTokenAbi, ...contract('TesseraToken'), filter: { event: 'Transfer', args: { to: gateway } } },
    GatewayPayouts: { abi: tesseraTokenAbi, ...contract('TesseraToken'), filter: { event: 'Transfer', args: { from: gateway } } },
  },
})
