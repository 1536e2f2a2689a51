import { type Address, type LocalAccount, maxUint256, parseEventLogs, zeroAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { emissionControllerAbi, emissionControllerBytecode, tesseraTokenAbi, tesseraTokenBytecode } from '../contracts/generated/index.ts'
import { expectRevert, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import { TSR, WAD } from '../protocol/units.ts'
import { defined } from '../test/support/defined.ts'
import { initialState } from './emissionLaw.ts'
import { emissionParams } from './params.ts'

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

/** A fresh token + controller pair whose JobMarket is an EOA (requester 0), so tests can call `recordJob`. */
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

  test('setJobMarket: admin only, once; recordJob: JobMarket only', async () => {
    const { deployer, providers } = sys.accounts
    await expectRevert(call(providers[0], 'setJobMarket', [providers[0].address]), 'NotAdmin')
    await expectRevert(call(deployer, 'setJobMarket', [providers[0].address]), 'JobMarketAlreadySet')
    await expectRevert(call(deployer, 'recordJob', [providers[0].address, 1n, 1n]), 'NotJobMarket')
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

  test('advanceEpoch closes at most 64 epochs a call', async () => {
    const { controller } = await freshController()
    const { deployer } = sys.accounts
    await sys.increaseTime(70n * EPOCH)
    const receipt = await sys.write(deployer, { address: controller, abi: emissionControllerAbi, functionName: 'advanceEpoch' })
    expect(parseEventLogs({ abi: emissionControllerAbi, logs: receipt.logs, eventName: 'EpochAdvanced' })).toHaveLength(64)
    expect(await read(controller, 'lastClosedEpoch')).toBe(63n)
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
})
