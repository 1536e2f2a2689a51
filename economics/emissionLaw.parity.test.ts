import {
  type Address,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  type Hex,
  http,
  type PublicClient,
  parseEventLogs,
} from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { emissionControllerAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { advanceEpochData, controllerDeployData, registryDeployData, tokenDeployData, wiringCalls } from '../devnet/emissionStack.ts'
import { type Anvil, startAnvil } from '../devnet/startAnvil.ts'
import { TSR, WAD } from '../protocol/units.ts'
import { defined } from '../test/support/defined.ts'
import {
  advanceEpochs,
  claimable,
  type EmissionState,
  type EpochInputs,
  type EpochOutputs,
  type EpochRecord,
  initialState,
  type RecordedEvent,
} from './emissionLaw.ts'
import { DEFAULT_MAX_EPOCHS, emissionParams } from './params.ts'
import { prng } from './prng.ts'

/**
 * Parity: the contract and `emissionLaw.ts` run the same random sequence of epochs (jobs and challenges interleaved,
 * empty epochs, keeper outages of up to 70 epochs, stake changes, claims) and must agree on every `EpochAdvanced` field,
 * every `claimable`, every claim and every attested capacity, wei for wei. Each `advanceEpoch` call takes a random bound
 * (or the default 64), so outages are closed over several calls.
 */

const SEED = 0x7e55e7a1
/** A second stream for the callers' bounds, so the epochs themselves are the ones SEED always drew. */
const BOUND_SEED = 0xb0b
const MIN_CLOSED_EPOCHS = 240n
const MAX_CLOSED_EPOCHS = 2_000n
const EPOCH_LENGTH = 3600n
/** 20M TSR: the cap (≈ 4,383 TSR/epoch at first) starts below B0 (6,000 TSR), so it binds early and again when demand spikes. */
const GENESIS_SUPPLY = 20_000_000n * TSR
/** φ_min below the default 1, so φ falls and the parity covers it. */
const params = emissionParams({ epochLength: EPOCH_LENGTH, phiMin: WAD / 2n })
/**
 * `advanceEpoch` gas bound: a call's fixed part plus a constant per epoch closed, whatever the paid providers: ≈ 63k
 * for an epoch with fees and recipients, plus one read per capped weight (≤ 4 at the default 25 %). BENCHMARKS.md.
 */
const ADVANCE_GAS_FIXED = 150_000n
const ADVANCE_GAS_PER_EPOCH = 75_000n

/**
 * Whether one of the epoch's recipients held the per-provider cap's share of the weight when it joined and lost it
 * by the close: the case where the contract's capped set (kept while recipients join) drops a weight. `weights` are
 * the recipients' weights in the order they joined.
 */
function dropsFromCap(weights: readonly bigint[]): boolean {
  const cappedAtJoin: bigint[] = []
  let total = 0n
  for (const weight of weights) {
    total += weight
    if (weight !== 0n && weight * WAD >= total * params.maxProviderShare) cappedAtJoin.push(weight)
  }
  return cappedAtJoin.some((weight) => weight * WAD < total * params.maxProviderShare)
}

let anvil: Anvil
let client: PublicClient

beforeAll(async () => {
  anvil = await startAnvil()
  client = createPublicClient({ chain: foundry, pollingInterval: 10, transport: http(anvil.rpcUrl, { batch: { batchSize: 200 } }) })
})

afterAll(async () => {
  await anvil?.stop()
})

test('contract and emissionLaw.ts agree wei for wei on random epochs', async () => {
  const started = Date.now()
  const rand = prng(SEED)
  const bounds = prng(BOUND_SEED)
  const [deployer, ...rest] = devKeys.map((k) => privateKeyToAccount(k))
  const providerAccounts = rest.slice(0, 6) // dev accounts 1..6: registered providers
  const jobMarket = defined(rest[6], 'dev account 7') // dev account 7 stands in for the JobMarket
  const ledger = privateKeyToAccount(generatePrivateKey()) // a fresh key stands in for the ChallengeLedger
  const unregistered: Address[] = ['0x00000000000000000000000000000000000000aa', '0x00000000000000000000000000000000000000bb']
  const allProviders: Address[] = [...providerAccounts.map((a) => a.address), ...unregistered]

  // Deployment, through viem's wallet client (its nonces, its signing).
  const wallet = createWalletClient({ account: deployer, chain: foundry, transport: http(anvil.rpcUrl) })
  const deploy = async (data: Hex) => {
    const hash = await wallet.sendTransaction({ data })
    const receipt = await client.waitForTransactionReceipt({ hash })
    return defined(receipt.contractAddress, `the address of the contract deployed in ${hash}`)
  }
  const token = await deploy(tokenDeployData(deployer.address, GENESIS_SUPPLY))
  const registry = await deploy(registryDeployData(token, deployer.address))
  const controller = await deploy(controllerDeployData(token, registry, deployer.address, params))

  // From here on: locally signed raw transactions with our own nonces (one RPC each).
  const nonces = new Map<Address, number>()
  let lastSent: Hex | undefined
  const send = async (account: PrivateKeyAccount, to: Address, data: Hex, gas = 1_000_000n): Promise<Hex> => {
    let nonce = nonces.get(account.address)
    if (nonce === undefined) nonce = await client.getTransactionCount({ address: account.address, blockTag: 'pending' })
    nonces.set(account.address, nonce + 1)
    const raw = await account.signTransaction({ chainId: foundry.id, type: 'legacy', to, data, gas, gasPrice: 10n ** 10n, nonce })
    lastSent = (await client.request({ method: 'eth_sendRawTransaction', params: [raw] })) as Hex
    return lastSent
  }
  /** anvil may answer eth_sendRawTransaction before it mines: wait before reading state. */
  const settle = async () => {
    if (lastSent) await client.waitForTransactionReceipt({ hash: lastSent, pollingInterval: 5 })
  }
  const receiptOf = async (hash: Hex) => {
    const receipt = await client.waitForTransactionReceipt({ hash })
    expect(receipt.status).toBe('success')
    return receipt
  }
  for (const { to, data } of wiringCalls(token, controller, jobMarket.address, ledger.address)) {
    await receiptOf(await send(deployer, to, data))
  }
  await client.request({ method: 'anvil_setBalance' as never, params: [ledger.address, '0x56BC75E2D63100000'] as never })

  // Providers 1..6 register and stake a random amount (minStake 0); the unregistered ones have no stake.
  const stakeOf = new Map<Address, bigint>(unregistered.map((a) => [a, 0n]))
  const region = `0x${'00'.repeat(32)}` as Hex
  const hw = { gpuModel: 1, gpuCount: 1, vramMiB: 24_576, cpuCores: 16, memoryMiB: 65_536, benchmarkScore: 100 }
  const call = (abi: typeof providerRegistryAbi | typeof tesseraTokenAbi, functionName: string, args: readonly unknown[]) =>
    encodeFunctionData({ abi, functionName, args } as never)
  const addStake = async (account: PrivateKeyAccount) => {
    const amount = rand.big(0n, 50_000n * TSR)
    await send(deployer, token, call(tesseraTokenAbi, 'transfer', [account.address, amount]))
    await send(account, token, call(tesseraTokenAbi, 'approve', [registry, amount]))
    await send(account, registry, call(providerRegistryAbi, 'stake', [amount]))
    stakeOf.set(account.address, (stakeOf.get(account.address) ?? 0n) + amount)
  }
  for (const account of providerAccounts) {
    stakeOf.set(account.address, 0n)
    await send(account, registry, call(providerRegistryAbi, 'register', [hw, 1n, region, '0x']))
    await addStake(account)
  }

  const genesis = (await client.readContract({ address: controller, abi: emissionControllerAbi, functionName: 'genesis' })) as bigint
  const startOf = (epoch: bigint) => genesis + epoch * EPOCH_LENGTH + 10n
  const setNextTimestamp = (t: bigint) =>
    client.request({ method: 'evm_setNextBlockTimestamp' as never, params: [`0x${t.toString(16)}`] as never })

  let state: EmissionState = initialState(params)
  let current = 0n
  let attested: ReadonlyMap<string, bigint> = new Map()
  let events: RecordedEvent[] = []
  const pending = new Map<bigint, RecordedEvent[]>() // ended epochs not yet closed
  const expected: EpochOutputs[] = []
  const records = new Map<bigint, EpochRecord>()
  const unclaimed = new Map<Address, bigint[]>() // registered providers' closed epochs with a reward
  const claims: { epoch: bigint; provider: Address; usage: bigint; availability: bigint }[] = []
  const advanceTxs: { hash: Hex; closed: number }[] = []
  let claimableChecks = 0
  let droppedFromCap = 0 // epochs where a recipient held the cap's share when it joined and lost it by the close
  let defaultCutShort = 0 // advanceEpoch() calls that closed 64 epochs with more pending
  let boundCutShort = 0 // advanceEpoch(maxEpochs) calls that closed maxEpochs epochs with more pending
  const advance = (maxEpochs?: bigint) => send(deployer, controller, advanceEpochData(maxEpochs), 25_000_000n)

  const drawFee = (): bigint => {
    const r = rand.next()
    if (r < 0.05) return 0n
    if (r < 0.15) return rand.big(1n, TSR)
    if (r < 0.4) return rand.big(TSR, 50_000n * TSR)
    if (r < 0.95) return rand.big(50_000n * TSR, 2_000_000n * TSR)
    return rand.big(2_000_000n * TSR, 50_000_000n * TSR)
  }

  // At least MIN_CLOSED_EPOCHS, and on until both kinds of call were cut short by their bound (MAX_CLOSED_EPOCHS at most).
  while (state.nextEpoch < MIN_CLOSED_EPOCHS || ((defaultCutShort === 0 || boundCutShort === 0) && state.nextEpoch < MAX_CLOSED_EPOCHS)) {
    // Jobs and challenges of the current epoch, interleaved (about a quarter of epochs stay empty).
    if (rand.next() < 0.75) {
      const n = rand.int(1, 10)
      for (let i = 0; i < n; i++) {
        const provider = defined(allProviders[rand.int(0, allProviders.length - 1)], 'a provider')
        if (rand.next() < 0.5) {
          const units = BigInt(rand.next() < 0.1 ? rand.int(0, 5_000_000) : rand.int(0, 400_000))
          const fee = drawFee()
          events.push({ kind: 'job', provider, fee, units })
          await send(
            jobMarket,
            controller,
            encodeFunctionData({ abi: emissionControllerAbi, functionName: 'recordJob', args: [provider, fee, units] }),
          )
        } else {
          const passed = rand.next() < 0.85
          const unitsPerHour = rand.next() < 0.1 ? 2n ** 64n - 1n : rand.big(0n, 2_000_000n)
          const stakeAtRisk = defined(stakeOf.get(provider), `the stake of ${provider}`)
          events.push({ kind: 'challenge', provider, passed, unitsPerHour, stakeAtRisk })
          const data = encodeFunctionData({
            abi: emissionControllerAbi,
            functionName: 'recordChallenge',
            args: [provider, passed, unitsPerHour],
          })
          await send(ledger, controller, data)
        }
      }
    }
    pending.set(current, events)
    events = []

    // Move on 1 epoch, or a keeper outage of up to 70.
    const gap = rand.next() < 0.85 ? 1n : BigInt(rand.int(2, 70))
    for (let e = current + 1n; e < current + gap; e++) pending.set(e, [])
    current += gap
    await settle() // or a job still in anvil's pool would be mined at the new timestamp
    await setNextTimestamp(startOf(current))

    // Close everything ended, each call under its caller's bound; the contract reads capacity and supply once per call.
    while (state.nextEpoch < current) {
      const maxEpochs = bounds.next() < 0.5 ? undefined : BigInt(bounds.int(1, 8))
      await settle()
      const supply = (await client.readContract({ address: token, abi: tesseraTokenAbi, functionName: 'totalSupply' })) as bigint
      const closing: EpochInputs[] = []
      const bound = maxEpochs ?? DEFAULT_MAX_EPOCHS
      for (let e = state.nextEpoch; e < current && BigInt(closing.length) < bound; e++) {
        closing.push({ events: defined(pending.get(e), `the events of epoch ${e}`), supply })
        pending.delete(e)
      }
      const result = advanceEpochs({ state, inputs: closing, params, attested })
      attested = result.attested
      const weightsOf = (record: EpochRecord) => [...record.providers.values()].map((p) => p.weight).filter((w) => w > 0n)
      droppedFromCap += result.epochs.filter((step) => dropsFromCap(weightsOf(step.record))).length
      if (result.state.nextEpoch < current) {
        if (maxEpochs === undefined) defaultCutShort++
        else boundCutShort++
      }
      for (const step of result.epochs) {
        expected.push(step.outputs)
        records.set(step.outputs.epoch, step.record)
        for (const payout of step.payouts) {
          const account = providerAccounts.find((a) => a.address.toLowerCase() === payout.provider)
          if (!account || payout.usage + payout.availability === 0n) continue
          unclaimed.set(account.address, [...(unclaimed.get(account.address) ?? []), step.outputs.epoch])
        }
      }
      state = result.state
      advanceTxs.push({ hash: await advance(maxEpochs), closed: closing.length })
      await settle()

      // Every claimable of the epochs just closed, for every provider we use.
      const checks = result.epochs.flatMap((step) =>
        allProviders.map(async (provider) => {
          const [usage, availability] = (await client.readContract({
            address: controller,
            abi: emissionControllerAbi,
            functionName: 'claimable',
            args: [step.outputs.epoch, provider],
          })) as readonly [bigint, bigint]
          expect({ epoch: step.outputs.epoch, provider, usage, availability }).toEqual({
            epoch: step.outputs.epoch,
            provider,
            ...claimable({ record: step.record, provider, params }),
          })
        }),
      )
      await Promise.all(checks)
      claimableChecks += checks.length
    }
    // Idempotent: a second call with nothing to close emits nothing (checked through the logs below).
    if (rand.next() < 0.2) advanceTxs.push({ hash: await advance(bounds.next() < 0.5 ? undefined : 1n), closed: 0 })

    // Some registered providers claim some of their unclaimed rewards (this moves the supply and so the cap).
    for (const account of providerAccounts) {
      const open = unclaimed.get(account.address) ?? []
      if (open.length === 0 || rand.next() < 0.3) continue
      const [epoch] = open.splice(rand.int(0, open.length - 1), 1) as [bigint]
      const payout = claimable({ record: defined(records.get(epoch), `the record of epoch ${epoch}`), provider: account.address, params })
      claims.push({ epoch, provider: account.address, ...payout })
      await send(account, controller, encodeFunctionData({ abi: emissionControllerAbi, functionName: 'claim', args: [epoch] }))
    }

    // Stake moves between epochs: more stake, or an unstake request (stake at risk excludes it at once).
    if (rand.next() < 0.2) {
      const account = defined(providerAccounts[rand.int(0, providerAccounts.length - 1)], 'a provider account')
      if (rand.next() < 0.5) await addStake(account)
      else {
        const atRisk = defined(stakeOf.get(account.address), `the stake of ${account.address}`)
        const amount = rand.big(0n, atRisk)
        await send(account, registry, call(providerRegistryAbi, 'requestUnstake', [amount]))
        stakeOf.set(account.address, atRisk - amount)
      }
    }
  }

  await settle()
  // Every advanceEpoch succeeded within a constant per epoch closed (no loop over providers), and the chain's
  // events equal the model's outputs, in order.
  let maxAdvanceGas = 0n
  for (const { hash, closed } of advanceTxs) {
    const { gasUsed } = await receiptOf(hash)
    expect(gasUsed).toBeLessThanOrEqual(ADVANCE_GAS_FIXED + ADVANCE_GAS_PER_EPOCH * BigInt(closed))
    if (gasUsed > maxAdvanceGas) maxAdvanceGas = gasUsed
  }
  const logs = await client.getLogs({ address: controller, fromBlock: 0n, toBlock: 'latest' })
  const advanced = parseEventLogs({ abi: emissionControllerAbi, logs, eventName: 'EpochAdvanced' }).map((l) => l.args)
  expect(advanced.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) expect({ ...advanced[i] }).toEqual({ ...expected[i] })
  const rewarded = parseEventLogs({ abi: emissionControllerAbi, logs, eventName: 'RewardClaimed' }).map((l) => l.args)
  expect(rewarded).toEqual(claims)

  // The supply grew by exactly the claims; the model's state equals the contract's.
  const supply = (await client.readContract({ address: token, abi: tesseraTokenAbi, functionName: 'totalSupply' })) as bigint
  expect(supply).toBe(GENESIS_SUPPLY + claims.reduce((s, c) => s + c.usage + c.availability, 0n))
  const chainState = (await client.readContract({
    address: controller,
    abi: emissionControllerAbi,
    functionName: 'state',
  })) as EmissionState
  expect({ ...chainState }).toEqual(state)
  for (const provider of allProviders) {
    const onChain = await client.readContract({
      address: controller,
      abi: emissionControllerAbi,
      functionName: 'attestedCapacityOf',
      args: [provider],
    })
    expect({ provider, attested: onChain }).toEqual({ provider, attested: attested.get(provider.toLowerCase()) ?? 0n })
  }

  // The run exercised every branch of the law, and outages longer than a call's bound: the default 64 and the caller's.
  expect(defaultCutShort).toBeGreaterThan(0)
  expect(boundCutShort).toBeGreaterThan(0)
  const limiters = new Set(expected.map((o) => o.limiter))
  expect([...limiters].sort()).toEqual([0, 1, 2, 3])
  expect(expected.some((o) => o.forfeited > 0n && o.availabilityEmission > 0n)).toBe(true)
  expect(droppedFromCap).toBeGreaterThan(0)
  expect(expected.some((o) => o.phi < params.phi0)).toBe(true)
  expect(expected.some((o) => o.usageEmission > 0n && o.utilisation === WAD)).toBe(true)
  // Declared units beyond a provider's attested capacity count for nothing.
  expect(expected.some((o) => o.compute > 0n && o.compute < o.units)).toBe(true)
  const byLimiter = [0, 1, 2, 3].map((l) => expected.filter((o) => o.limiter === l).length).join('/')
  console.info(
    `parity: ${expected.length} epochs (limiter none/up/down/cap ${byLimiter}), ${claimableChecks} claimable checks, ` +
      `${claims.length} claims, ${droppedFromCap} epochs with a weight dropped from the capped set, ` +
      `${advanceTxs.length} advanceEpoch calls (${defaultCutShort} default and ${boundCutShort} bounded ones cut short), ` +
      `max advanceEpoch gas ${maxAdvanceGas}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
}, 120_000)
