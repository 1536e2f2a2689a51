import { devnetParams } from '../../contracts/deploy.ts'
import type { Deployment } from '../../protocol/deployment.ts'

/**
 * A deployment at fixed placeholder addresses (no chain behind them), with the devnet parameters: for server
 * tests that need a `Deployment` to serve but never call the contracts.
 */
export const fixtureDeployment: Deployment = {
  chainId: 31337,
  startBlock: 1,
  deployer: '0x0000000000000000000000000000000000000005',
  matcher: '0x0000000000000000000000000000000000000006',
  emissionGenesis: 1_799_999_000n,
  contracts: {
    TesseraToken: { address: '0x0000000000000000000000000000000000000001', blockNumber: 1 },
    ProviderRegistry: { address: '0x0000000000000000000000000000000000000002', blockNumber: 1 },
    JobMarket: { address: '0x0000000000000000000000000000000000000003', blockNumber: 1 },
    EmissionController: { address: '0x0000000000000000000000000000000000000004', blockNumber: 1 },
    ChallengeLedger: { address: '0x0000000000000000000000000000000000000005', blockNumber: 1 },
    TesseraTimelock: { address: '0x0000000000000000000000000000000000000007', blockNumber: 1 },
    JobBatcher: { address: '0x0000000000000000000000000000000000000008', blockNumber: 1 },
    ProviderBatcher: { address: '0x0000000000000000000000000000000000000009', blockNumber: 1 },
  },
  params: devnetParams,
}
