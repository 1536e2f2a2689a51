import { type Address, type Hex, keccak256, type LocalAccount, maxUint256, parseEventLogs, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import {
  defaultHardware,
  sampleInputHash,
  sampleJobSpec,
  startTestSystem,
  type TestSystem,
  type WriteParameters,
} from '../devnet/testSystem.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { failureFingerprintOf } from '../protocol/jobInputs.ts'
import { buildOutputTree, openingOf } from '../protocol/outputTree.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'

/** One measured transaction: which contract and function, who sent it, its gas. */
export type GasRow = {
  contract: 'TesseraToken' | 'ProviderRegistry' | 'JobMarket' | 'EmissionController'
  call: string
  /** What the row measured: the step of the lifecycle or the case. */
  note: string
  gas: bigint
  /** Part of the k=2 lifecycle total. */
  lifecycle: boolean
}

export type LifecycleGasReturnType = { rows: GasRow[]; lifecycleTotal: bigint }

const CENT = TSR / 100n
const STAKE = 1_000n * TSR

/** The result every provider of the gas benches commits to and reveals, unless a case says otherwise, and its salts. */
export const fingerprint = keccak256(toHex('fingerprint'))
export const outputHash = keccak256(toHex('output'))
export const saltOf = (provider: Address): Hex => keccak256(toHex(`salt:${provider}`))
/** A provider's commitment to `reported` (and the shared output) for `jobId`. */
const commitmentTo = (jobId: bigint, provider: Address, reported: Hex): Hex =>
  commitmentOf({ jobId, provider, fingerprint: reported, outputHash, salt: saltOf(provider) })

/**
 * Gas of every state-changing external function of the four contracts on a fresh devnet deployment (`deployAll`,
 * devnet parameters): first one Redundant(k=2) job from registration to the providers' reward claims, the
 * lifecycle, then the calls the lifecycle doesn't make (cancel, expire, expireAssignment, update, pause, unstake, a
 * failed-invalid job, a dispute and its tie-break, claims).
 * The script is fixed, so every number is deterministic.
 */
export async function lifecycleGas(): Promise<LifecycleGasReturnType> {
  const sys = await startTestSystem()
  try {
    return await measure(sys)
  } finally {
    await sys.stop()
  }
}

async function measure(sys: TestSystem): Promise<LifecycleGasReturnType> {
  const { deployer, matcher, providers, requesters } = sys.accounts
  const [alice, bob, carol] = providers
  const [requester] = requesters
  const rows: GasRow[] = []
  const record = async (
    contract: GasRow['contract'],
    note: string,
    account: LocalAccount,
    call: WriteParameters,
    lifecycle = true,
  ): Promise<Awaited<ReturnType<TestSystem['write']>>> => {
    const receipt = await sys.write(account, call)
    rows.push({ contract, call: call.functionName, note, gas: receipt.gasUsed, lifecycle })
    return receipt
  }
  const token = (functionName: string, args: readonly unknown[]): WriteParameters => ({
    address: sys.token,
    abi: tesseraTokenAbi,
    functionName,
    args,
  })
  const registry = (functionName: string, args: readonly unknown[] = []): WriteParameters => ({
    address: sys.registry,
    abi: providerRegistryAbi,
    functionName,
    args,
  })
  const market = (functionName: string, args: readonly unknown[] = []): WriteParameters => ({
    address: sys.market,
    abi: jobMarketAbi,
    functionName,
    args,
  })
  const controller = (functionName: string, args: readonly unknown[] = []): WriteParameters => ({
    address: sys.controller,
    abi: emissionControllerAbi,
    functionName,
    args,
  })
  const spec = (redundancy: number) => sampleJobSpec(sys, { redundancy })
  const jobIdOf = (receipt: Awaited<ReturnType<TestSystem['write']>>): bigint => {
    const [submitted] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobSubmitted' })
    if (!submitted) throw new Error('submitJob emitted no JobSubmitted')
    return submitted.args.jobId
  }

  // Funding and approvals are set-up, not the lifecycle (approve is excluded by definition).
  for (const account of [alice, bob, carol, requester]) {
    await record('TesseraToken', 'fund from the genesis holder', deployer, token('transfer', [account.address, 10_000n * TSR]), false)
  }
  for (const account of [alice, bob, carol]) {
    await record('TesseraToken', 'approve the registry', account, token('approve', [sys.registry, maxUint256]), false)
  }
  await record('TesseraToken', 'approve the market', requester, token('approve', [sys.market, maxUint256]), false)

  // The lifecycle: two providers join, one k=2 job runs to completion, everyone is paid, rewards are claimed.
  for (const [i, p] of [alice, bob].entries()) {
    const who = `provider ${i + 1}`
    await record('ProviderRegistry', who, p, registry('register', [defaultHardware, CENT, encodeRegion('eu'), '0x01']))
    await record('ProviderRegistry', who, p, registry('stake', [STAKE]))
  }
  const jobId = jobIdOf(await record('JobMarket', 'k=2', requester, market('submitJob', [await spec(2)])))
  await record('JobMarket', 'k=2 (locks 2 collaterals)', matcher, market('assign', [jobId, [alice.address, bob.address]]))
  for (const [i, p] of [alice, bob].entries()) {
    const commitment = commitmentTo(jobId, p.address, fingerprint)
    await record(
      'JobMarket',
      i === 0 ? 'first of 2' : 'last of 2 (opens the reveal window)',
      p,
      market('commitResult', [jobId, sampleInputHash, commitment]),
    )
  }
  for (const [i, p] of [alice, bob].entries()) {
    const args = [jobId, fingerprint, outputHash, saltOf(p.address)]
    const note = i === 0 ? 'first of 2' : 'last of 2, agreeing: settles k=2 completed (pays, burns the take, 2 recordJob)'
    await record('JobMarket', note, p, market('revealResult', args))
  }
  for (const [i, p] of [alice, bob].entries()) await record('JobMarket', `provider ${i + 1}`, p, market('withdraw'))
  await record('JobMarket', 'requester (escrow above the asks)', requester, market('withdraw'))
  const epoch = await sys.read<bigint>(controller('currentEpoch'))
  await sys.increaseTime(sys.deployment.params.emission.epochLength)
  await record('EmissionController', 'closes the job’s epoch (2 paid providers)', deployer, controller('advanceEpoch'))
  for (const [i, p] of [alice, bob].entries()) await record('EmissionController', `provider ${i + 1}`, p, controller('claim', [epoch]))

  // Everything else, once each.
  await record('ProviderRegistry', 'provider 3', carol, registry('register', [defaultHardware, CENT, encodeRegion('eu'), '0x01']), false)
  await record('ProviderRegistry', 'provider 3', carol, registry('stake', [STAKE]), false)
  await record(
    'ProviderRegistry',
    'new hardware and ask',
    carol,
    registry('update', [{ ...defaultHardware, gpuCount: 2 }, CENT, encodeRegion('eu')]),
    false,
  )
  await record('ProviderRegistry', '', carol, registry('pause'), false)
  await record('ProviderRegistry', '', carol, registry('unpause'), false)
  await record('ProviderRegistry', 'half the stake', carol, registry('requestUnstake', [STAKE / 2n]), false)
  await sys.increaseTime(sys.deployment.params.registry.unbondingPeriod + 1n)
  await record('ProviderRegistry', 'after the unbonding period', carol, registry('withdraw'), false)

  const cancelled = jobIdOf(await sys.write(requester, market('submitJob', [await spec(2)])))
  await record('JobMarket', 'open job, by its requester', requester, market('cancel', [cancelled]), false)
  const expired = jobIdOf(await sys.write(requester, market('submitJob', [await spec(2)])))
  await sys.increaseTime(3_601n)
  await record('JobMarket', 'open job past its deadline', deployer, market('expire', [expired]), false)
  const noShow = jobIdOf(await sys.write(requester, market('submitJob', [await spec(2)])))
  await sys.write(matcher, market('assign', [noShow, [alice.address, bob.address]]))
  await sys.write(alice, market('commitResult', [noShow, sampleInputHash, commitmentTo(noShow, alice.address, fingerprint)]))
  await sys.increaseTime(sys.deployment.params.market.commitWindow + 1n)
  await record('JobMarket', 'k=2, one no-show slashed, job reopened', deployer, market('expireAssignment', [noShow]), false)

  // Failure is a result: both report MODEL_INVALID.
  const resultOf = (jobId: bigint, p: LocalAccount, reported: Hex) => ({
    commit: market('commitResult', [jobId, sampleInputHash, commitmentTo(jobId, p.address, reported)]),
    reveal: market('revealResult', [jobId, reported, outputHash, saltOf(p.address)]),
  })
  /** Assigns `jobId` to `pair`, each committing and revealing what `reported` says; records the last reveal as `lastReveal`. */
  const runRound = async (jobId: bigint, pair: readonly LocalAccount[], reported: (p: LocalAccount) => Hex, lastReveal?: string) => {
    await sys.write(matcher, market('assign', [jobId, pair.map((p) => p.address)]))
    for (const p of pair) await sys.write(p, resultOf(jobId, p, reported(p)).commit)
    for (const [i, p] of pair.entries()) {
      const reveal = resultOf(jobId, p, reported(p)).reveal
      if (lastReveal && i === pair.length - 1) await record('JobMarket', lastReveal, p, reveal, false)
      else await sys.write(p, reveal)
    }
  }
  const invalid = jobIdOf(await sys.write(requester, market('submitJob', [await spec(2)])))
  const failedInvalid = 'last of 2, the same failure: settles k=2 failed invalid (failure fees, no recordJob)'
  await runRound(invalid, [alice, bob], () => failureFingerprintOf('MODEL_INVALID'), failedInvalid)

  // No majority: the job is disputed, then a tie-break by two fresh providers settles both rounds.
  const judge = privateKeyToAccount(devKeys[7])
  await sys.write(deployer, token('transfer', [judge.address, 10_000n * TSR]))
  await sys.write(judge, token('approve', [sys.registry, maxUint256]))
  await sys.write(judge, registry('register', [defaultHardware, CENT, encodeRegion('eu'), '0x01']))
  await sys.write(judge, registry('stake', [STAKE]))
  const disputed = jobIdOf(await sys.write(requester, market('submitJob', [await spec(2)])))
  // Real outputs of 65,536 values (a 13-level tree), one element apart beyond the tolerance.
  const truth = buildOutputTree(
    Float32Array.from({ length: 65_536 }, (_, i) => Math.sin(i)),
    16,
  )
  const lie = buildOutputTree(
    Float32Array.from({ length: 65_536 }, (_, i) => Math.sin(i) + (i === 40_000 ? 1 : 0)),
    16,
  )
  await runRound(disputed, [alice, bob], (p) => (p === alice ? truth.fingerprint : lie.fingerprint))
  const { proofWindow } = sys.deployment.params.market
  await record('JobMarket', 'asks for one element (65,536 values)', deployer, market('requestOpening', [disputed, bob.address, 7n]), false)
  await record(
    'JobMarket',
    'opens one element (13-level proof)',
    bob,
    market('openElement', [disputed, bob.address, openingOf(lie, 7)]),
    false,
  )
  await record(
    'JobMarket',
    'opens both sides at one index and checks the tolerance',
    deployer,
    market('proveDisagreement', [disputed, alice.address, openingOf(truth, 40_000), bob.address, openingOf(lie, 40_000)]),
    false,
  )
  await sys.increaseTime(proofWindow + 1n)
  await record('JobMarket', 'k=2 split (no majority: disputed)', deployer, market('finalize', [disputed]), false)
  await record(
    'JobMarket',
    'tie-break, k=2 (locks 2 collaterals)',
    matcher,
    market('assign', [disputed, [carol.address, judge.address]]),
    false,
  )
  for (const p of [carol, judge]) await sys.write(p, resultOf(disputed, p, truth.fingerprint).commit)
  for (const p of [carol, judge]) await sys.write(p, resultOf(disputed, p, truth.fingerprint).reveal)
  // The first round's results differ: the verdict waits out the proof window (its proof still holds).
  await sys.increaseTime(proofWindow + 1n)
  await record('JobMarket', 'tie-break verdict (settles both rounds, 4 slots)', deployer, market('finalize', [disputed]), false)

  // Liveness without the matcher: two providers claim a job the matcher left waiting past the claim grace.
  const claimed = jobIdOf(await sys.write(requester, market('submitJob', [await spec(2)])))
  await sys.increaseTime(sys.deployment.params.market.claimGrace)
  await record('JobMarket', 'first of 2 (locks its collateral)', alice, market('claimJob', [claimed]), false)
  await record('JobMarket', 'last of 2 (assigns the job)', bob, market('claimJob', [claimed]), false)

  const lifecycleTotal = rows.filter((r) => r.lifecycle).reduce((sum, r) => sum + r.gas, 0n)
  return { rows, lifecycleTotal }
}
