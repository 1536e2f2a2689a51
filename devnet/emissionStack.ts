import { type Address, encodeDeployData, encodeFunctionData, type Hex } from 'viem'
import {
  emissionControllerAbi,
  emissionControllerBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
  tesseraTokenAbi,
  tesseraTokenBytecode,
} from '../contracts/generated/index.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'

// The emission path without a JobMarket: a TesseraToken, a ProviderRegistry that needs no minimum stake and an
// EmissionController whose JobMarket and ChallengeLedger are plain accounts, so that jobs and challenges are recorded
// by calling `recordJob` and `recordChallenge` directly. The calldata only: the emission law's parity test and the epoch-close bench each
// send it their own way.

/** Deploys a token that mints `supply` to `admin`, its owner too. */
export const tokenDeployData = (admin: Address, supply: bigint): Hex =>
  encodeDeployData({ abi: tesseraTokenAbi, bytecode: tesseraTokenBytecode, args: [admin, admin, supply] })

/** Deploys a registry of `token` owned by `admin`: no minimum stake, a 600 s unbonding period. */
export const registryDeployData = (token: Address, admin: Address): Hex =>
  encodeDeployData({ abi: providerRegistryAbi, bytecode: providerRegistryBytecode, args: [token, admin, 0n, 600n] })

/** Deploys a controller owned by `admin` that mints `token` against `registry`'s capacity. */
export const controllerDeployData = (token: Address, registry: Address, admin: Address, params: EmissionParams): Hex =>
  encodeDeployData({ abi: emissionControllerAbi, bytecode: emissionControllerBytecode, args: [token, registry, admin, params] })

/**
 * The admin's wiring calls, in order: the token mints through `controller`, `jobMarket` may record jobs and
 * `challengeLedger` may record challenges (plain accounts in the parity test and the bench).
 */
export const wiringCalls = (
  token: Address,
  controller: Address,
  jobMarket: Address,
  challengeLedger: Address,
): { to: Address; data: Hex }[] => [
  { to: token, data: encodeFunctionData({ abi: tesseraTokenAbi, functionName: 'setMinter', args: [controller] }) },
  { to: controller, data: encodeFunctionData({ abi: emissionControllerAbi, functionName: 'setJobMarket', args: [jobMarket] }) },
  { to: controller, data: encodeFunctionData({ abi: emissionControllerAbi, functionName: 'setChallengeLedger', args: [challengeLedger] }) },
]

/** `advanceEpoch()` (at most the contract's default of epochs), or `advanceEpoch(maxEpochs)`. */
export const advanceEpochData = (maxEpochs?: bigint): Hex =>
  maxEpochs === undefined
    ? encodeFunctionData({ abi: emissionControllerAbi, functionName: 'advanceEpoch', args: [] })
    : encodeFunctionData({ abi: emissionControllerAbi, functionName: 'advanceEpoch', args: [maxEpochs] })
