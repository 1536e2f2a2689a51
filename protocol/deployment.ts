import { readFileSync } from 'node:fs'
import { type Address, getAddress, isAddress } from 'viem'
import { type EmissionParams, emissionParamKeys } from './emissionParams.ts'
import { TesseraError } from './errors.ts'

/** The contracts of a deployment. */
export const contractNames = [
  'TesseraToken',
  'ProviderRegistry',
  'JobMarket',
  'EmissionController',
  'ChallengeLedger',
  'TesseraTimelock',
  'JobBatcher',
  'ProviderBatcher',
] as const
export type ContractName = (typeof contractNames)[number]

/** Where one contract lives and the block it was deployed in. */
export type ContractDeployment = { address: Address; blockNumber: number }

/** TesseraToken's constructor parameters. */
export type TokenParams = {
  /** TSR wei minted to the deployer at genesis. */
  genesisSupply: bigint
}

/** ProviderRegistry's constructor parameters. */
export type RegistryParams = {
  /** Stake (TSR wei) a provider needs to be eligible. */
  minStake: bigint
  /** Seconds between `requestUnstake` and `withdraw`. */
  unbondingPeriod: bigint
}

/** JobMarket's `Params` struct, field for field. */
export type MarketParams = {
  /** Protocol take τ in bps of the fees, burned at settlement. */
  takeBps: bigint
  /** Collateral per slot in bps of the slot's max value (`maxPricePerUnit × units`). */
  collateralBps: bigint
  /** Share of a slash credited to the honest side, in bps; the rest is burned. */
  slashBeneficiaryBps: bigint
  /** Seconds the providers have to commit after assignment. */
  commitWindow: bigint
  /** Seconds the providers have to reveal after the last commit. */
  revealWindow: bigint
  /** What a provider reporting the majority's deterministic failure is paid, in bps of its ask × units. */
  failureFeeBps: bigint
  /** Seconds a job waits for the matcher before eligible providers may claim its slots themselves (`claimJob`). */
  claimGrace: bigint
  /**
   * Seconds after the reveals during which a disagreement under tolerance can be proven (`proveDisagreement`) when
   * revealed results differ; `finalize` waits for it only then.
   */
  proofWindow: bigint
  /** Seconds after an optimistic job's reveal during which anyone may `challenge` it with a bond. */
  challengeWindow: bigint
  /** Share of optimistic jobs spot-checked (audited by a fresh provider), in bps; also the premium unaudited ones pay. */
  spotCheckBps: bigint
  /** A challenge's bond, in bps of the job's `maxPricePerUnit × units`. */
  challengeBondBps: bigint
  /** Collateral per optimistic slot in bps of the provider's ask × units (m = this / 10,000; p·(1 + m) > 1 enforced). */
  optimisticCollateralBps: bigint
  /** Optimistic jobs worth at least this (`maxPricePerUnit × units`, wei) are always audited. */
  auditThreshold: bigint
  /** The least take a settled job burns (TSR wei), whatever its fees: every job burns. */
  minTake: bigint
}

/** The timelock's parameters: the only way a parameter of the law or the take changes. */
export type GovernanceParams = {
  /** Seconds between scheduling a governance call and executing it. */
  minDelay: bigint
}

/** Every contract's parameters, grouped by contract. */
export type DeploymentParams = {
  token: TokenParams
  registry: RegistryParams
  market: MarketParams
  emission: EmissionParams
  governance: GovernanceParams
}

/**
 * One deployment of the protocol on one chain: what `contracts/deployments/<chainId>.json` holds and what the
 * server publishes at `GET /deployment`. Read it once with {@link parseDeployment} (or {@link readDeploymentFile});
 * every part takes its parameters from here, never from a default of its own.
 */
export type Deployment = {
  chainId: number
  /** First block to index: the token's deployment block. */
  startBlock: number
  deployer: Address
  /** Holds `MATCHER_ROLE` on the JobMarket (the server's key). */
  matcher: Address
  /** Unix seconds at which the EmissionController's epoch 0 began (its `genesis()`). */
  emissionGenesis: bigint
  contracts: Record<ContractName, ContractDeployment>
  params: DeploymentParams
}

/** A deployment that is missing a field or has one of the wrong type; `details` names the field. Not retryable. */
export class DeploymentError extends TesseraError {
  override name = 'DeploymentError'
}

const paramKeys = {
  token: ['genesisSupply'],
  registry: ['minStake', 'unbondingPeriod'],
  market: [
    'takeBps',
    'collateralBps',
    'slashBeneficiaryBps',
    'commitWindow',
    'revealWindow',
    'failureFeeBps',
    'claimGrace',
    'proofWindow',
    'challengeWindow',
    'spotCheckBps',
    'challengeBondBps',
    'optimisticCollateralBps',
    'auditThreshold',
    'minTake',
  ],
  emission: emissionParamKeys,
  governance: ['minDelay'],
} as const satisfies { [G in keyof DeploymentParams]: readonly (keyof DeploymentParams[G])[] }

/**
 * Validates a deployment as read from JSON (bigints as decimal strings or safe integers) and returns it typed.
 * Throws {@link DeploymentError} naming the first missing or mistyped field, e.g. `params.market.collateralBps`.
 */
export function parseDeployment(value: unknown, source = 'deployment'): Deployment {
  const fail = (field: string, problem: string): never => {
    throw new DeploymentError(`${source}: ${field} ${problem}`, { details: `field ${field} of ${source}` })
  }
  const record = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(field, v === undefined ? 'is missing' : 'must be an object')
  const integer = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
      ? v
      : fail(field, v === undefined ? 'is missing' : `must be a non-negative integer, got ${JSON.stringify(v)}`)
  const big = (v: unknown, field: string): bigint => {
    if (typeof v === 'bigint' && v >= 0n) return v
    if (typeof v === 'string' && /^\d{1,78}$/.test(v)) return BigInt(v)
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
    return fail(field, v === undefined ? 'is missing' : `must be a non-negative integer as a decimal string, got ${JSON.stringify(v)}`)
  }
  const address = (v: unknown, field: string): Address =>
    typeof v === 'string' && isAddress(v, { strict: false })
      ? getAddress(v)
      : fail(field, v === undefined ? 'is missing' : `must be an address, got ${JSON.stringify(v)}`)

  const root = record(value, 'the deployment')
  const chainId = integer(root.chainId, 'chainId')
  if (chainId === 0) fail('chainId', 'must be positive')
  const contractsJson = record(root.contracts, 'contracts')
  const contracts = {} as Record<ContractName, ContractDeployment>
  for (const name of contractNames) {
    const c = record(contractsJson[name], `contracts.${name}`)
    contracts[name] = {
      address: address(c.address, `contracts.${name}.address`),
      blockNumber: integer(c.blockNumber, `contracts.${name}.blockNumber`),
    }
  }
  const paramsJson = record(root.params, 'params')
  const params = {} as Record<string, Record<string, bigint>>
  for (const [group, keys] of Object.entries(paramKeys)) {
    const json = record(paramsJson[group], `params.${group}`)
    params[group] = Object.fromEntries(keys.map((key) => [key, big(json[key], `params.${group}.${key}`)]))
  }
  return {
    chainId,
    startBlock: integer(root.startBlock, 'startBlock'),
    deployer: address(root.deployer, 'deployer'),
    matcher: address(root.matcher, 'matcher'),
    emissionGenesis: big(root.emissionGenesis, 'emissionGenesis'),
    contracts,
    params: params as unknown as DeploymentParams,
  }
}

/** The deployment as JSON text: bigints as decimal strings, two-space indented, newline-terminated. */
export function stringifyDeployment(deployment: Deployment): string {
  return `${JSON.stringify(deployment, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`
}

/** Reads and validates a deployment file; the error names the file and the field. */
export function readDeploymentFile(file: string): Deployment {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new DeploymentError(`cannot read the deployment file ${file}`, { cause, details: (cause as Error).message })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new DeploymentError(`the deployment file ${file} is not JSON`, { cause, details: (cause as Error).message })
  }
  return parseDeployment(json, file)
}
