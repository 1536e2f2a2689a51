import {
  challengeLedgerAbi,
  emissionControllerAbi,
  jobBatcherAbi,
  jobMarketAbi,
  providerBatcherAbi,
  providerRegistryAbi,
  tesseraTimelockAbi,
  tesseraTokenAbi,
} from '../contracts/generated/index.ts'
import type { ContractName } from './deployment.ts'

/** Every deployed contract's ABI, by the name `Deployment.contracts` uses. */
export const contractAbis = {
  TesseraToken: tesseraTokenAbi,
  ProviderRegistry: providerRegistryAbi,
  JobMarket: jobMarketAbi,
  EmissionController: emissionControllerAbi,
  ChallengeLedger: challengeLedgerAbi,
  TesseraTimelock: tesseraTimelockAbi,
  JobBatcher: jobBatcherAbi,
  ProviderBatcher: providerBatcherAbi,
} as const satisfies Record<ContractName, readonly unknown[]>
