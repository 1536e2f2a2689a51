import {
  type Address,
  encodeAbiParameters,
  type Hex,
  keccak256,
  maxUint256,
  type PrivateKeyAccount,
  parseEventLogs,
  toHex,
  zeroAddress,
  zeroHash,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { expectRevert, fund, registerProvider, sampleJobSpec, useTestSystem } from '../devnet/testSystem.ts'
import { JobStatus } from '../protocol/enums.ts'
import { TSR } from '../protocol/units.ts'
import { disagreementOf } from '../test/support/labelledOutputs.ts'
import { jobMarketOf, labelledResult, marketEvents, runMarketRound, submitOptimisticJob } from '../test/support/market.ts'
import {
  challengeLedgerAbi,
  challengeLedgerBytecode,
  emissionControllerAbi,
  providerRegistryAbi,
  tesseraTokenAbi,
} from './generated/index.ts'

// ChallengeLedger: rounds committed before and revealed after, and a record per settled challenge job, all by the
// issuer (the server's key, ISSUER_ROLE at deploy), each refusal with its own error; a failure its audit confirmed
// burns the provider's stake beyond its locked collateral, and nothing else does.

const sys = useTestSystem()
let issuer: PrivateKeyAccount
let stranger: PrivateKeyAccount
const market = jobMarketOf(sys)
const ledger = {
  read: <T>(functionName: string, args: readonly unknown[] = []) =>
    sys.read<T>({ address: sys.deployment.contracts.ChallengeLedger.address, abi: challengeLedgerAbi, functionName, args }),
  write: (account: PrivateKeyAccount, functionName: string, args: readonly unknown[] = []) =>
    sys.write(account, { address: sys.deployment.contracts.ChallengeLedger.address, abi: challengeLedgerAbi, functionName, args }),
}
const seedHashOf = (seed: Hex) => keccak256(encodeAbiParameters([{ type: 'bytes32' }], [seed]))
const seed = keccak256(toHex('round seed'))

beforeAll(async () => {
  issuer = sys.accounts.matcher
  stranger = sys.accounts.requesters[0]
  for (const who of [issuer, stranger]) {
    await fund(sys, who.address, 1000n * TSR)
    await sys.write(who, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
  }
})

/** A job `from` submits (an optimistic one, as challenges are), cancelled at once when `settle`: a settled job. */
async function jobOf(from: PrivateKeyAccount, settle: boolean): Promise<bigint> {
  const receipt = await market.write(from, 'submitJob', [await sampleJobSpec(sys, { redundancy: 1, verification: 1 })])
  const jobId = marketEvents(receipt, 'JobSubmitted')[0].args.jobId as bigint
  if (settle) await market.write(from, 'cancel', [jobId])
  return jobId
}

describe('ChallengeLedger', () => {
  test('deployed beside JobMarket; the issuer is the server key; the constructor refuses zero addresses', async () => {
    expect(await ledger.read('jobMarket')).toBe(sys.market)
    const role = await ledger.read<Hex>('ISSUER_ROLE')
    expect(role).toBe(keccak256(toHex('ISSUER_ROLE')))
    expect(await ledger.read('hasRole', [role, issuer.address])).toBe(true)
    expect(await ledger.read('hasRole', [role, stranger.address])).toBe(false)
    const deploy = (args: readonly unknown[]) =>
      sys.deployContract(sys.accounts.deployer, challengeLedgerAbi, challengeLedgerBytecode, args)
    await expectRevert(deploy([zeroAddress, sys.accounts.deployer.address]), 'ZeroAddress')
    await expectRevert(deploy([sys.market, zeroAddress]), 'ZeroAddress')
  })

  test('commits rounds from 1, issuer only, never a zero hash', async () => {
    expect(await ledger.read('lastRound')).toBe(0n)
    await expectRevert(ledger.write(stranger, 'commitRound', [seedHashOf(seed)]), 'AccessControlUnauthorizedAccount')
    await expectRevert(ledger.write(issuer, 'commitRound', [zeroHash]), 'ZeroSeedHash')
    const receipt = await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    expect(receipt.status).toBe('success')
    expect(await ledger.read('lastRound')).toBe(1n)
    expect(await ledger.read('getRound', [1n])).toMatchObject({ seedHash: seedHashOf(seed), seed: zeroHash, revealed: false })
    await ledger.write(issuer, 'commitRound', [seedHashOf(keccak256(toHex('another')))])
    expect(await ledger.read('lastRound')).toBe(2n)
  })

  test('records a settled job of the issuer once; refuses live jobs, others’ jobs, unknown and revealed rounds', async () => {
    await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    const provider = sys.accounts.providers[0].address
    await expectRevert(ledger.write(issuer, 'record', [9n, 1n, provider, true, 100n]), 'UnknownRound')
    const live = await jobOf(issuer, false)
    expect(await expectRevert(ledger.write(issuer, 'record', [1n, live, provider, true, 100n]), 'JobNotSettled')).toEqual([
      live,
      JobStatus.Open,
    ])
    const others = await jobOf(stranger, true)
    await expectRevert(ledger.write(issuer, 'record', [1n, others, provider, true, 100n]), 'NotIssuersJob')
    const settled = await jobOf(issuer, true)
    await expectRevert(ledger.write(stranger, 'record', [1n, settled, provider, true, 100n]), 'AccessControlUnauthorizedAccount')
    await ledger.write(issuer, 'record', [1n, settled, provider, false, 3600n])
    expect(await ledger.read('roundOf', [settled])).toBe(1n)
    expect(await ledger.read('roundOf', [live])).toBe(0n)
    expect(await expectRevert(ledger.write(issuer, 'record', [1n, settled, provider, true, 1n]), 'AlreadyRecorded')).toEqual([settled, 1n])
    // After the reveal the round is closed.
    await ledger.write(issuer, 'revealRound', [1n, seed])
    const another = await jobOf(issuer, true)
    await expectRevert(ledger.write(issuer, 'record', [1n, another, provider, true, 1n]), 'RoundRevealedAlready')
  })

  test('the registry takes stake slashes from this ledger only, set once', async () => {
    const ledgerAddress = sys.deployment.contracts.ChallengeLedger.address
    expect(await registry.read('challengeLedger')).toBe(ledgerAddress)
    await expectRevert(registry.write(sys.accounts.deployer, 'setChallengeLedger', [stranger.address]), 'ChallengeLedgerAlreadySet')
    await expectRevert(registry.write(stranger, 'setChallengeLedger', [stranger.address]), 'OwnableUnauthorizedAccount')
    const provider = sys.accounts.providers[0].address
    expect(await expectRevert(registry.write(issuer, 'slashStake', [provider, 1n]), 'NotChallengeLedger')).toEqual([issuer.address])
  })

  test('reveals the seed that hashes to the commitment, once', async () => {
    await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    await expectRevert(ledger.write(issuer, 'revealRound', [1n, keccak256(toHex('wrong'))]), 'SeedMismatch')
    await expectRevert(ledger.write(issuer, 'revealRound', [2n, seed]), 'UnknownRound')
    await expectRevert(ledger.write(stranger, 'revealRound', [1n, seed]), 'AccessControlUnauthorizedAccount')
    await ledger.write(issuer, 'revealRound', [1n, seed])
    expect(await ledger.read('getRound', [1n])).toMatchObject({ seedHash: seedHashOf(seed), seed, revealed: true })
    await expectRevert(ledger.write(issuer, 'revealRound', [1n, seed]), 'RoundRevealedAlready')
  })
})

const registry = {
  read: <T>(functionName: string, args: readonly unknown[] = []) =>
    sys.read<T>({ address: sys.registry, abi: providerRegistryAbi, functionName, args }),
  write: (account: PrivateKeyAccount, functionName: string, args: readonly unknown[] = []) =>
    sys.write(account, { address: sys.registry, abi: providerRegistryAbi, functionName, args }),
}
const providerOf = (who: Address) =>
  registry.read<{ stake: bigint; locked: bigint; pendingUnstake: bigint; unstakeAvailableAt: bigint }>('getProvider', [who])
const supply = () => sys.read<bigint>({ address: sys.token, abi: tesseraTokenAbi, functionName: 'totalSupply' })
const attestedCapacityOf = (who: Address) =>
  sys.read<bigint>({
    address: sys.deployment.contracts.EmissionController.address,
    abi: emissionControllerAbi,
    functionName: 'attestedCapacityOf',
    args: [who],
  })

describe('ChallengeLedger: a failed challenge and the stake', () => {
  const STAKE = 1000n * TSR
  let cast: PrivateKeyAccount[]
  beforeAll(async () => {
    // The provider challenged, and three to audit it: one auditor, then two more for the tie-break.
    cast = [...sys.accounts.providers, privateKeyToAccount(devKeys[7])]
    for (const p of cast) await registerProvider(sys, p, { stake: STAKE })
  })

  /** A challenge job of the issuer's that `cast[0]` answers with `label` (undefined: commits, never reveals). */
  async function answered(label: string | undefined): Promise<bigint> {
    const { jobId } = await submitOptimisticJob(sys, issuer)
    await runMarketRound(sys, jobId, [cast[0]], [label === undefined ? undefined : labelledResult(label)])
    return jobId
  }

  test('a wrong answer the audit confirmed burns the stake beyond the locked collateral, pending unstake included', async () => {
    await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    // Before: the provider passed once (attested capacity), holds another job's collateral, and is unbonding 100 TSR.
    await ledger.write(issuer, 'record', [1n, await jobOf(issuer, true), cast[0].address, true, 3600n])
    expect(await attestedCapacityOf(cast[0].address)).toBeGreaterThan(0n)
    const other = await jobOf(stranger, false)
    await market.write(sys.accounts.matcher, 'assign', [other, [cast[0].address]])
    await registry.write(cast[0], 'requestUnstake', [100n * TSR])

    // The lie: challenged by the issuer, outvoted by three fresh providers.
    const jobId = await answered('lie')
    await market.write(issuer, 'challenge', [jobId])
    await runMarketRound(sys, jobId, [cast[1]], [labelledResult('truth')])
    const proof = disagreementOf('lie', 'truth')
    if (!proof) throw new Error('lie and truth agree')
    await market.write(issuer, 'proveDisagreement', [jobId, cast[0].address, proof.a, cast[1].address, proof.b])
    await sys.increaseTime(sys.deployment.params.market.proofWindow + 1n)
    await market.write(issuer, 'finalize', [jobId])
    await runMarketRound(sys, jobId, [cast[2], cast[3]], [labelledResult('truth'), labelledResult('truth')])
    await sys.increaseTime(sys.deployment.params.market.proofWindow + 1n)
    await market.write(issuer, 'finalize', [jobId])
    expect((await market.read<{ status: number }>('getJob', [jobId])).status).toBe(JobStatus.Completed)
    expect(await registry.read('faultedIn', [cast[0].address, jobId])).toBe(true)

    // The issuer can't call it a pass against the JobMarket's verdict.
    expect(await expectRevert(ledger.write(issuer, 'record', [1n, jobId, cast[0].address, true, 1n]), 'PassContradictsVerdict')).toEqual([
      jobId,
      cast[0].address,
    ])
    const before = await providerOf(cast[0].address)
    expect(before.pendingUnstake).toBe(100n * TSR)
    expect(before.locked).toBeGreaterThan(0n)
    const supplyBefore = await supply()
    const receipt = await ledger.write(issuer, 'record', [1n, jobId, cast[0].address, false, 0n])
    const burned = before.stake - before.locked
    const [slashed] = parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'StakeSlashed' })
    expect(slashed?.args).toEqual({ provider: cast[0].address, jobId, amount: burned })
    const [confirmed] = parseEventLogs({ abi: challengeLedgerAbi, logs: receipt.logs, eventName: 'ChallengeFailureSlashed' })
    expect(confirmed?.args).toEqual({ round: 1n, jobId, provider: cast[0].address, amount: burned })
    expect(await providerOf(cast[0].address)).toMatchObject({
      stake: before.locked,
      locked: before.locked,
      pendingUnstake: 0n,
      unstakeAvailableAt: 0n,
    })
    expect(await supply()).toBe(supplyBefore - burned)
    expect(await registry.read('faultedIn', [cast[0].address, jobId])).toBe(false)
    expect(await registry.read('isEligible', [cast[0].address, 0n])).toBe(false)
    expect(await attestedCapacityOf(cast[0].address)).toBe(0n)
    // The other job's collateral still backs it: the provider is paid or slashed there as before.
    expect(await registry.read('lockedFor', [cast[0].address, other])).toBe(before.locked)
    // The auditors' stakes are whole.
    for (const p of cast.slice(1)) expect((await providerOf(p.address)).stake).toBe(STAKE)
  })

  test('a provider that never revealed, or that the issuer alone calls failed, loses no stake beyond the collateral', async () => {
    await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    const silent = await answered(undefined)
    await sys.increaseTime(sys.deployment.params.market.revealWindow + 1n)
    await market.write(issuer, 'finalize', [silent])
    // JobMarket slashed the collateral of the commit that was never revealed: a fault, but not a wrong answer.
    expect(await registry.read('faultedIn', [cast[0].address, silent])).toBe(true)
    const afterCollateral = await providerOf(cast[0].address)
    expect(afterCollateral.stake).toBeLessThan(STAKE)
    const receipt = await ledger.write(issuer, 'record', [1n, silent, cast[0].address, false, 0n])
    expect(parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs, eventName: 'StakeSlashed' })).toEqual([])
    expect((await providerOf(cast[0].address)).stake).toBe(afterCollateral.stake)

    // An answer no audit judged: the issuer's word alone zeroes the attested capacity and slashes nothing.
    const unjudged = await jobOf(issuer, true)
    await ledger.write(issuer, 'record', [1n, unjudged, cast[1].address, false, 0n])
    expect((await providerOf(cast[1].address)).stake).toBe(STAKE)
    expect(await attestedCapacityOf(cast[1].address)).toBe(0n)
  })
})
