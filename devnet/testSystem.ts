/**
 * Test helpers: boot an anvil, deploy the system through {@link deployAll} (the one deploy path),
 * and hand out clients for every dev account. Used by the contract tests and end-to-end tests.
 */
import {
  type Abi,
  type Address,
  BaseError,
  type Chain,
  type ContractFunctionArgs,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  keccak256,
  type LocalAccount,
  type PrivateKeyAccount,
  type PublicClient,
  type TestClient,
  type TransactionReceipt,
  toHex,
  WaitForTransactionReceiptTimeoutError,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { type DeployParamsOverrides, deployAll } from '../contracts/deploy.ts'
import { jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import type { Hardware } from '../protocol/hardware.ts'
import { encodeRegion } from '../protocol/region.ts'
import { allErrorsAbi, decodeRevert, formatRevert, type Revert } from '../protocol/revert.ts'
import { TSR } from '../protocol/units.ts'
import { devKeys } from './devAccounts.ts'
import { fund as fundAccounts } from './fund.ts'
import { type Anvil, startAnvil } from './startAnvil.ts'

/** How long a test transaction's receipt is waited for through viem before the node is asked directly (ms). */
const defaultReceiptWaitMs = 30_000

/** A call a test sends: loosely typed so one helper serves every contract. */
export type WriteParameters = { address: Address; abi: Abi | readonly unknown[]; functionName: string; args?: readonly unknown[] }

/** A deployed system on its own anvil, with clients for the dev accounts. */
export type TestSystem = {
  anvil: Anvil
  rpcUrl: string
  chain: Chain
  deployment: Deployment
  /** The four contracts' addresses. */
  token: Address
  registry: Address
  market: Address
  controller: Address
  accounts: {
    deployer: PrivateKeyAccount
    matcher: PrivateKeyAccount
    providers: [PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount]
    requesters: [PrivateKeyAccount, PrivateKeyAccount]
  }
  publicClient: ReturnType<typeof createPublicClient>
  /** anvil's cheat codes (`setBalance`, `mine`, …). */
  testClient: TestClient<'anvil'>
  /** Sends a transaction from `account`, waits for it and throws if it reverted. */
  write: (account: LocalAccount, call: WriteParameters) => Promise<TransactionReceipt>
  /** Deploys a contract from `account` (for tests that need a fresh, unwired instance). */
  deployContract: (account: LocalAccount, abi: Abi | readonly unknown[], bytecode: Hex, args: readonly unknown[]) => Promise<Address>
  /** Reads a view. */
  read: <T = unknown>(call: WriteParameters) => Promise<T>
  /** `evm_increaseTime` then `evm_mine`. */
  increaseTime: (seconds: number | bigint) => Promise<void>
  /** Timestamp of the latest block. */
  now: () => Promise<bigint>
  snapshot: () => Promise<Hex>
  /** Reverts to `id` (which anvil then forgets; take a new snapshot to return again). */
  revert: (id: Hex) => Promise<void>
  stop: () => Promise<void>
}

/**
 * Starts an anvil on a random port and deploys the system with the devnet defaults (or `params`).
 * The deployment file is not written unless `out` names a path.
 */
export async function startTestSystem(
  parameters: {
    params?: DeployParamsOverrides
    out?: string
    receiptWaitMs?: number
    /** The chain's block gas limit (anvil's 30M when absent). */
    gasLimit?: bigint
  } = {},
): Promise<TestSystem> {
  const receiptWaitMs = parameters.receiptWaitMs ?? defaultReceiptWaitMs
  const anvil = await startAnvil({ gasLimit: parameters.gasLimit })
  try {
    const accounts = {
      deployer: privateKeyToAccount(devKeys[0]),
      matcher: privateKeyToAccount(devKeys[1]),
      providers: [privateKeyToAccount(devKeys[2]), privateKeyToAccount(devKeys[3]), privateKeyToAccount(devKeys[4])],
      requesters: [privateKeyToAccount(devKeys[5]), privateKeyToAccount(devKeys[6])],
    } as TestSystem['accounts']
    const deployment = await deployAll({
      rpcUrl: anvil.rpcUrl,
      deployerKey: devKeys[0],
      matcher: accounts.matcher.address,
      params: parameters.params,
      out: parameters.out ?? false,
    })
    const chain = chainOf(deployment.chainId, anvil.rpcUrl)
    const transport = http(anvil.rpcUrl)
    const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 })
    const testClient = createTestClient({ chain, transport, mode: 'anvil' })
    const wallets = new Map<Address, ReturnType<typeof createWalletClient>>()
    const walletOf = (account: LocalAccount) => {
      let wallet = wallets.get(account.address)
      if (!wallet) {
        wallet = createWalletClient({ chain, transport, account, pollingInterval: 50 })
        wallets.set(account.address, wallet)
      }
      return wallet
    }
    /**
     * `hash`'s receipt. viem waits for it block by block; should that wait outlast `receiptWaitMs` (a contract test
     * once hung for its whole timeout there, with nothing to go on), the node is asked directly: a receipt it has is
     * returned, with a warning saying viem's wait missed it, and otherwise the error says what the node knows.
     */
    const receiptOf = async (hash: Hex): Promise<TransactionReceipt> => {
      try {
        return await publicClient.waitForTransactionReceipt({ hash, timeout: receiptWaitMs })
      } catch (error) {
        if (!(error instanceof WaitForTransactionReceiptTimeoutError)) throw error
        const [receipt, transaction, head] = await Promise.all([
          publicClient.getTransactionReceipt({ hash }).catch(() => undefined),
          publicClient.getTransaction({ hash }).catch(() => undefined),
          publicClient.getBlockNumber({ cacheTime: 0 }),
        ])
        const known = transaction ? `known to the node (block ${transaction.blockNumber ?? 'none yet'})` : 'unknown to the node'
        if (!receipt)
          throw new Error(`no receipt for ${hash} after ${receiptWaitMs} ms: ${known}, the node at block ${head}`, { cause: error })
        console.warn(
          `viem's wait for ${hash} missed its receipt (block ${receipt.blockNumber}, the node at ${head}) for ${receiptWaitMs} ms`,
        )
        return receipt
      }
    }
    /**
     * Why `call`, estimated to succeed, reverted in the block that mined it (a time boundary passed between the two, say
     * a job's deadline): the call replayed at that block, so the contract's own error comes back as a simulation's would,
     * `decodeRevert` reading it. A replay that passes leaves only the hash to tell.
     */
    async function revertOf(call: WriteParameters & { account: LocalAccount }, receipt: TransactionReceipt): Promise<Error> {
      const reverted = `${call.functionName} reverted in ${receipt.transactionHash} (block ${receipt.blockNumber})`
      try {
        await publicClient.simulateContract({ ...call, blockNumber: receipt.blockNumber } as never)
      } catch (error) {
        if (error instanceof BaseError) return new BaseError(reverted, { cause: error })
      }
      return new Error(reverted)
    }
    return {
      anvil,
      rpcUrl: anvil.rpcUrl,
      chain,
      deployment,
      token: deployment.contracts.TesseraToken.address,
      registry: deployment.contracts.ProviderRegistry.address,
      market: deployment.contracts.JobMarket.address,
      controller: deployment.contracts.EmissionController.address,
      accounts,
      publicClient: publicClient as TestSystem['publicClient'],
      testClient: testClient as TestClient<'anvil'>,
      async write(account, call) {
        const abi = [...(call.abi as Abi), ...allErrorsAbi] as Abi
        // Half again the estimate, as the agents and the leader send: an exact estimate made for the pending block can
        // fall short in the block that mines it when a time boundary passes between the two (a job deadline that makes
        // expireAssignment refund and release as well as reopen), and the transaction then reverts out of gas. The
        // JobMarket invariant sequences met exactly that.
        const estimate = await publicClient.estimateContractGas({ ...call, abi, account } as never)
        const hash = await walletOf(account).writeContract({ ...call, abi, account, chain, gas: (estimate * 3n) / 2n } as never)
        const receipt = await receiptOf(hash)
        if (receipt.status !== 'success') throw await revertOf({ ...call, abi, account }, receipt)
        return receipt
      },
      async deployContract(account, abi, bytecode, args) {
        const hash = await walletOf(account).deployContract({ abi, bytecode, args, account, chain } as never)
        const receipt = await receiptOf(hash)
        if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`deployment reverted in ${hash}`)
        return receipt.contractAddress
      },
      async read<T>(call: WriteParameters) {
        return (await publicClient.readContract(call as never)) as T
      },
      async increaseTime(seconds) {
        await testClient.increaseTime({ seconds: Number(seconds) })
        await testClient.mine({ blocks: 1 })
      },
      async now() {
        return (await publicClient.getBlock()).timestamp
      },
      snapshot: () => testClient.snapshot(),
      async revert(id) {
        await testClient.revert({ id })
      },
      stop: () => anvil.stop(),
    }
  } catch (error) {
    await anvil.stop()
    throw error
  }
}

/**
 * One test system for the test file, every test starting from the same state: started (and deployed with `params`)
 * before the file's own `beforeAll` hooks, which may add setup of their own; snapshotted before each test and reverted
 * to after it; stopped after the file's `afterAll` hooks. The returned handle forwards to that system, so it can be
 * declared at the top of the file; touching it before `beforeAll` ran throws.
 */
export function useTestSystem(parameters: { params?: DeployParamsOverrides } = {}): TestSystem {
  let system: TestSystem | undefined
  let snapshot: Hex | undefined
  beforeAll(async () => {
    system = await startTestSystem(parameters)
  })
  afterAll(async () => {
    await system?.stop()
  })
  beforeEach(async () => {
    snapshot = await started().snapshot()
  })
  afterEach(async () => {
    if (snapshot) await started().revert(snapshot)
  })
  const started = (): TestSystem => {
    if (!system) throw new Error('the test system starts in beforeAll: use it from a hook or a test')
    return system
  }
  return new Proxy({} as TestSystem, { get: (_target, key) => started()[key as keyof TestSystem] })
}

/**
 * Awaits `promise`, expects it to revert with the custom error `errorName`, and returns the error's
 * arguments. Errors from any of the four contracts decode, wherever they bubble up from.
 */
export async function expectRevert(promise: Promise<unknown>, errorName: string): Promise<readonly unknown[]> {
  let revert: Revert | undefined
  try {
    await promise
  } catch (error) {
    revert = decodeRevert(error)
    if (!revert) throw error
  }
  if (!revert) throw new Error(`expected a revert with ${errorName}, but the call succeeded`)
  if (revert.errorName !== errorName) throw new Error(`expected a revert with ${errorName}, got ${formatRevert(revert)}`)
  return revert.args
}

/** The hardware a test provider registers unless told otherwise. */
export const defaultHardware: Readonly<Hardware> = {
  gpuModel: 1,
  gpuCount: 1,
  vramMiB: 24_576,
  cpuCores: 16,
  memoryMiB: 65_536,
  benchmarkScore: 1000,
}

/**
 * Registers `provider`, funds it from the deployer and stakes `stake` (default 1,000 TSR).
 * Returns nothing; read the registry for the result.
 */
export async function registerProvider(
  system: TestSystem,
  provider: LocalAccount,
  options: {
    hardware?: Partial<Hardware>
    pricePerUnit?: bigint
    region?: Hex
    encryptionPubKey?: Hex
    stake?: bigint
    /** Another registry than the system's (a fresh one in registry tests). */
    registry?: Address
  } = {},
): Promise<void> {
  const registry = options.registry ?? system.registry
  const stake = options.stake ?? 1000n * TSR
  const hardware = { ...defaultHardware, ...options.hardware }
  await system.write(provider, {
    address: registry,
    abi: providerRegistryAbi,
    functionName: 'register',
    args: [hardware, options.pricePerUnit ?? TSR / 100n, options.region ?? encodeRegion('eu'), options.encryptionPubKey ?? '0x01'],
  })
  if (stake > 0n) {
    await fund(system, provider.address, stake)
    await system.write(provider, { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [registry, stake] })
    await system.write(provider, { address: registry, abi: providerRegistryAbi, functionName: 'stake', args: [stake] })
  }
}

/** Transfers `amount` TSR wei from the deployer (genesis holder) to `to` (see {@link fundAccounts} for many at once). */
export async function fund(system: TestSystem, to: Address, amount: bigint): Promise<void> {
  await fundAccounts({ rpcUrl: system.rpcUrl, token: system.token, from: system.accounts.deployer, to: [{ address: to, amount }] })
}

/** `JobMarket.submitJob`'s spec, as viem encodes it. */
export type JobSpecArgs = ContractFunctionArgs<typeof jobMarketAbi, 'nonpayable', 'submitJob'>[0]

/** The input of job `jobId` as JobMarket holds it: what a provider's commit names (`commitResult`). */
export async function inputHashOf(
  chain: { publicClient: Pick<PublicClient, 'readContract'>; market: Address },
  jobId: bigint,
): Promise<Hex> {
  const job = await chain.publicClient.readContract({ address: chain.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
  return job.spec.inputHash
}

/** The input of {@link sampleJobSpec}: what a test's commit names for a job of that spec (`commitResult`). */
export const sampleInputHash = keccak256(toHex('input'))

/**
 * A plain job spec for contract tests and the gas bench: 100 units at up to 0.02 TSR a unit, redundancy 2, any
 * hardware and region, no verification, a deadline an hour from the chain's clock, output tolerance 16; `overrides` win.
 */
export async function sampleJobSpec(system: Pick<TestSystem, 'now'>, overrides: Partial<JobSpecArgs> = {}): Promise<JobSpecArgs> {
  return {
    modelHash: keccak256(toHex('model')),
    inputHash: sampleInputHash,
    units: 100n,
    maxPricePerUnit: (2n * TSR) / 100n,
    minVramMiB: 0,
    gpuModel: 0,
    regions: [],
    redundancy: 2,
    verification: 0,
    deadline: (await system.now()) + 3600n,
    outputTolerance: 16,
    ...overrides,
  }
}
