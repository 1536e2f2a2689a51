import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { getAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Deployment, DeploymentError, parseDeployment, readDeploymentFile, stringifyDeployment } from './deployment.ts'

const address = (n: number) => getAddress(`0x${n.toString(16).padStart(40, '0')}`)
const deployment: Deployment = {
  chainId: 31337,
  startBlock: 1,
  deployer: address(1),
  matcher: address(2),
  emissionGenesis: 1_700_000_000n,
  contracts: {
    TesseraToken: { address: address(10), blockNumber: 1 },
    ProviderRegistry: { address: address(11), blockNumber: 2 },
    JobMarket: { address: address(12), blockNumber: 4 },
    EmissionController: { address: address(13), blockNumber: 3 },
    ChallengeLedger: { address: address(14), blockNumber: 4 },
    TesseraTimelock: { address: address(15), blockNumber: 4 },
    JobBatcher: { address: address(16), blockNumber: 4 },
    ProviderBatcher: { address: address(17), blockNumber: 4 },
  },
  params: {
    token: { genesisSupply: 10n ** 26n },
    registry: { minStake: 100n * 10n ** 18n, unbondingPeriod: 600n },
    market: {
      takeBps: 1000n,
      minTake: 10n ** 16n,
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
      auditThreshold: 10n ** 22n,
    },
    emission: {
      epochLength: 30n,
      kappa: 5n * 10n ** 16n,
      baseAvailability0: 10_000n * 10n ** 18n,
      phi0: 10n ** 18n,
      phiMin: 5n * 10n ** 17n,
      phiStep: 10n ** 16n,
      targetUtilisation: 65n * 10n ** 16n,
      deadband: 5n * 10n ** 16n,
      maxStepUp: 2n * 10n ** 16n,
      maxStepDown: 15n * 10n ** 15n,
      maxProviderShare: 25n * 10n ** 16n,
      rMax0: 8n * 10n ** 16n,
      stakePerUnit: 10n ** 17n,
    },
    governance: { minDelay: 60n },
  },
}
const json = () => JSON.parse(stringifyDeployment(deployment))

/** The DeploymentError `fn` throws. */
function errorOf(fn: () => unknown): DeploymentError {
  try {
    fn()
  } catch (error) {
    if (error instanceof DeploymentError) return error
    throw error
  }
  throw new Error('expected a DeploymentError')
}

describe('parseDeployment', () => {
  test('round-trips through JSON: bigints travel as decimal strings and come back as bigints', () => {
    const text = stringifyDeployment(deployment)
    expect(JSON.parse(text).params.market.collateralBps).toBe('10000')
    expect(JSON.parse(text).params.token.genesisSupply).toBe('100000000000000000000000000')
    expect(parseDeployment(JSON.parse(text))).toEqual(deployment)
  })

  test('accepts safe integers where strings are expected, and checksums addresses', () => {
    const raw = json()
    raw.params.market.commitWindow = 90
    raw.matcher = raw.matcher.toUpperCase().replace('0X', '0x')
    const parsed = parseDeployment(raw)
    expect(parsed.params.market.commitWindow).toBe(90n)
    expect(parsed.matcher).toBe(address(2))
  })

  test('names a missing parameter instead of defaulting it', () => {
    const raw = json()
    delete raw.params.market.collateralBps
    const error = errorOf(() => parseDeployment(raw, 'contracts/deployments/31337.json'))
    expect(error.message).toBe('contracts/deployments/31337.json: params.market.collateralBps is missing')
    expect(error.retryable).toBe(false)
  })

  test('names a parameter that was renamed (the old flat layout) or mistyped', () => {
    const flat = json()
    flat.params = { minStake: '1', takeBps: 1000 }
    expect(errorOf(() => parseDeployment(flat)).message).toBe('deployment: params.token is missing')
    const mistyped = json()
    mistyped.params.emission.kappa = '0.05'
    expect(errorOf(() => parseDeployment(mistyped)).message).toBe(
      'deployment: params.emission.kappa must be a non-negative integer as a decimal string, got "0.05"',
    )
    const negative = json()
    negative.params.registry.minStake = -1
    expect(errorOf(() => parseDeployment(negative)).message).toMatch(/params\.registry\.minStake must be a non-negative integer/)
  })

  test('names a bad contract address, chain id or missing contract', () => {
    const badAddress = json()
    badAddress.contracts.JobMarket.address = '0x1234'
    expect(errorOf(() => parseDeployment(badAddress)).message).toBe(
      'deployment: contracts.JobMarket.address must be an address, got "0x1234"',
    )
    const noController = json()
    delete noController.contracts.EmissionController
    expect(errorOf(() => parseDeployment(noController)).message).toBe('deployment: contracts.EmissionController is missing')
    expect(errorOf(() => parseDeployment({ ...json(), chainId: 0 })).message).toBe('deployment: chainId must be positive')
    expect(errorOf(() => parseDeployment({ ...json(), chainId: '31337' })).message).toBe(
      'deployment: chainId must be a non-negative integer, got "31337"',
    )
    expect(errorOf(() => parseDeployment(null)).message).toBe('deployment: the deployment must be an object')
  })
})

describe('readDeploymentFile', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-deployment-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('reads a written deployment back', async () => {
    const file = path.join(dir, 'ok.json')
    await writeFile(file, stringifyDeployment(deployment))
    expect(readDeploymentFile(file)).toEqual(deployment)
  })

  test('names the file when it is missing, not JSON, or invalid', async () => {
    const missing = path.join(dir, 'missing.json')
    expect(errorOf(() => readDeploymentFile(missing)).message).toBe(`cannot read the deployment file ${missing}`)
    const garbage = path.join(dir, 'garbage.json')
    await writeFile(garbage, '{ not json')
    expect(errorOf(() => readDeploymentFile(garbage)).message).toBe(`the deployment file ${garbage} is not JSON`)
    const invalid = path.join(dir, 'invalid.json')
    await writeFile(invalid, JSON.stringify({ ...json(), startBlock: 'one' }))
    expect(errorOf(() => readDeploymentFile(invalid)).message).toBe(`${invalid}: startBlock must be a non-negative integer, got "one"`)
  })
})
