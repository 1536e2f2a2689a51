import fc from 'fast-check'
import { type Address, type Hex, type PrivateKeyAccount, parseEventLogs, zeroAddress } from 'viem'
import { beforeAll, describe, expect, test } from 'vitest'
import { defaultHardware, expectRevert, fund, registerProvider, useTestSystem } from '../devnet/testSystem.ts'
import type { Hardware } from '../protocol/hardware.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'
import { providerRegistryAbi, providerRegistryBytecode, tesseraTokenAbi } from './generated/index.ts'

const sys = useTestSystem()
let alice: PrivateKeyAccount
let bob: PrivateKeyAccount

const MIN_STAKE = 100n * TSR
const UNBONDING = 600n

beforeAll(() => {
  ;[alice, bob] = sys.accounts.providers
})

type Provider = {
  registered: boolean
  paused: boolean
  hardware: Hardware
  pricePerUnit: bigint
  region: Hex
  stake: bigint
  locked: bigint
  pendingUnstake: bigint
  unstakeAvailableAt: bigint
}

const reg = (registry: Address = sys.registry) => ({
  read: <T>(functionName: string, args: readonly unknown[] = []) =>
    sys.read<T>({ address: registry, abi: providerRegistryAbi, functionName, args }),
  write: (account: PrivateKeyAccount, functionName: string, args: readonly unknown[] = []) =>
    sys.write(account, { address: registry, abi: providerRegistryAbi, functionName, args }),
})
const balanceOf = (who: Address) => sys.read<bigint>({ address: sys.token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [who] })
const totalSupply = () => sys.read<bigint>({ address: sys.token, abi: tesseraTokenAbi, functionName: 'totalSupply' })

/** A registry whose "JobMarket" is the matcher EOA, so tests can call lock/unlock/slash directly. */
async function registryWithEoaMarket(): Promise<{ address: Address; market: PrivateKeyAccount }> {
  const { deployer, matcher } = sys.accounts
  const address = await sys.deployContract(deployer, providerRegistryAbi, providerRegistryBytecode, [
    sys.token,
    deployer.address,
    MIN_STAKE,
    UNBONDING,
  ])
  await reg(address).write(deployer, 'setJobMarket', [matcher.address])
  return { address, market: matcher }
}

describe('ProviderRegistry: admin', () => {
  test('the deployed registry is wired to the JobMarket, with devnet parameters', async () => {
    expect(await reg().read('jobMarket')).toBe(sys.market)
    expect(await reg().read('token')).toBe(sys.token)
    expect(await reg().read('minStake')).toBe(MIN_STAKE)
    expect(await reg().read('unbondingPeriod')).toBe(UNBONDING)
  })

  test('setJobMarket reverts JobMarketAlreadySet, ZeroAddress, OwnableUnauthorizedAccount', async () => {
    await expectRevert(reg().write(sys.accounts.deployer, 'setJobMarket', [alice.address]), 'JobMarketAlreadySet')
    const { deployer } = sys.accounts
    const fresh = await sys.deployContract(deployer, providerRegistryAbi, providerRegistryBytecode, [
      sys.token,
      deployer.address,
      MIN_STAKE,
      UNBONDING,
    ])
    await expectRevert(reg(fresh).write(deployer, 'setJobMarket', [zeroAddress]), 'ZeroAddress')
    await expectRevert(reg(fresh).write(alice, 'setJobMarket', [alice.address]), 'OwnableUnauthorizedAccount')
    const receipt = await reg(fresh).write(deployer, 'setJobMarket', [alice.address])
    expect(parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'JobMarketSet' })).toHaveLength(1)
  })

  test('constructor reverts ZeroAddress for a zero token', async () => {
    const { deployer } = sys.accounts
    await expectRevert(
      sys.deployContract(deployer, providerRegistryAbi, providerRegistryBytecode, [zeroAddress, deployer.address, MIN_STAKE, UNBONDING]),
      'ZeroAddress',
    )
  })
})

describe('ProviderRegistry: providers', () => {
  test('register stores the record and key and emits ProviderRegistered', async () => {
    const hw = { ...defaultHardware, gpuCount: 2, benchmarkScore: 500 }
    const receipt = await reg().write(alice, 'register', [hw, 7n, encodeRegion('us'), '0xabcdef'])
    const [event] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'ProviderRegistered' })
    expect(event.args).toMatchObject({
      provider: alice.address,
      pricePerUnit: 7n,
      region: encodeRegion('us'),
      encryptionPubKey: '0xabcdef',
    })
    expect(event.args.hardware).toEqual(hw)
    const p = await reg().read<Provider>('getProvider', [alice.address])
    expect(p).toMatchObject({ registered: true, paused: false, pricePerUnit: 7n, stake: 0n, locked: 0n, pendingUnstake: 0n })
    expect(p.hardware).toEqual(hw)
    expect(await reg().read('encryptionPubKeyOf', [alice.address])).toBe('0xabcdef')
    expect(await reg().read('capacityOf', [alice.address])).toBe(1000n)
    // Not staked yet: no capacity counted, not eligible.
    expect(await reg().read('totalCapacity')).toBe(0n)
    expect(await reg().read('isEligible', [alice.address, 0n])).toBe(false)
  })

  test('register reverts AlreadyRegistered and InvalidPrice', async () => {
    await expectRevert(reg().write(alice, 'register', [defaultHardware, 0n, encodeRegion('eu'), '0x']), 'InvalidPrice')
    await reg().write(alice, 'register', [defaultHardware, 1n, encodeRegion('eu'), '0x'])
    const args = await expectRevert(reg().write(alice, 'register', [defaultHardware, 1n, encodeRegion('eu'), '0x']), 'AlreadyRegistered')
    expect(args).toEqual([alice.address])
  })

  test('update changes hardware, ask and region; reverts NotRegistered and InvalidPrice', async () => {
    await expectRevert(reg().write(alice, 'update', [defaultHardware, 1n, encodeRegion('eu')]), 'NotRegistered')
    await registerProvider(sys, alice)
    await expectRevert(reg().write(alice, 'update', [defaultHardware, 0n, encodeRegion('eu')]), 'InvalidPrice')
    const hw = { ...defaultHardware, gpuCount: 4 }
    const receipt = await reg().write(alice, 'update', [hw, 9n, encodeRegion('ap')])
    const [event] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'ProviderUpdated' })
    expect(event.args).toMatchObject({ provider: alice.address, pricePerUnit: 9n, region: encodeRegion('ap') })
    expect(await reg().read('capacityOf', [alice.address])).toBe(4000n)
    expect(await reg().read('totalCapacity')).toBe(4000n)
  })

  test('pause/unpause toggle eligibility and capacity; revert AlreadyInState and NotRegistered', async () => {
    await expectRevert(reg().write(alice, 'pause'), 'NotRegistered')
    await expectRevert(reg().write(alice, 'unpause'), 'NotRegistered')
    await registerProvider(sys, alice)
    expect(await reg().read('totalCapacity')).toBe(1000n)
    expect(await reg().read('isEligible', [alice.address, 0n])).toBe(true)
    await expectRevert(reg().write(alice, 'unpause'), 'AlreadyInState')
    const receipt = await reg().write(alice, 'pause')
    expect(parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'ProviderPaused' })).toHaveLength(1)
    expect(await reg().read('totalCapacity')).toBe(0n)
    expect(await reg().read('isEligible', [alice.address, 0n])).toBe(false)
    await expectRevert(reg().write(alice, 'pause'), 'AlreadyInState')
    const receipt2 = await reg().write(alice, 'unpause')
    expect(parseEventLogs({ abi: providerRegistryAbi, logs: receipt2.logs, eventName: 'ProviderUnpaused' })).toHaveLength(1)
    expect(await reg().read('totalCapacity')).toBe(1000n)
  })
})

describe('ProviderRegistry: staking', () => {
  test('stake pulls tokens and emits Staked with the total; reverts NotRegistered, ZeroAmount, ERC20InsufficientAllowance', async () => {
    await expectRevert(reg().write(alice, 'stake', [1n]), 'NotRegistered')
    await registerProvider(sys, alice, { stake: 0n })
    await expectRevert(reg().write(alice, 'stake', [0n]), 'ZeroAmount')
    await fund(sys, alice.address, 300n * TSR)
    await expectRevert(reg().write(alice, 'stake', [1n]), 'ERC20InsufficientAllowance')
    await sys.write(alice, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.registry, 300n * TSR] })
    await reg().write(alice, 'stake', [50n * TSR])
    // Below minStake: not eligible, no capacity.
    expect(await reg().read('isEligible', [alice.address, 0n])).toBe(false)
    expect(await reg().read('totalCapacity')).toBe(0n)
    const receipt = await reg().write(alice, 'stake', [150n * TSR])
    const [event] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'Staked' })
    expect(event.args).toEqual({ provider: alice.address, amount: 150n * TSR, totalStake: 200n * TSR })
    expect(await balanceOf(sys.registry)).toBe(200n * TSR)
    expect(await reg().read('isEligible', [alice.address, 100n * TSR])).toBe(true)
    expect(await reg().read('isEligible', [alice.address, 200n * TSR + 1n])).toBe(false)
    expect(await reg().read('totalCapacity')).toBe(1000n)
  })

  test('requestUnstake adds to the pending amount and restarts the clock; withdraw after the period', async () => {
    await registerProvider(sys, alice, { stake: 300n * TSR })
    await expectRevert(reg().write(alice, 'requestUnstake', [0n]), 'ZeroAmount')
    const args = await expectRevert(reg().write(alice, 'requestUnstake', [300n * TSR + 1n]), 'InsufficientFreeStake')
    expect(args).toEqual([alice.address, 300n * TSR + 1n, 300n * TSR])
    await expectRevert(reg().write(alice, 'withdraw'), 'NothingToWithdraw')

    const r1 = await reg().write(alice, 'requestUnstake', [100n * TSR])
    const [e1] = parseEventLogs({ abi: providerRegistryAbi, logs: r1.logs, eventName: 'UnstakeRequested' })
    expect(await reg().read('freeStake', [alice.address])).toBe(200n * TSR)
    await sys.increaseTime(300)
    const r2 = await reg().write(alice, 'requestUnstake', [150n * TSR])
    const [e2] = parseEventLogs({ abi: providerRegistryAbi, logs: r2.logs, eventName: 'UnstakeRequested' })
    expect(e2.args.availableAt).toBeGreaterThan(e1.args.availableAt)
    const p = await reg().read<Provider>('getProvider', [alice.address])
    expect(p.pendingUnstake).toBe(250n * TSR)
    expect(p.unstakeAvailableAt).toBe(e2.args.availableAt)
    // stake − pending = 50 TSR < minStake: no longer eligible, capacity gone.
    expect(await reg().read('isEligible', [alice.address, 0n])).toBe(false)
    expect(await reg().read('totalCapacity')).toBe(0n)

    // The first request's clock has passed, but the second restarted it.
    await sys.increaseTime(400)
    const notYet = await expectRevert(reg().write(alice, 'withdraw'), 'UnbondingNotElapsed')
    expect(notYet).toEqual([e2.args.availableAt])
    await sys.increaseTime(300)
    const before = await balanceOf(alice.address)
    const r3 = await reg().write(alice, 'withdraw')
    const [e3] = parseEventLogs({ abi: providerRegistryAbi, logs: r3.logs, eventName: 'Withdrawn' })
    expect(e3.args).toEqual({ provider: alice.address, amount: 250n * TSR })
    expect(await balanceOf(alice.address)).toBe(before + 250n * TSR)
    expect(await balanceOf(sys.registry)).toBe(50n * TSR)
    expect(await reg().read<Provider>('getProvider', [alice.address])).toMatchObject({
      stake: 50n * TSR,
      pendingUnstake: 0n,
      unstakeAvailableAt: 0n,
    })
  })
})

describe('ProviderRegistry: collateral', () => {
  test('lock, unlock and slash revert NotJobMarket for anyone else', async () => {
    await registerProvider(sys, alice)
    await expectRevert(reg().write(alice, 'lock', [alice.address, 1n, 1n]), 'NotJobMarket')
    await expectRevert(reg().write(alice, 'unlock', [alice.address, 1n, 1n]), 'NotJobMarket')
    await expectRevert(reg().write(alice, 'slash', [alice.address, 1n, 1n, alice.address, 0n]), 'NotJobMarket')
  })

  test('lock and unlock move free stake per job; revert InsufficientFreeStake and InsufficientLocked', async () => {
    const { address, market } = await registryWithEoaMarket()
    const r = reg(address)
    await registerProvider(sys, alice, { registry: address, stake: 300n * TSR })
    await expectRevert(r.write(market, 'lock', [alice.address, 1n, 300n * TSR + 1n]), 'InsufficientFreeStake')
    const receipt = await r.write(market, 'lock', [alice.address, 1n, 120n * TSR])
    const [locked] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'CollateralLocked' })
    expect(locked.args).toEqual({ provider: alice.address, jobId: 1n, amount: 120n * TSR })
    await r.write(market, 'lock', [alice.address, 2n, 30n * TSR])
    expect(await r.read('freeStake', [alice.address])).toBe(150n * TSR)
    expect(await r.read('lockedFor', [alice.address, 1n])).toBe(120n * TSR)
    expect(await r.read('isEligible', [alice.address, 150n * TSR])).toBe(true)
    expect(await r.read('isEligible', [alice.address, 150n * TSR + 1n])).toBe(false)
    // Locked stake cannot be unstaked.
    await expectRevert(r.write(alice, 'requestUnstake', [150n * TSR + 1n]), 'InsufficientFreeStake')

    const args = await expectRevert(r.write(market, 'unlock', [alice.address, 2n, 31n * TSR]), 'InsufficientLocked')
    expect(args).toEqual([alice.address, 2n, 31n * TSR, 30n * TSR])
    const receipt2 = await r.write(market, 'unlock', [alice.address, 1n, 120n * TSR])
    const [unlocked] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt2.logs, eventName: 'CollateralUnlocked' })
    expect(unlocked.args).toEqual({ provider: alice.address, jobId: 1n, amount: 120n * TSR })
    expect(await r.read('freeStake', [alice.address])).toBe(270n * TSR)
    expect(await r.read<Provider>('getProvider', [alice.address])).toMatchObject({ stake: 300n * TSR, locked: 30n * TSR })
  })

  test('slash pays the beneficiary its share, burns the rest, and lowers stake and locked', async () => {
    const { address, market } = await registryWithEoaMarket()
    const r = reg(address)
    await registerProvider(sys, alice, { registry: address, stake: 300n * TSR })
    await r.write(market, 'lock', [alice.address, 7n, 101n * TSR])
    await expectRevert(r.write(market, 'slash', [alice.address, 7n, 1n, bob.address, 10_001n]), 'InvalidBps')
    await expectRevert(r.write(market, 'slash', [alice.address, 7n, 102n * TSR, bob.address, 5000n]), 'InsufficientLocked')
    await expectRevert(r.write(market, 'slash', [alice.address, 7n, 1n * TSR, zeroAddress, 5000n]), 'ZeroAddress')

    const supply = await totalSupply()
    const bobBefore = await balanceOf(bob.address)
    const amount = 101n * TSR + 1n - 1n
    const receipt = await r.write(market, 'slash', [alice.address, 7n, amount, bob.address, 3333n])
    const toBeneficiary = (amount * 3333n) / 10_000n
    const [event] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'Slashed' })
    expect(event.args).toEqual({
      provider: alice.address,
      jobId: 7n,
      amount,
      beneficiary: bob.address,
      toBeneficiary,
      burned: amount - toBeneficiary,
    })
    expect(await balanceOf(bob.address)).toBe(bobBefore + toBeneficiary)
    expect(await totalSupply()).toBe(supply - (amount - toBeneficiary))
    expect(await balanceOf(address)).toBe(300n * TSR - amount)
    expect(await r.read<Provider>('getProvider', [alice.address])).toMatchObject({ stake: 300n * TSR - amount, locked: 0n })
    expect(await r.read('lockedFor', [alice.address, 7n])).toBe(0n)
    // 199 TSR left ≥ minStake: still counted.
    expect(await r.read('totalCapacity')).toBe(1000n)
  })

  test('slashing below minStake removes the provider from totalCapacity', async () => {
    const { address, market } = await registryWithEoaMarket()
    const r = reg(address)
    await registerProvider(sys, alice, { registry: address, stake: 150n * TSR })
    await registerProvider(sys, bob, { registry: address, stake: 150n * TSR, hardware: { gpuCount: 2 } })
    expect(await r.read('totalCapacity')).toBe(3000n)
    await r.write(market, 'lock', [alice.address, 1n, 60n * TSR])
    await r.write(market, 'slash', [alice.address, 1n, 60n * TSR, zeroAddress, 0n])
    expect(await r.read('totalCapacity')).toBe(2000n)
    expect(await r.read('isEligible', [alice.address, 0n])).toBe(false)
  })

  test("slashStake: the ledger burns a faulted provider's stake beyond its locks, once per fault; nothing unfaulted", async () => {
    const { address, market } = await registryWithEoaMarket()
    const r = reg(address)
    const ledger = bob
    await expectRevert(r.write(alice, 'setChallengeLedger', [ledger.address]), 'OwnableUnauthorizedAccount')
    await expectRevert(r.write(sys.accounts.deployer, 'setChallengeLedger', [zeroAddress]), 'ZeroAddress')
    await r.write(sys.accounts.deployer, 'setChallengeLedger', [ledger.address])
    await registerProvider(sys, alice, { registry: address, stake: 300n * TSR })
    await r.write(market, 'lock', [alice.address, 1n, 10n * TSR])
    await r.write(market, 'lock', [alice.address, 2n, 40n * TSR])
    await r.write(alice, 'requestUnstake', [50n * TSR])
    // Not faulted yet; and only the ledger may ask.
    expect(await expectRevert(r.write(ledger, 'slashStake', [alice.address, 1n]), 'NotFaulted')).toEqual([alice.address, 1n])
    await r.write(market, 'slash', [alice.address, 1n, 10n * TSR, zeroAddress, 0n])
    expect(await r.read('faultedIn', [alice.address, 1n])).toBe(true)
    await expectRevert(r.write(market, 'slashStake', [alice.address, 1n]), 'NotChallengeLedger')
    const supply = await totalSupply()
    const receipt = await r.write(ledger, 'slashStake', [alice.address, 1n])
    const [event] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'StakeSlashed' })
    // 290 left, 40 locked for job 2: 250 burned, the 50 pending among them.
    expect(event.args).toEqual({ provider: alice.address, jobId: 1n, amount: 250n * TSR })
    expect(await r.read<Provider>('getProvider', [alice.address])).toMatchObject({
      stake: 40n * TSR,
      locked: 40n * TSR,
      pendingUnstake: 0n,
      unstakeAvailableAt: 0n,
    })
    expect(await totalSupply()).toBe(supply - 250n * TSR)
    expect(await balanceOf(address)).toBe(40n * TSR)
    await expectRevert(r.write(ledger, 'slashStake', [alice.address, 1n]), 'NotFaulted')
    await expectRevert(r.write(alice, 'withdraw'), 'NothingToWithdraw')
    // Job 2's collateral is whole: the market can still release or slash it.
    await r.write(market, 'unlock', [alice.address, 2n, 40n * TSR])
    expect(await r.read('freeStake', [alice.address])).toBe(40n * TSR)
  })

  test('random lock / unlock / slash / unstake / slashStake sequences keep every stake invariant after each step', async () => {
    const { address, market } = await registryWithEoaMarket()
    const r = reg(address)
    const ledger = sys.accounts.requesters[0]
    await r.write(sys.accounts.deployer, 'setChallengeLedger', [ledger.address])
    const who = [alice, bob]
    for (const p of who) await registerProvider(sys, p, { registry: address, stake: 500n * TSR })
    type Step = { kind: 'lock' | 'unlock' | 'slash' | 'unstake' | 'slashStake'; who: number; job: number; amount: bigint }
    const step = fc.record({
      kind: fc.constantFrom<Step['kind']>('lock', 'unlock', 'slash', 'unstake', 'slashStake'),
      who: fc.integer({ min: 0, max: 1 }),
      job: fc.integer({ min: 1, max: 3 }),
      amount: fc.bigInt({ min: 1n, max: 200n * TSR }),
    })
    const check = async () => {
      let sum = 0n
      for (const p of who) {
        const rec = await r.read<Provider>('getProvider', [p.address])
        expect(rec.locked + rec.pendingUnstake).toBeLessThanOrEqual(rec.stake)
        let locks = 0n
        for (const job of [1n, 2n, 3n]) locks += await r.read<bigint>('lockedFor', [p.address, job])
        expect(locks).toBe(rec.locked)
        sum += rec.stake
      }
      expect(await balanceOf(address)).toBe(sum)
    }
    let stakeSlashes = 0
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 8, maxLength: 16 }), async (steps) => {
        const snapshot = await sys.snapshot()
        try {
          for (const s of steps) {
            const p = who[s.who] as PrivateKeyAccount
            const rec = await r.read<Provider>('getProvider', [p.address])
            const lockedForJob = await r.read<bigint>('lockedFor', [p.address, BigInt(s.job)])
            const free = rec.stake - rec.locked - rec.pendingUnstake
            const job = BigInt(s.job)
            if (s.kind === 'lock' && s.amount <= free) await r.write(market, 'lock', [p.address, job, s.amount])
            if (s.kind === 'unlock' && lockedForJob > 0n) await r.write(market, 'unlock', [p.address, job, lockedForJob])
            if (s.kind === 'slash' && lockedForJob > 0n) await r.write(market, 'slash', [p.address, job, lockedForJob, zeroAddress, 0n])
            if (s.kind === 'unstake' && s.amount <= free) await r.write(p, 'requestUnstake', [s.amount])
            if (s.kind === 'slashStake') {
              if (await r.read<boolean>('faultedIn', [p.address, job])) {
                await r.write(ledger, 'slashStake', [p.address, job])
                stakeSlashes++
                expect(await r.read<Provider>('getProvider', [p.address])).toMatchObject({ stake: rec.locked, pendingUnstake: 0n })
              } else await expectRevert(r.write(ledger, 'slashStake', [p.address, job]), 'NotFaulted')
            }
            await check()
          }
        } finally {
          await sys.revert(snapshot)
        }
      }),
      { numRuns: 16, seed: 9 },
    )
    // The sequences reached the stake slash, not only its refusals.
    expect(stakeSlashes).toBeGreaterThan(0)
  }, 180_000) // 16 sequences of up to 16 steps, each checked with a dozen reads: a minute under a full run's load
})
