import { type Address, type LocalAccount, maxUint256, parseEventLogs, zeroAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { emissionControllerAbi, emissionControllerBytecode, tesseraTokenAbi, tesseraTokenBytecode } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { expectRevert, registerProvider, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import { TSR, WAD } from '../protocol/units.ts'
import { defined } from '../test/support/defined.ts'
import { initialState } from './emissionLaw.ts'
import { emissionParams, MIN_PROVIDER_SHARE } from './params.ts'

/**
 * The EmissionController's access control, reverts and claim bookkeeping on a real anvil; the law's
 * numbers themselves are covered by `emissionLaw.parity.test.ts`.
 */

const EPOCH = 30n
const params = emissionParams({ epochLength: EPOCH })
let sys: TestSystem

beforeAll(async () => {
  sys = await startTestSystem()
})

afterAll(async () => {
  await sys?.stop()
})

/**
 * A fresh token + controller pair whose JobMarket and ChallengeLedger are an EOA (requester 0), so tests can call
 * `recordJob` and `recordChallenge`.
 */
async function freshController(p: EmissionParams = params) {
  const { deployer, requesters } = sys.accounts
  const token = await sys.deployContract(deployer, tesseraTokenAbi, tesseraTokenBytecode, [
    deployer.address,
    deployer.address,
    100_000_000n * TSR,
  ])
  const controller = await sys.deployContract(deployer, emissionControllerAbi, emissionControllerBytecode, [
    token,
    sys.registry,
    deployer.address,
    p,
  ])
  await sys.write(deployer, { address: token, abi: tesseraTokenAbi, functionName: 'setMinter', args: [controller] })
  await sys.write(deployer, {
    address: controller,
    abi: emissionControllerAbi,
    functionName: 'setJobMarket',
    args: [requesters[0].address],
  })
  await sys.write(deployer, {
    address: controller,
    abi: emissionControllerAbi,
    functionName: 'setChallengeLedger',
    args: [requesters[0].address],
  })
  return { token, controller, jobMarket: requesters[0] }
}

const read = <T>(address: Address, functionName: string, args: readonly unknown[] = []) =>
  sys.read<T>({ address, abi: emissionControllerAbi, functionName, args })
/** Sends an EmissionController call (the deployed one unless `address` says otherwise) from `account`. */
const call = (account: LocalAccount, functionName: string, args: readonly unknown[] = [], address: Address = sys.controller) =>
  sys.write(account, { address, abi: emissionControllerAbi, functionName, args })

describe('EmissionController', () => {
  test('deployAll wires it: params, initial state, JobMarket, minter', async () => {
    expect({ ...(await read<EmissionParams>(sys.controller, 'params')) }).toEqual(params)
    expect({ ...(await read<object>(sys.controller, 'state')) }).toEqual(initialState(params))
    expect(await read(sys.controller, 'lastClosedEpoch')).toBe(maxUint256)
    expect(await read(sys.controller, 'jobMarket')).toBe(sys.market)
    expect(await sys.read({ address: sys.token, abi: tesseraTokenAbi, functionName: 'minter' })).toBe(sys.controller)
  })

  test('constructor rejects out-of-range params with the field index', async () => {
    const { deployer } = sys.accounts
    const deploy = (p: Partial<EmissionParams>) =>
      sys.deployContract(deployer, emissionControllerAbi, emissionControllerBytecode, [
        sys.token,
        sys.registry,
        deployer.address,
        { ...params, ...p },
      ])
    expect(await expectRevert(deploy({ epochLength: 0n }), 'InvalidParam')).toEqual([0n])
    expect(await expectRevert(deploy({ kappa: WAD }), 'InvalidParam')).toEqual([1n])
    expect(await expectRevert(deploy({ phiMin: params.phi0 + 1n }), 'InvalidParam')).toEqual([4n])
    expect(await expectRevert(deploy({ maxProviderShare: 0n }), 'InvalidParam')).toEqual([10n])
    // Below 1/16 the capped set recordJob keeps could grow past 16 weights.
    expect(await expectRevert(deploy({ maxProviderShare: MIN_PROVIDER_SHARE - 1n }), 'InvalidParam')).toEqual([10n])
    expect(await expectRevert(deploy({ maxProviderShare: WAD + 1n }), 'InvalidParam')).toEqual([10n])
    await expectRevert(
      sys.deployContract(deployer, emissionControllerAbi, emissionControllerBytecode, [
        zeroAddress,
        sys.registry,
        deployer.address,
        params,
      ]),
      'ZeroAddress',
    )
  })

  test('wiring: admin only, once each; recordJob: JobMarket only; recordChallenge: ChallengeLedger only', async () => {
    const { deployer, providers } = sys.accounts
    for (const wire of ['setJobMarket', 'setChallengeLedger', 'setGovernor']) {
      await expectRevert(call(providers[0], wire, [providers[0].address]), 'NotAdmin')
      await expectRevert(call(deployer, wire, [providers[0].address]), 'AlreadySet')
    }
    expect(await read(sys.controller, 'challengeLedger')).toBe(sys.deployment.contracts.ChallengeLedger.address)
    expect(await read(sys.controller, 'governor')).toBe(sys.deployment.contracts.TesseraTimelock.address)
    await expectRevert(call(deployer, 'recordJob', [providers[0].address, 1n, 1n]), 'NotJobMarket')
    await expectRevert(call(deployer, 'recordChallenge', [providers[0].address, true, 1n]), 'NotChallengeLedger')
  })

  test('advanceEpoch is a no-op with nothing to close, then closes each ended epoch once', async () => {
    const { controller } = await freshController()
    const { deployer } = sys.accounts
    const advance = () => sys.write(deployer, { address: controller, abi: emissionControllerAbi, functionName: 'advanceEpoch' })
    const closed = (receipt: Awaited<ReturnType<typeof advance>>) =>
      parseEventLogs({ abi: emissionControllerAbi, logs: receipt.logs, eventName: 'EpochAdvanced' }).map((l) => l.args.epoch)
    expect(closed(await advance())).toEqual([])
    await sys.increaseTime(3n * EPOCH)
    expect(closed(await advance())).toEqual([0n, 1n, 2n])
    expect(closed(await advance())).toEqual([])
    expect(await read(controller, 'lastClosedEpoch')).toBe(2n)
  })

  test("advanceEpoch closes at most the caller's bound a call (64 without one); a bound of 0 closes nothing", async () => {
    const { controller } = await freshController()
    const { deployer } = sys.accounts
    const closed = async (args: readonly bigint[]) => {
      const receipt = await call(deployer, 'advanceEpoch', args, controller)
      return parseEventLogs({ abi: emissionControllerAbi, logs: receipt.logs, eventName: 'EpochAdvanced' }).map((l) => l.args.epoch)
    }
    await sys.increaseTime(200n * EPOCH)
    expect(await closed([0n])).toEqual([])
    expect(await closed([3n])).toEqual([0n, 1n, 2n])
    expect(await closed([])).toHaveLength(64)
    expect(await read(controller, 'lastClosedEpoch')).toBe(66n)
    // A bound above what is pending closes what is pending.
    const current = await read<bigint>(controller, 'currentEpoch')
    expect(await closed([1_000n])).toHaveLength(Number(current) - 67)
    expect(await read(controller, 'lastClosedEpoch')).toBe(current - 1n)
    expect(await closed([1_000n])).toEqual([])
  })

  test('claim: only closed epochs, once, and only a non-zero reward; mints exactly claimable', async () => {
    const { token, controller, jobMarket } = await freshController()
    const { deployer, providers } = sys.accounts
    const [alice, bob] = providers
    const fee = 1_000n * TSR
    await sys.write(jobMarket, {
      address: controller,
      abi: emissionControllerAbi,
      functionName: 'recordJob',
      args: [alice.address, fee, 10n],
    })
    const claim = (account: typeof alice, epoch: bigint) =>
      sys.write(account, { address: controller, abi: emissionControllerAbi, functionName: 'claim', args: [epoch] })
    expect(await expectRevert(claim(alice, 0n), 'EpochNotClosed')).toEqual([0n])

    await sys.increaseTime(EPOCH)
    await sys.write(deployer, { address: controller, abi: emissionControllerAbi, functionName: 'advanceEpoch' })
    const [usage, availability] = await read<readonly [bigint, bigint]>(controller, 'claimable', [0n, alice.address])
    // F̄ after one epoch is α_F·F, so the usage rate is κ·α_F.
    expect(usage).toBeGreaterThan(0n)
    expect(usage).toBeLessThanOrEqual((fee * params.kappa) / WAD)
    const before = await sys.read<bigint>({ address: token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [alice.address] })
    const receipt = await claim(alice, 0n)
    const [event] = parseEventLogs({ abi: emissionControllerAbi, logs: receipt.logs, eventName: 'RewardClaimed' })
    expect(defined(event, 'a RewardClaimed event').args).toEqual({ epoch: 0n, provider: alice.address, usage, availability })
    const after = await sys.read<bigint>({ address: token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [alice.address] })
    expect(after - before).toBe(usage + availability)
    expect(await read(controller, 'claimable', [0n, alice.address])).toEqual([0n, 0n])
    await expectRevert(claim(alice, 0n), 'AlreadyClaimed')
    await expectRevert(claim(bob, 0n), 'NothingToClaim')
  })

  test('the capped set: 3 equal recipients are each held to 25 %, a 4th and 5th bring all of them under it', async () => {
    // Weights from the attested capacity alone (stake doesn't bound them): the providers stake nothing here.
    const { controller, jobMarket } = await freshController({ ...params, stakePerUnit: 0n })
    const { deployer, providers, requesters } = sys.accounts
    // Five registered providers of equal hardware; requester 0 is this controller's JobMarket.
    const recipients = [...providers, requesters[1], privateKeyToAccount(devKeys[7])]
    for (const p of recipients) await registerProvider(sys, p, { stake: 0n })
    // Each passes a challenge showing 1,200 units an hour: 10 units per 30-s epoch.
    const record = (p: LocalAccount) => call(jobMarket, 'recordChallenge', [p.address, true, 1_200n], controller)
    const close = async () => {
      await sys.increaseTime(EPOCH)
      const receipt = await call(deployer, 'advanceEpoch', [], controller)
      const [event] = parseEventLogs({ abi: emissionControllerAbi, logs: receipt.logs, eventName: 'EpochAdvanced' })
      return defined(event, 'an EpochAdvanced event').args
    }
    const claimed = async (epoch: bigint, who: readonly LocalAccount[]) => {
      const rewards = await Promise.all(who.map((p) => read<readonly [bigint, bigint]>(controller, 'claimable', [epoch, p.address])))
      return rewards.map(([, availability]) => availability)
    }

    // Three equal weights: each holds a third ≥ 25 %, so each gets the cap and the rest of the pool is forfeited.
    for (const p of recipients.slice(0, 3)) await record(p)
    const three = await close()
    const pool = three.availabilityEmission + three.forfeited
    const cap = (pool * params.maxProviderShare) / WAD
    expect(await claimed(three.epoch, recipients.slice(0, 3))).toEqual([cap, cap, cap])
    expect(three.availabilityEmission).toBe(3n * cap)

    // Five: the first four were capped when they joined (a 4th holds exactly 25 %); the 5th drops them all, nothing is forfeited.
    for (const p of recipients) await record(p)
    const five = await close()
    expect(five.forfeited).toBe(0n)
    const shares = await claimed(five.epoch, recipients)
    const sum = shares.reduce((a, b) => a + b, 0n)
    expect(sum).toBeLessThanOrEqual(five.availabilityEmission)
    expect(five.availabilityEmission - sum).toBeLessThan(5n)
  })
})
