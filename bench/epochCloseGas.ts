import { type Address, encodeFunctionData, getAddress, type Hex, keccak256, slice, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { emissionControllerAbi, providerRegistryAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { advanceEpochData, controllerDeployData, registryDeployData, tokenDeployData, wiringCalls } from '../devnet/emissionStack.ts'
import { startAnvil } from '../devnet/startAnvil.ts'
import { emissionParams } from '../economics/params.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'
import { BenchRpcError, type JsonRpc, jsonRpc } from './jsonRpc.ts'

/** anvil's block gas limit: what one transaction can never exceed. */
export const BLOCK_GAS_LIMIT = 30_000_000n

/** One `advanceEpoch` measurement. */
export type AdvanceGas = {
  /** What the call closed. */
  case: string
  /** Epochs the call closed. */
  epochs: number
  /** Paid providers in the closed epoch(s). */
  paidProviders: number
  /** Gas used; undefined when the call could not run within {@link BLOCK_GAS_LIMIT}. */
  gas: bigint | undefined
}

export type EpochCloseGasReturnType = {
  /** The node's `web3_clientVersion`. */
  node: string
  /** `advanceEpoch` closing one epoch with 1, 100 and 10,000 paid providers. */
  byPaidProviders: AdvanceGas[]
  /** Catch-up after an outage: bounded calls over empty epochs and over epochs that all had a paid provider. */
  catchUp: AdvanceGas[]
  /** `recordJob` (from JobMarket's settlement: `finalize`, or the agreeing last reveal) and `recordChallenge` (from ChallengeLedger's `record`), by case. */
  recordJob: { case: string; gas: bigint }[]
  /** `claim` of one provider out of 10,000 paid ones. */
  claimAmongMany: bigint
}

/** Seconds per epoch: long enough that thousands of set-up transactions land in one epoch. */
const EPOCH = 86_400n
const PAID = [1, 100, 10_000] as const
const GAS_PRICE = toHex(10n ** 9n)

/** Varied measured throughput, so the recipients' weights (their attested capacity) differ: 1,000–199,999 units an hour. */
const unitsPerHourOf = (i: number) => BigInt(1_000 + ((i * 7_919) % 199_000))
const registryAt = (i: number): Address => getAddress(slice(keccak256(toHex(`bench provider ${i}`)), 12))
/** Varied hardware (the registry stores it; the law no longer reads it). */
const hardwareOf = (i: number) => ({
  gpuModel: 1,
  gpuCount: 1 + (i % 8),
  vramMiB: 24_576,
  cpuCores: 16,
  memoryMiB: 65_536,
  benchmarkScore: 1_000 + ((i * 7_919) % 199_000),
})

/**
 * Gas of closing an epoch against the number of providers paid in it, and of catching up after a keeper outage,
 * on a fresh anvil. The JobMarket and the ChallengeLedger are one impersonated account calling `recordChallenge` and
 * `recordJob` directly (as economics' tests do), so 10,000 paid providers take seconds to set up; the registry and its
 * 10,000 providers are real. Each paid provider passed a challenge in the epoch, so it is an availability recipient
 * too (`stakePerUnit` 0: the providers stake nothing, their weight is their attested capacity).
 */
export async function epochCloseGas(): Promise<EpochCloseGasReturnType> {
  const anvil = await startAnvil()
  try {
    return await measure(jsonRpc(anvil.rpcUrl))
  } finally {
    await anvil.stop()
  }
}

async function measure(rpc: JsonRpc): Promise<EpochCloseGasReturnType> {
  const deployer = privateKeyToAccount(devKeys[0]).address
  const jobMarket = privateKeyToAccount(devKeys[7]).address
  await rpc.call('anvil_autoImpersonateAccount', [true])

  /** Full set-up blocks raise the base fee (EIP-1559) past any fixed gas price; gas used doesn't depend on it. */
  const resetBaseFee = () => rpc.call('anvil_setNextBlockBaseFeePerGas', [GAS_PRICE])
  /** anvil may answer eth_sendTransaction before it mined the transaction: poll for the receipt. */
  const receiptOf = async (hash: Hex) => {
    for (let tries = 0; tries < 500; tries++) {
      const receipt = await rpc.call<{ status: Hex; gasUsed: Hex; contractAddress: Address | null } | null>('eth_getTransactionReceipt', [
        hash,
      ])
      if (receipt) return receipt
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new BenchRpcError(`no receipt for ${hash} after 5 s`)
  }
  /** Sends and mines one transaction; its gas, or undefined when it reverted (out of gas). */
  const send = async (from: Address, to: Address | undefined, data: Hex, gas = BLOCK_GAS_LIMIT) => {
    await resetBaseFee()
    const hash = await rpc.call<Hex>('eth_sendTransaction', [{ from, to, data, gas: toHex(gas), gasPrice: GAS_PRICE }])
    return receiptOf(hash)
  }
  const deploy = async (data: Hex): Promise<Address> => {
    const receipt = await send(deployer, undefined, data)
    if (receipt.status !== '0x1' || !receipt.contractAddress) throw new BenchRpcError('a bench deployment reverted')
    return receipt.contractAddress
  }
  const gasOf = async (from: Address, to: Address, data: Hex): Promise<bigint | undefined> => {
    const receipt = await send(from, to, data)
    return receipt.status === '0x1' ? BigInt(receipt.gasUsed) : undefined
  }
  /** Mines until the pool is empty (automine off): thousands of transactions in a few dozen blocks. */
  const mineAll = async () => {
    for (;;) {
      const { pending } = await rpc.call<{ pending: Hex }>('txpool_status')
      if (BigInt(pending) === 0n) return
      await resetBaseFee()
      await rpc.call('evm_mine')
    }
  }
  const setNextTimestamp = (t: bigint) => rpc.call('evm_setNextBlockTimestamp', [toHex(t)])

  // One token and registry for the providers (minimum stake 0: registered and unpaused counts as capacity).
  const token = await deploy(tokenDeployData(deployer, 100_000_000n * TSR))
  const registry = await deploy(registryDeployData(token, deployer))
  const providerCount = Math.max(...PAID) + 1
  const providers = Array.from({ length: providerCount }, (_, i) => registryAt(i))
  await rpc.batch(providers.map((p) => ({ method: 'anvil_setBalance', params: [p, toHex(10n ** 18n)] })))
  await rpc.call('evm_setAutomine', [false])
  await rpc.batch(
    providers.map((from, i) => ({
      method: 'eth_sendTransaction',
      params: [
        {
          from,
          to: registry,
          gas: toHex(400_000n),
          gasPrice: GAS_PRICE,
          nonce: '0x0',
          data: encodeFunctionData({
            abi: providerRegistryAbi,
            functionName: 'register',
            args: [hardwareOf(i), 1n, encodeRegion('eu'), '0x01'],
          }),
        },
      ],
    })),
  )
  await mineAll()
  await rpc.call('evm_setAutomine', [true])

  /** A fresh token and controller whose JobMarket is the impersonated `jobMarket` account. */
  const freshController = async (): Promise<{ controller: Address; genesis: bigint }> => {
    const rewards = await deploy(tokenDeployData(deployer, 100_000_000n * TSR))
    const params = emissionParams({ epochLength: EPOCH, stakePerUnit: 0n })
    const controller = await deploy(controllerDeployData(rewards, registry, deployer, params))
    for (const { to, data } of wiringCalls(rewards, controller, jobMarket, jobMarket)) await send(deployer, to, data)
    const genesis = BigInt(
      await rpc.call<Hex>('eth_call', [
        { to: controller, data: encodeFunctionData({ abi: emissionControllerAbi, functionName: 'genesis' }) },
        'latest',
      ]),
    )
    return { controller, genesis }
  }
  const recordJobData = (provider: Address, fee: bigint = 1_000n * TSR) =>
    encodeFunctionData({ abi: emissionControllerAbi, functionName: 'recordJob', args: [provider, fee, 1_000n] })
  const recordPassData = (provider: Address, i: number) =>
    encodeFunctionData({ abi: emissionControllerAbi, functionName: 'recordChallenge', args: [provider, true, unitsPerHourOf(i)] })
  /**
   * For providers [from, to): a passed challenge and one job of `fee` each, in as few blocks as the gas limit allows.
   */
  const recordMany = async (controller: Address, from: number, to: number, fee: bigint) => {
    const nonce = Number(BigInt(await rpc.call<Hex>('eth_getTransactionCount', [jobMarket, 'latest'])))
    await rpc.call('evm_setAutomine', [false])
    const tx = (data: Hex, n: number) => ({
      method: 'eth_sendTransaction',
      params: [{ from: jobMarket, to: controller, gas: toHex(500_000n), gasPrice: GAS_PRICE, nonce: toHex(nonce + n), data }],
    })
    await rpc.batch(
      providers
        .slice(from, to)
        .flatMap((provider, i) => [tx(recordPassData(provider, from + i), 2 * i), tx(recordJobData(provider, fee), 2 * i + 1)]),
    )
    await mineAll()
    await rpc.call('evm_setAutomine', [true])
  }
  const advance = (controller: Address, maxEpochs?: bigint) => gasOf(deployer, controller, advanceEpochData(maxEpochs))

  // advanceEpoch against the number of paid providers in the closed epoch.
  const byPaidProviders: AdvanceGas[] = []
  let claimAmongMany = 0n
  const recordJob: { case: string; gas: bigint }[] = []
  for (const paid of PAID) {
    const { controller, genesis } = await freshController()
    // The same 10,000 TSR of fees in every case, so the law takes the same branches and only the providers differ.
    await recordMany(controller, 0, paid, (10_000n * TSR) / BigInt(paid))
    await setNextTimestamp(genesis + EPOCH + 1n)
    byPaidProviders.push({
      case: `one epoch, ${paid.toLocaleString('en-US')} paid`,
      epochs: 1,
      paidProviders: paid,
      gas: await advance(controller),
    })
    if (paid === 10_000) {
      const claim = await gasOf(
        providers[0],
        controller,
        encodeFunctionData({ abi: emissionControllerAbi, functionName: 'claim', args: [0n] }),
      )
      if (claim === undefined) throw new BenchRpcError('claim reverted')
      claimAmongMany = claim
    }
    if (paid === 1) {
      // In epoch 1 of this controller: the first passes of new providers (each walks the capped set), their jobs,
      // then a repeat.
      for (let i = 0; i < 6; i++) {
        const pass = await gasOf(jobMarket, controller, recordPassData(providers[i], i))
        if (pass === undefined) throw new BenchRpcError('recordChallenge reverted')
        recordJob.push({ case: `recordChallenge: first pass of provider ${i + 1} in the epoch`, gas: pass })
        const gas = await gasOf(jobMarket, controller, recordJobData(providers[i]))
        if (gas === undefined) throw new BenchRpcError('recordJob reverted')
        recordJob.push({ case: `recordJob: first job of provider ${i + 1} in the epoch`, gas })
      }
      const gas = await gasOf(jobMarket, controller, recordJobData(providers[0]))
      if (gas === undefined) throw new BenchRpcError('recordJob reverted')
      recordJob.push({ case: 'recordJob: a later job of a provider already paid in the epoch', gas })
    }
  }

  // Catch-up after an outage: 1,000 empty epochs closed by bounded calls, then 64 epochs that each paid a provider.
  const catchUp: AdvanceGas[] = []
  {
    const { controller, genesis } = await freshController()
    await setNextTimestamp(genesis + EPOCH + 1n)
    await advance(controller) // epoch 0: the controller's first close writes its state slots for the first time
    await setNextTimestamp(genesis + 1_001n * EPOCH + 1n)
    for (const bound of [1n, 10n, 100n, 500n]) {
      catchUp.push({
        case: `outage of empty epochs, advanceEpoch(${bound})`,
        epochs: Number(bound),
        paidProviders: 0,
        gas: await advance(controller, bound),
      })
    }
    catchUp.push({
      case: 'outage of empty epochs, advanceEpoch() (default bound 64)',
      epochs: 64,
      paidProviders: 0,
      gas: await advance(controller),
    })
    await advance(controller, 1_000n) // the rest of the outage
    const first = await nextEpochOf(rpc, controller) // the open epoch
    for (let e = first; e < first + 64n; e++) {
      await setNextTimestamp(genesis + e * EPOCH + 10n)
      const i = Number(e % 8n)
      await send(jobMarket, controller, recordPassData(providers[i], i))
      await send(jobMarket, controller, recordJobData(providers[i]))
    }
    await setNextTimestamp(genesis + (first + 64n) * EPOCH + 10n)
    catchUp.push({
      case: '64 epochs, each with 1 paid provider, advanceEpoch(64)',
      epochs: 64,
      paidProviders: 1,
      gas: await advance(controller, 64n),
    })
  }
  return { node: await rpc.call<string>('web3_clientVersion'), byPaidProviders, catchUp, recordJob, claimAmongMany }
}

/** The controller's `state().nextEpoch`: the first epoch not closed yet. */
async function nextEpochOf(rpc: JsonRpc, controller: Address): Promise<bigint> {
  const data = encodeFunctionData({ abi: emissionControllerAbi, functionName: 'state' })
  const result = await rpc.call<Hex>('eth_call', [{ to: controller, data }, 'latest'])
  return BigInt(slice(result, 0, 32))
}
