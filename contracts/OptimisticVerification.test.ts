import { type Address, maxUint256, type PrivateKeyAccount, type TransactionReceipt } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { expectRevert, fund, type JobSpecArgs, registerProvider, sampleJobSpec, useTestSystem } from '../devnet/testSystem.ts'
import { JobStatus as Status } from '../protocol/enums.ts'
import { AuditKind, spotCheckOf } from '../protocol/spotCheck.ts'
import { BPS, TSR } from '../protocol/units.ts'
import { disagreementOf } from '../test/support/labelledOutputs.ts'
import { jobMarketOf, labelledResult, marketEvents, runMarketRound, submitOptimisticJob } from '../test/support/market.ts'
import { providerRegistryAbi, tesseraTokenAbi } from './generated/index.ts'

/**
 * Optimistic verification (JobMarket `challenge`, `spotCheckOf`, the audit rounds of `finalize`): balances to the
 * wei in each path, against the parameters the devnet deploys (docs/PROTOCOL.md, "Optimistic verification").
 */

const CENT = TSR / 100n
/** Each provider's stake: enough free stake for the hundreds of optimistic slots (12.5 × the ask each) a search may lock. */
const STAKE = 10_000n * TSR
const ASKS = [CENT, (CENT * 12n) / 10n, (CENT * 15n) / 10n, (CENT * 11n) / 10n] as const

const sys = useTestSystem()
let cast: PrivateKeyAccount[]
let requester: PrivateKeyAccount
let challenger: PrivateKeyAccount
let matcher: PrivateKeyAccount
let P: ReturnType<typeof params>

const params = () => sys.deployment.params.market

beforeAll(async () => {
  cast = [...sys.accounts.providers, privateKeyToAccount(devKeys[7])]
  ;[requester, challenger] = sys.accounts.requesters
  matcher = sys.accounts.matcher
  for (const [i, p] of cast.entries()) await registerProvider(sys, p, { pricePerUnit: ASKS[i], stake: STAKE })
  for (const r of [requester, challenger]) {
    await fund(sys, r.address, 100_000n * TSR)
    await sys.write(r, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
  }
  P = params()
})

const market = jobMarketOf(sys)
const events = marketEvents
const owed = (who: Address) => market.read<bigint>('owed', [who])
const fundBalance = () => market.read<bigint>('auditFund')
const balanceOf = (who: Address) => sys.read<bigint>({ address: sys.token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [who] })
const totalSupply = () => sys.read<bigint>({ address: sys.token, abi: tesseraTokenAbi, functionName: 'totalSupply' })
const stakeOf = async (who: Address) =>
  await sys.read<{ stake: bigint; locked: bigint }>({
    address: sys.registry,
    abi: providerRegistryAbi,
    functionName: 'getProvider',
    args: [who],
  })

/** The matcher assigns `who`, who commit and reveal the labelled outputs `labels` (undefined: commits, never reveals). */
/** Assigns, commits and reveals a round; the last reveal's receipt (the verdict's, when no two results differ). */
async function runRound(jobId: bigint, who: PrivateKeyAccount[], labels: (string | undefined)[]): Promise<TransactionReceipt | undefined> {
  return runMarketRound(
    sys,
    jobId,
    who,
    labels.map((label) => (label === undefined ? undefined : labelledResult(label))),
  )
}

const submitOptimistic = (overrides: Partial<JobSpecArgs> = {}) => submitOptimisticJob(sys, requester, overrides)

/**
 * An optimistic job run by `cast[0]` revealing `label`, with the block that decides its spot check mined and one more,
 * so a call (run in the latest block, where that block's hash is readable) sees the decision.
 */
async function revealedJob(label = 'truth', overrides: Partial<JobSpecArgs> = {}) {
  const job = await submitOptimistic(overrides)
  await runRound(job.jobId, [cast[0]], [label])
  await sys.testClient.mine({ blocks: 2 })
  return job
}

/** Optimistic jobs until one the spot check leaves alone (`want` None) or picks (`want` Spot). */
async function jobWhereSpotCheck(want: AuditKind, label = 'truth') {
  for (let tries = 0; tries < 300; tries++) {
    const job = await revealedJob(label)
    if ((await market.read<number>('spotCheckOf', [job.jobId])) === want) return job
  }
  throw new Error(`no job with spot check ${AuditKind[want]} in 300 tries`)
}

/** Proves `a`'s and `b`'s outputs apart under the tolerance (what the keeper does), then lets the proof window pass. */
async function proveApart(jobId: bigint, a: [PrivateKeyAccount, string], b: [PrivateKeyAccount, string]): Promise<void> {
  const proof = disagreementOf(a[1], b[1])
  if (!proof) throw new Error(`${a[1]} and ${b[1]} agree`)
  await market.write(challenger, 'proveDisagreement', [jobId, a[0].address, proof.a, b[0].address, proof.b])
  await sys.increaseTime(P.proofWindow + 1n)
}

/** What the audit fund can reimburse of `amount`: all of it, or all the fund holds. */
function cappedBy(amount: bigint, fund: bigint): bigint {
  if (amount > fund) return fund
  return amount
}
const value = (spec: JobSpecArgs) => spec.maxPricePerUnit * spec.units
const takeOf = (fees: bigint) => (fees * P.takeBps) / BPS
const optimisticCollateral = (ask: bigint, spec: JobSpecArgs) => (ask * spec.units * P.optimisticCollateralBps) / BPS

describe('optimistic jobs: submit', () => {
  test('k = 1 escrows a second execution for an audit; a redundancy other than 1 is refused', async () => {
    const before = await balanceOf(requester.address)
    const { spec } = await submitOptimistic()
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    expect(await market.read('quoteEscrow', [spec.maxPricePerUnit, spec.units, 2])).toBe(escrow)
    expect(before - (await balanceOf(requester.address))).toBe(escrow)
    for (const redundancy of [0, 2, 3]) {
      const bad = await sampleJobSpec(sys, { redundancy, verification: 1 })
      expect(await expectRevert(market.write(requester, 'submitJob', [bad]), 'InvalidRedundancy')).toEqual([redundancy])
    }
    await expectRevert(market.write(requester, 'submitJob', [await sampleJobSpec(sys, { verification: 2 })]), 'UnsupportedVerification')
  })

  test('an optimistic slot locks m = optimisticCollateralBps / BPS times its ask × units', async () => {
    const { jobId, spec } = await submitOptimistic()
    await market.write(matcher, 'assign', [jobId, [cast[1].address]])
    expect((await stakeOf(cast[1].address)).locked).toBe(optimisticCollateral(ASKS[1], spec))
    expect(await market.read('collateralOf', [ASKS[1], spec.units, 1])).toBe(optimisticCollateral(ASKS[1], spec))
  })
})

describe('optimistic jobs: the happy path', () => {
  test('unaudited: after the challenge window the provider is paid, the premium goes to the fund, the rest back', async () => {
    const { jobId, spec } = await jobWhereSpotCheck(AuditKind.None)
    // Jobs the search passed over (spot-checked, left in their audit) still lock collateral of their own.
    const lockedBefore = (await stakeOf(cast[0].address)).locked
    const [owedBefore, fundBefore, supplyBefore] = [await owed(cast[0].address), await fundBalance(), await totalSupply()]
    const requesterBefore = await owed(requester.address)
    const until = await expectRevert(market.write(matcher, 'finalize', [jobId]), 'ChallengeWindowOpen')
    expect(until[0]).toBe((await market.read<{ revealDeadline: bigint }>('getJob', [jobId])).revealDeadline + P.challengeWindow)
    await sys.increaseTime(P.challengeWindow + 1n)
    const receipt = await market.write(matcher, 'finalize', [jobId])

    const pay = ASKS[0] * spec.units
    const take = takeOf(pay)
    const premium = (pay * P.spotCheckBps) / BPS
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    expect(events(receipt, 'JobFinalized')[0].args).toMatchObject({ status: Status.Completed, fees: pay, burned: take })
    expect(events(receipt, 'AuditSettled')[0].args).toMatchObject({ premium, reimbursed: 0n, toProvider: 0n, bondBurned: 0n })
    expect((await owed(cast[0].address)) - owedBefore).toBe(pay)
    expect((await owed(requester.address)) - requesterBefore).toBe(escrow - pay - take - premium)
    expect((await fundBalance()) - fundBefore).toBe(premium)
    expect(await totalSupply()).toBe(supplyBefore - take)
    expect(await stakeOf(cast[0].address)).toMatchObject({ stake: STAKE, locked: lockedBefore - optimisticCollateral(ASKS[0], spec) })
  })

  test('finalize waits for the block that decides the spot check; the challenge window then closes challenges', async () => {
    const { jobId } = await submitOptimistic()
    await runRound(jobId, [cast[0]], ['truth'])
    const { revealBlock } = await market.read<{ revealBlock: bigint }>('getAudit', [jobId])
    // At the reveal the deciding block does not exist: nobody, the provider included, knows whether it is audited.
    expect(await expectRevert(market.write(matcher, 'finalize', [jobId]), 'SpotCheckPending')).toEqual([revealBlock + 1n])
    await sys.increaseTime(P.challengeWindow + 1n)
    expect(await expectRevert(market.write(challenger, 'challenge', [jobId]), 'ChallengeWindowClosed')).toHaveLength(1)
  })
})

describe('optimistic jobs: spot checks', () => {
  test('the selection is the contract’s hash of the next block and the job id, which the reveal could not know', async () => {
    for (let i = 0; i < 12; i++) {
      const { jobId } = await revealedJob()
      const { revealBlock } = await market.read<{ revealBlock: bigint }>('getAudit', [jobId])
      const seed = (await sys.publicClient.getBlock({ blockNumber: revealBlock + 1n })).hash
      expect(await market.read('spotCheckOf', [jobId])).toBe(spotCheckOf({ seed, jobId, spotCheckBps: P.spotCheckBps }))
    }
    // The same revealed job, decided by two different next blocks: the decision follows the block, not the job.
    const decisions = new Set<number>()
    for (let i = 0; i < 40 && decisions.size < 2; i++) {
      const { jobId } = await submitOptimistic()
      await runRound(jobId, [cast[0]], ['truth'])
      const snapshot = await sys.snapshot()
      for (let j = 0; j < 20 && decisions.size < 2; j++) {
        const beforeBlock = await sys.snapshot()
        await sys.increaseTime(j + 1)
        await sys.testClient.mine({ blocks: 1 })
        decisions.add(await market.read<number>('spotCheckOf', [jobId]))
        await sys.revert(beforeBlock)
      }
      await sys.revert(snapshot)
    }
    expect(decisions).toEqual(new Set([AuditKind.None, AuditKind.Spot]))
  })

  test('the contract’s draw selects p of the jobs: 3,000 job ids under one block hash', async () => {
    // Ids past the last job have no reveal yet: revealBlock 0, so they all draw with block 1's hash, each by its id.
    const first = (await market.read<bigint>('nextJobId')) + 1000n
    const n = 3000
    let hits = 0
    for (let i = 0n; i < BigInt(n); i++) if ((await market.read<number>('spotCheckOf', [first + i])) === AuditKind.Spot) hits++
    const p = Number(P.spotCheckBps) / 10_000
    expect(Math.abs(hits / n - p) / Math.sqrt((p * (1 - p)) / n), `${hits} of ${n}`).toBeLessThan(5)
  })

  test('a spot-checked liar is caught: the auditor disagrees, two judges side with it, the liar pays', async () => {
    const { jobId, spec } = await jobWhereSpotCheck(AuditKind.Spot, 'lie')
    const receipt = await market.write(matcher, 'finalize', [jobId])
    expect(events(receipt, 'AuditStarted')[0].args).toMatchObject({ jobId, kind: AuditKind.Spot, auditors: 1 })
    expect(await market.read('getJob', [jobId])).toMatchObject({ status: Status.Disputed, disputed: [cast[0].address] })
    // The original provider can't audit itself.
    await expectRevert(market.write(matcher, 'assign', [jobId, [cast[0].address]]), 'ProviderInDispute')
    await runRound(jobId, [cast[1]], ['truth'])
    await proveApart(jobId, [cast[0], 'lie'], [cast[1], 'truth'])
    const escalation = await market.write(matcher, 'finalize', [jobId])
    expect(events(escalation, 'AuditStarted')[0].args).toMatchObject({ kind: AuditKind.Spot, auditors: 2 })
    await runRound(jobId, [cast[2], cast[3]], ['truth', 'truth~judge'])
    await sys.increaseTime(P.proofWindow + 1n)

    const before = await Promise.all([requester, ...cast].map((a) => owed(a.address)))
    const [fundBefore, supplyBefore] = [await fundBalance(), await totalSupply()]
    const verdict = await market.write(matcher, 'finalize', [jobId])
    const fees = ASKS[2] * spec.units + ASKS[3] * spec.units
    const take = takeOf(fees)
    const liarCollateral = optimisticCollateral(ASKS[0], spec)
    const pool = (liarCollateral * 5000n) / BPS
    const share = pool / 3n
    const extra = fees + takeOf(fees)
    const reimbursed = cappedBy(extra, fundBefore)
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    expect(events(verdict, 'SlotSettled').map((e) => [e.args.provider, e.args.outcome])).toEqual([
      [cast[0].address, 1],
      [cast[1].address, 0],
      [cast[2].address, 0],
      [cast[3].address, 0],
    ])
    const after = await Promise.all([requester, ...cast].map((a) => owed(a.address)))
    expect(after[0] - before[0]).toBe(escrow - fees - take + (pool - share * 3n) + reimbursed)
    expect(after[1] - before[1]).toBe(0n)
    expect(after[2] - before[2]).toBe(share)
    expect(after[3] - before[3]).toBe(ASKS[2] * spec.units + share)
    expect(after[4] - before[4]).toBe(ASKS[3] * spec.units + share)
    expect(await fundBalance()).toBe(fundBefore - reimbursed)
    expect((await stakeOf(cast[0].address)).stake).toBe(STAKE - liarCollateral)
    expect(await totalSupply()).toBe(supplyBefore - take - (liarCollateral - pool))
  })

  test('a job worth the audit threshold is always audited, and pays for its own audit', async () => {
    const units = 100n
    const maxPricePerUnit = P.auditThreshold / units
    const { jobId, spec } = await revealedJob('truth', { units, maxPricePerUnit })
    expect(await market.read('spotCheckOf', [jobId])).toBe(AuditKind.Threshold)
    await market.write(matcher, 'finalize', [jobId])
    const [fundBefore, requesterBefore] = [await fundBalance(), await owed(requester.address)]
    // The auditor agrees with the original: its reveal settles both.
    const receipt = (await runRound(jobId, [cast[1]], ['truth~auditor'])) as TransactionReceipt
    const fees = (ASKS[0] + ASKS[1]) * units
    expect(events(receipt, 'JobFinalized')[0].args).toMatchObject({ status: Status.Completed, fees })
    expect(events(receipt, 'AuditSettled')[0].args).toMatchObject({ premium: 0n, reimbursed: 0n })
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    expect((await owed(requester.address)) - requesterBefore).toBe(escrow - fees - takeOf(fees))
    expect(await fundBalance()).toBe(fundBefore)
  })

  test('an auditor that never reveals is slashed and the original result stands', async () => {
    const { jobId, spec } = await revealedJob('truth', { units: 100n, maxPricePerUnit: P.auditThreshold / 100n })
    await market.write(matcher, 'finalize', [jobId])
    await runRound(jobId, [cast[1]], [undefined])
    await sys.increaseTime(P.revealWindow + 1n)
    const receipt = await market.write(matcher, 'finalize', [jobId])
    expect(events(receipt, 'SlotSettled').map((e) => [e.args.provider, e.args.outcome])).toEqual([
      [cast[0].address, 0],
      [cast[1].address, 2],
    ])
    expect(events(receipt, 'ProviderPaid').map((e) => [e.args.provider, e.args.amount])).toEqual([[cast[0].address, ASKS[0] * spec.units]])
    expect((await stakeOf(cast[1].address)).stake).toBe(STAKE - optimisticCollateral(ASKS[1], spec))
  })
})

describe('optimistic jobs: challenges', () => {
  test('a challenge lost: the auditor agrees, the bond goes half to the provider and half to the burn', async () => {
    // A first job fills the fund a little, so the reimbursement shows its cap.
    const first = await jobWhereSpotCheck(AuditKind.None)
    await sys.increaseTime(P.challengeWindow + 1n)
    await market.write(matcher, 'finalize', [first.jobId])

    // What the two lock apart from this job (jobs the search passed over, left in their audit): this one releases its own.
    const lockedBefore = await Promise.all(cast.slice(0, 2).map(async (p) => (await stakeOf(p.address)).locked))
    const { jobId, spec } = await submitOptimistic()
    await runRound(jobId, [cast[0]], ['truth'])
    const challengerBalance = await balanceOf(challenger.address)
    const receipt = await market.write(challenger, 'challenge', [jobId])
    const bond = (value(spec) * P.challengeBondBps) / BPS
    expect(events(receipt, 'Challenged')[0].args).toEqual({ jobId, challenger: challenger.address, bond })
    expect(challengerBalance - (await balanceOf(challenger.address))).toBe(bond)
    expect(await expectRevert(market.write(challenger, 'challenge', [jobId]), 'NotChallengeable')).toEqual([jobId])
    const before = await Promise.all([requester, challenger, cast[0], cast[1]].map((a) => owed(a.address)))
    const [fundBefore, supplyBefore] = [await fundBalance(), await totalSupply()]
    // The auditor agrees with the original: its reveal settles both.
    const verdict = (await runRound(jobId, [cast[1]], ['truth~auditor'])) as TransactionReceipt
    const [payO, payA] = [ASKS[0] * spec.units, ASKS[1] * spec.units]
    const fees = payO + payA
    const take = takeOf(fees)
    const extra = payA + takeOf(payA)
    const reimbursed = cappedBy(extra, fundBefore)
    expect(reimbursed).toBeGreaterThan(0n)
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    expect(events(verdict, 'AuditSettled')[0].args).toEqual({
      jobId,
      premium: 0n,
      reimbursed,
      toProvider: bond / 2n,
      bondBurned: bond - bond / 2n,
      bondReturned: 0n,
    })
    const after = await Promise.all([requester, challenger, cast[0], cast[1]].map((a) => owed(a.address)))
    expect(after[0] - before[0]).toBe(escrow - fees - take + reimbursed)
    expect(after[1] - before[1]).toBe(0n)
    expect(after[2] - before[2]).toBe(payO + bond / 2n)
    expect(after[3] - before[3]).toBe(payA)
    expect(await totalSupply()).toBe(supplyBefore - take - (bond - bond / 2n))
    for (const [i, p] of cast.slice(0, 2).entries())
      expect(await stakeOf(p.address)).toMatchObject({ stake: STAKE, locked: lockedBefore[i] })
  })

  test('a challenge won: the liar is slashed, the challenger gets its bond back, the requester pays nothing for the lie', async () => {
    const { jobId, spec } = await submitOptimistic()
    await runRound(jobId, [cast[0]], ['lie'])
    await market.write(challenger, 'challenge', [jobId])
    await runRound(jobId, [cast[1]], ['truth'])
    await proveApart(jobId, [cast[0], 'lie'], [cast[1], 'truth'])
    await market.write(matcher, 'finalize', [jobId])
    await runRound(jobId, [cast[2], cast[3]], ['truth', 'truth'])
    await sys.increaseTime(P.proofWindow + 1n)
    const before = await Promise.all([requester, challenger, ...cast].map((a) => owed(a.address)))
    const fundBefore = await fundBalance()
    const receipt = await market.write(matcher, 'finalize', [jobId])
    const bond = (value(spec) * P.challengeBondBps) / BPS
    const fees = (ASKS[2] + ASKS[3]) * spec.units
    const pool = (optimisticCollateral(ASKS[0], spec) * 5000n) / BPS
    const share = pool / 3n
    const extra = fees + takeOf(fees)
    const reimbursed = cappedBy(extra, fundBefore)
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    expect(events(receipt, 'AuditSettled')[0].args).toMatchObject({ toProvider: 0n, bondBurned: 0n, bondReturned: bond, reimbursed })
    const after = await Promise.all([requester, challenger, ...cast].map((a) => owed(a.address)))
    expect(after[0] - before[0]).toBe(escrow - fees - takeOf(fees) + (pool - share * 3n) + reimbursed)
    expect(after[1] - before[1]).toBe(bond)
    expect(after[2] - before[2]).toBe(0n)
    expect((await stakeOf(cast[0].address)).stake).toBe(STAKE - optimisticCollateral(ASKS[0], spec))
  })

  test('a redundant job, or one already settling, cannot be challenged; a failed audit returns the bond', async () => {
    const redundant = await sampleJobSpec(sys)
    const r = await market.write(requester, 'submitJob', [redundant])
    const redundantId = events(r, 'JobSubmitted')[0].args.jobId as bigint
    await expectRevert(market.write(challenger, 'challenge', [redundantId]), 'NotChallengeable')

    // Challenged, then the judges split: no verdict, the job fails, everyone gets back what they put in.
    const { jobId, spec } = await submitOptimistic()
    await runRound(jobId, [cast[0]], ['a'])
    await market.write(challenger, 'challenge', [jobId])
    await runRound(jobId, [cast[1]], ['b'])
    await proveApart(jobId, [cast[0], 'a'], [cast[1], 'b'])
    await market.write(matcher, 'finalize', [jobId])
    await runRound(jobId, [cast[2], cast[3]], ['c', 'd'])
    await proveApart(jobId, [cast[2], 'c'], [cast[3], 'd'])
    const before = await Promise.all([requester, challenger].map((a) => owed(a.address)))
    const receipt = await market.write(matcher, 'finalize', [jobId])
    expect(events(receipt, 'JobFinalized')[0].args).toMatchObject({ status: Status.Failed })
    const escrow = 2n * value(spec) + takeOf(2n * value(spec))
    const after = await Promise.all([requester, challenger].map((a) => owed(a.address)))
    expect(after[0] - before[0]).toBe(escrow)
    expect(after[1] - before[1]).toBe((value(spec) * P.challengeBondBps) / BPS)
    for (const p of cast) expect((await stakeOf(p.address)).stake).toBe(STAKE)
  })
})
