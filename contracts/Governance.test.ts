import { type Abi, encodeFunctionData, type Hex, keccak256, type TransactionReceipt, toHex, zeroHash } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { emissionControllerAbi, jobMarketAbi, tesseraTimelockAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { expectRevert, registerProvider, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import type { MarketParams } from '../protocol/deployment.ts'
import type { EmissionParams } from '../protocol/emissionParams.ts'
import { escrowOf } from '../protocol/settlement.ts'
import { TSR, WAD } from '../protocol/units.ts'
import { approveAndSubmitJob, jobMarketOf, labelledResult, marketEvents, runMarketRound } from '../test/support/market.ts'

/**
 * Governance on a real anvil: every parameter of the law and the take moves only through the deployment's
 * TesseraTimelock (OpenZeppelin's TimelockController), only after its delay, and only within the hard bounds the
 * contracts enforce, κ < τ on both sides.
 */

let sys: TestSystem
let timelock: Hex
let delay: bigint
let salt = 0

beforeAll(async () => {
  sys = await startTestSystem()
  timelock = sys.deployment.contracts.TesseraTimelock.address as Hex
  delay = sys.deployment.params.governance.minDelay
})

afterAll(async () => {
  await sys?.stop()
})

const emission = () => sys.read<EmissionParams>({ address: sys.controller, abi: emissionControllerAbi, functionName: 'params' })
const market = () => sys.read<MarketParams>({ address: sys.market, abi: jobMarketAbi, functionName: 'params' })

/** Schedules `target.functionName(args)` on the timelock (the deployer is its proposer); returns the execute call. */
async function schedule(target: Hex, abi: Abi, functionName: string, args: readonly unknown[]) {
  const data = encodeFunctionData({ abi, functionName, args } as never)
  const opSalt = keccak256(toHex(`governance test ${salt++}`))
  const { deployer, providers } = sys.accounts
  await sys.write(deployer, {
    address: timelock,
    abi: tesseraTimelockAbi,
    functionName: 'schedule',
    args: [target, 0n, data, zeroHash, opSalt, delay],
  })
  // Anyone may execute once the delay has passed (the executor role is open).
  return () =>
    sys.write(providers[2], {
      address: timelock,
      abi: tesseraTimelockAbi,
      functionName: 'execute',
      args: [target, 0n, data, zeroHash, opSalt],
    })
}

/** Schedules, waits out the delay and executes. */
async function govern(target: Hex, abi: Abi, functionName: string, args: readonly unknown[]) {
  const execute = await schedule(target, abi, functionName, args)
  await sys.increaseTime(delay)
  return execute()
}

describe('governance through the timelock', () => {
  test('nobody but the timelock sets a parameter, and the timelock only after its delay', async () => {
    const { deployer } = sys.accounts
    const p = await emission()
    await expectRevert(
      sys.write(deployer, { address: sys.controller, abi: emissionControllerAbi, functionName: 'setParams', args: [p] }),
      'NotGovernor',
    )
    await expectRevert(
      sys.write(deployer, { address: sys.controller, abi: emissionControllerAbi, functionName: 'setPhi', args: [WAD] }),
      'NotGovernor',
    )
    await expectRevert(
      sys.write(deployer, { address: sys.market, abi: jobMarketAbi, functionName: 'setTake', args: [1500, 0n] }),
      'AccessControlUnauthorizedAccount',
    )
    // A proposer who is not the deployer can't schedule; a scheduled call can't run early.
    const { providers } = sys.accounts
    const data = encodeFunctionData({ abi: emissionControllerAbi, functionName: 'setParams', args: [p] })
    await expectRevert(
      sys.write(providers[0], {
        address: timelock,
        abi: tesseraTimelockAbi,
        functionName: 'schedule',
        args: [sys.controller, 0n, data, zeroHash, zeroHash, delay],
      }),
      'AccessControlUnauthorizedAccount',
    )
    const execute = await schedule(sys.controller, emissionControllerAbi as Abi, 'setParams', [{ ...p, kappa: (6n * WAD) / 100n }])
    await expectRevert(execute(), 'TimelockUnexpectedOperationState')
    expect((await emission()).kappa).toBe(p.kappa)
    await sys.increaseTime(delay)
    await execute()
    expect((await emission()).kappa).toBe((6n * WAD) / 100n)
  })

  test('every law parameter is held to its hard bound; the deploy-time ones never move', async () => {
    const p = await emission()
    const phi = (await sys.read<{ phi: bigint }>({ address: sys.controller, abi: emissionControllerAbi, functionName: 'state' })).phi
    const outOfBounds: [Partial<EmissionParams>, bigint][] = [
      [{ epochLength: p.epochLength + 1n }, 0n],
      [{ kappa: 0n }, 1n],
      [{ kappa: WAD / 10n }, 1n], // = τ (takeBps 1000): κ must stay below it
      [{ baseAvailability0: p.baseAvailability0 + 1n }, 2n],
      [{ phi0: p.phi0 - 1n }, 3n],
      [{ phiMin: WAD / 4n - 1n }, 4n],
      [{ phiMin: phi + 1n }, 4n], // a floor above φ would raise φ
      [{ phiStep: WAD / 20n + 1n }, 5n],
      [{ targetUtilisation: (3n * WAD) / 10n - 1n }, 6n],
      [{ targetUtilisation: (9n * WAD) / 10n + 1n }, 6n],
      [{ deadband: WAD / 5n + 1n }, 7n],
      [{ maxStepUp: WAD / 20n + 1n }, 8n],
      [{ maxStepDown: WAD / 20n + 1n }, 9n],
      [{ maxProviderShare: WAD / 2n }, 10n],
      [{ rMax0: p.rMax0 / 2n }, 11n],
      [{ stakePerUnit: 1000n * TSR + 1n }, 12n],
    ]
    for (const [change, index] of outOfBounds) {
      const args = await expectRevert(
        govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [{ ...p, ...change }]),
        'InvalidParam',
      )
      expect({ change, args }).toEqual({ change, args: [index] })
    }
    // Every bound itself is accepted.
    const atBounds = {
      ...p,
      kappa: WAD / 10n - 1n,
      phiMin: WAD / 4n,
      phiStep: WAD / 20n,
      targetUtilisation: (9n * WAD) / 10n,
      deadband: WAD / 5n,
      maxStepUp: WAD / 20n,
      maxStepDown: WAD / 20n,
      stakePerUnit: 1000n * TSR,
    }
    await govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [atBounds])
    expect({ ...(await emission()) }).toEqual(atBounds)
    await govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [p])
  })

  test('φ moves only through governance, within [φ_min, 1]', async () => {
    const p = await emission()
    // The default floor is 1: φ can't go below it until governance lowers the floor.
    expect(p.phiMin).toBe(WAD)
    await expectRevert(govern(sys.controller, emissionControllerAbi as Abi, 'setPhi', [(9n * WAD) / 10n]), 'InvalidPhi')
    await govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [{ ...p, phiMin: WAD / 2n }])
    await expectRevert(govern(sys.controller, emissionControllerAbi as Abi, 'setPhi', [WAD / 2n - 1n]), 'InvalidPhi')
    await expectRevert(govern(sys.controller, emissionControllerAbi as Abi, 'setPhi', [WAD + 1n]), 'InvalidPhi')
    await govern(sys.controller, emissionControllerAbi as Abi, 'setPhi', [(9n * WAD) / 10n])
    const state = await sys.read<{ phi: bigint }>({ address: sys.controller, abi: emissionControllerAbi, functionName: 'state' })
    expect(state.phi).toBe((9n * WAD) / 10n)
    // A floor above φ would raise it: refused until φ is back at 1.
    await expectRevert(govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [p]), 'InvalidParam')
    await govern(sys.controller, emissionControllerAbi as Abi, 'setPhi', [WAD])
    await govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [p])
  })

  test('the take: at most 30 %, above κ, a minimum take of at most 100 TSR; κ < τ holds from both sides', async () => {
    const kappa = (await emission()).kappa // 5 %
    await expectRevert(govern(sys.market, jobMarketAbi as Abi, 'setTake', [3001, 0n]), 'InvalidParams')
    await expectRevert(govern(sys.market, jobMarketAbi as Abi, 'setTake', [Number((kappa * 10_000n) / WAD), 0n]), 'InvalidParams')
    await expectRevert(govern(sys.market, jobMarketAbi as Abi, 'setTake', [1000, 100n * TSR + 1n]), 'InvalidParams')
    await govern(sys.market, jobMarketAbi as Abi, 'setTake', [3000, 100n * TSR])
    expect(await market()).toMatchObject({ takeBps: 3000, minTake: 100n * TSR })
    // With τ at 30 %, κ may rise to its own bound of 20 %; then τ can't fall to 20 % or below.
    const p = await emission()
    await govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [{ ...p, kappa: WAD / 5n }])
    await expectRevert(govern(sys.market, jobMarketAbi as Abi, 'setTake', [2000, 0n]), 'InvalidParams')
    await govern(sys.market, jobMarketAbi as Abi, 'setTake', [2001, 0n])
    // Back to the defaults, κ first.
    await govern(sys.controller, emissionControllerAbi as Abi, 'setParams', [p])
    await govern(sys.market, jobMarketAbi as Abi, 'setTake', [1000, sys.deployment.params.market.minTake])
    expect(await market()).toMatchObject({ takeBps: 1000, minTake: sys.deployment.params.market.minTake })
  })

  test('a take raised while a job is live is held to what its escrow still covers: the job settles, nothing is stuck', async () => {
    const [p0, p1] = sys.accounts.providers
    const requester = sys.accounts.requesters[0]
    const ask = TSR / 10n
    for (const p of [p0, p1]) await registerProvider(sys, p, { pricePerUnit: ask })
    await sys.write(sys.accounts.deployer, {
      address: sys.token,
      abi: tesseraTokenAbi,
      functionName: 'transfer',
      args: [requester.address, 10n * TSR],
    })
    const spec = { modelHash: keccak256(toHex('gov model')), inputHash: keccak256(toHex('gov input')), units: 4n, maxPricePerUnit: ask }
    const { jobId, escrow } = await approveAndSubmitJob(sys, requester, spec)
    expect(escrow).toBe(escrowOf({ ...spec, redundancy: 2 }, sys.deployment.params.market))
    // Governance raises the take to its bounds while the job is open: 30 % and a 100 TSR minimum.
    await govern(sys.market, jobMarketAbi as Abi, 'setTake', [3000, 100n * TSR])
    const market = jobMarketOf(sys)
    const owedBefore = await market.read<bigint>('owed', [requester.address])
    // The providers agree: the last reveal settles the job.
    const receipt = (await runMarketRound(sys, jobId, [p0, p1], [labelledResult('same'), labelledResult('same')])) as TransactionReceipt
    const fees = 2n * ask * spec.units
    expect(marketEvents(receipt, 'FeeBurned')[0]?.args.amount).toBe(escrow - fees)
    expect(marketEvents(receipt, 'JobFinalized')[0]?.args).toMatchObject({ status: 5, fees, burned: escrow - fees, refunded: 0n })
    expect(await market.read<bigint>('owed', [requester.address])).toBe(owedBefore)
    await govern(sys.market, jobMarketAbi as Abi, 'setTake', [1000, sys.deployment.params.market.minTake])
  })
})
