import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { createPublicClient, http, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { type Anvil, startAnvil } from '../devnet/startAnvil.ts'
import { readDeploymentFile } from '../protocol/deployment.ts'
import { deployAll } from './deploy.ts'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from './generated/index.ts'

let anvil: Anvil
const dir = mkdtempSync(path.join(tmpdir(), 'tessera-deploy-'))

beforeAll(async () => {
  anvil = await startAnvil()
})
afterAll(async () => {
  await anvil?.stop()
})

describe('deployAll', () => {
  test('deploys, wires and writes the deployment file; readDeploymentFile reads it back', async () => {
    const matcher = privateKeyToAccount(devKeys[1]).address
    const out = path.join(dir, 'a.json')
    const deployment = await deployAll({
      rpcUrl: anvil.rpcUrl,
      deployerKey: devKeys[0],
      matcher,
      params: { registry: { minStake: 5n } },
      out,
    })
    expect(readDeploymentFile(out)).toEqual(deployment)
    expect(deployment).toMatchObject({
      chainId: 31337,
      startBlock: deployment.contracts.TesseraToken.blockNumber,
      deployer: privateKeyToAccount(devKeys[0]).address,
      matcher,
      params: {
        registry: { minStake: 5n, unbondingPeriod: 600n },
        market: { takeBps: 1000n, collateralBps: 10_000n, slashBeneficiaryBps: 5000n, commitWindow: 120n, revealWindow: 120n },
      },
    })
    expect(deployment.params.token.genesisSupply).toBe(100_000_000n * 10n ** 18n)
    expect(deployment.params.emission.epochLength).toBe(30n)

    const client = createPublicClient({ transport: http(anvil.rpcUrl) })
    const { TesseraToken, ProviderRegistry, JobMarket, EmissionController } = deployment.contracts
    const read = (address: `0x${string}`, abi: readonly unknown[], functionName: string, args: readonly unknown[] = []) =>
      client.readContract({ address, abi, functionName, args } as never)
    expect(await read(TesseraToken.address, tesseraTokenAbi, 'minter')).toBe(EmissionController.address)
    expect(await read(ProviderRegistry.address, providerRegistryAbi, 'jobMarket')).toBe(JobMarket.address)
    expect(await read(ProviderRegistry.address, providerRegistryAbi, 'minStake')).toBe(5n)
    expect(await read(EmissionController.address, emissionControllerAbi, 'jobMarket')).toBe(JobMarket.address)
    expect(await read(JobMarket.address, jobMarketAbi, 'hasRole', [keccak256(toHex('MATCHER_ROLE')), matcher])).toBe(true)
    expect(await read(JobMarket.address, jobMarketAbi, 'emissionController')).toBe(EmissionController.address)
  })

  test('runs as a script: `tsx contracts/deploy.ts --rpc … --out …`', async () => {
    const out = path.join(dir, 'b.json')
    await promisify(execFile)(path.resolve('node_modules/.bin/tsx'), ['contracts/deploy.ts', '--rpc', anvil.rpcUrl, '--out', out])
    const deployment = JSON.parse(readFileSync(out, 'utf8'))
    expect(deployment.matcher).toBe(privateKeyToAccount(devKeys[1]).address)
    expect(Object.keys(deployment.contracts).sort()).toEqual([
      'ChallengeLedger',
      'EmissionController',
      'JobBatcher',
      'JobMarket',
      'ProviderBatcher',
      'ProviderRegistry',
      'TesseraTimelock',
      'TesseraToken',
    ])
  })
})
