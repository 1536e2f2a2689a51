import { type Address, encodeFunctionData, getAddress, type Hex } from 'viem'
import { jobMarketAbi } from '../../contracts/generated/index.ts'
import { JobStatus, jobStatusName, Verification, type VerificationName } from '../../protocol/enums.ts'
import { submitJobProblems } from '../../protocol/jobSpec.ts'
import { challengeBondOf } from '../../protocol/settlement.ts'
import { checkJob } from '../checkJob.ts'
import {
  approvalFor,
  formatTsr,
  InvalidArgumentError,
  type PreparedTransaction,
  prepareTransaction,
  type WalletContext,
} from './preparedTransaction.ts'

/** A job as a requester submits it through `prepareSubmitJob`: JobMarket's `JobSpec`, the mode by name. */
export type SubmitJobRequest = {
  modelHash: Hex
  inputHash: Hex
  units: bigint
  maxPricePerUnit: bigint
  redundancy: number
  verification: VerificationName
  /** uint32. */
  minVramMiB: bigint
  /** uint32; 0 = any. */
  gpuModel: bigint
  regions: readonly Hex[]
  /** Unix seconds, chain time. */
  deadline: bigint
  outputTolerance: number
}

/** The least time a job's deadline must leave it, as the gateway requires: less can't be matched and run. */
const minDeadlineLeadSeconds = 60n

const market = (wallet: Pick<WalletContext, 'deployment'>) =>
  ({ address: wallet.deployment.contracts.JobMarket.address, abi: jobMarketAbi }) as const

/** The latest block's timestamp: the clock JobMarket judges deadlines and windows by. */
async function chainTime(wallet: Pick<WalletContext, 'publicClient'>): Promise<bigint> {
  return (await wallet.publicClient.getBlock({ blockTag: 'latest' })).timestamp
}

/** A job id as the contract takes it: positive. */
function checkJobId(jobId: bigint): void {
  if (jobId <= 0n) throw new InvalidArgumentError('jobId', `jobId must be positive (ids start at 1), got ${jobId}`)
}

/**
 * The transactions that submit `spec` from `from`: an `approve` of the escrow when JobMarket's allowance is short, then
 * `submitJob`. Refused before anything is encoded, naming each field: a spec `submitJob` would refuse (checked as the
 * contract checks it, `submitJobProblems`, with a deadline at least a minute ahead of chain time), a job whose model or
 * input can't run (where the server checks jobs), and a balance short of the escrow (JobMarket's `quoteEscrow`, read
 * from the chain so a changed take is counted).
 */
export async function prepareSubmitJob(
  wallet: WalletContext,
  parameters: { from: Address; spec: SubmitJobRequest },
): Promise<PreparedTransaction[]> {
  const { from, spec } = parameters
  const problems = submitJobProblems(spec, await chainTime(wallet), minDeadlineLeadSeconds)
  if (problems.length)
    throw new InvalidArgumentError(problems.map((p) => `spec.${p.field}`).join(', '), problems.map((p) => `spec.${p.message}`).join('; '))
  if (wallet.blobs && wallet.inspector) {
    const check = await checkJob({ blobs: wallet.blobs, inspector: wallet.inspector, spec })
    if (!check.runnable)
      throw new InvalidArgumentError(
        'spec.modelHash',
        `spec.modelHash and spec.inputHash: the job can't run: ${check.problems.map((p) => p.message).join('; ')}`,
      )
  }
  const optimistic = spec.verification === 'OPTIMISTIC'
  const escrow = await wallet.publicClient.readContract({
    ...market(wallet),
    functionName: 'quoteEscrow',
    // An optimistic job escrows as k = 2 would: its second run is held for an audit.
    args: [spec.maxPricePerUnit, spec.units, optimistic ? 2 : spec.redundancy],
  })
  const approval = await approvalFor(wallet, { from, spender: 'JobMarket', amount: escrow, purpose: "the job's escrow" })
  const jobSpec = {
    modelHash: spec.modelHash,
    inputHash: spec.inputHash,
    units: spec.units,
    maxPricePerUnit: spec.maxPricePerUnit,
    minVramMiB: Number(spec.minVramMiB),
    gpuModel: Number(spec.gpuModel),
    regions: [...spec.regions],
    redundancy: spec.redundancy,
    verification: optimistic ? Verification.Optimistic : Verification.Redundant,
    deadline: spec.deadline,
    outputTolerance: spec.outputTolerance,
  }
  const k = optimistic ? 'one provider, spot-checked' : `${spec.redundancy} providers`
  const submit = await prepareTransaction(wallet, {
    from,
    contract: 'JobMarket',
    functionName: 'submitJob',
    data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'submitJob', args: [jobSpec] }),
    description: `Submit a job of ${spec.units} units at up to ${formatTsr(spec.maxPricePerUnit)} a unit (${k}), escrowing ${formatTsr(escrow)}; what it doesn't cost comes back`,
    estimate: approval.length === 0,
  })
  return [...approval, submit]
}

/**
 * `cancel(jobId)` from `from`, which credits the escrow back to it (then `prepareWithdraw`). Refused, from the chain's
 * own record of the job, unless the job exists, is OPEN (unassigned) and `from` submitted it.
 */
export async function prepareCancelJob(wallet: WalletContext, parameters: { from: Address; jobId: bigint }): Promise<PreparedTransaction> {
  const { from, jobId } = parameters
  checkJobId(jobId)
  const [requester, status] = await wallet.publicClient.readContract({
    ...market(wallet),
    functionName: 'requesterAndStatusOf',
    args: [jobId],
  })
  if (status === JobStatus.None) throw new InvalidArgumentError('jobId', `jobId ${jobId}: no such job`)
  if (status !== JobStatus.Open)
    throw new InvalidArgumentError('jobId', `jobId ${jobId} is ${jobStatusName(status)}: only an OPEN (unassigned) job can be cancelled`)
  if (getAddress(requester) !== getAddress(from))
    throw new InvalidArgumentError(
      'from',
      `from ${from} is not the requester of job ${jobId} (${getAddress(requester)}): only its requester can cancel it`,
    )
  return prepareTransaction(wallet, {
    from,
    contract: 'JobMarket',
    functionName: 'cancel',
    data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'cancel', args: [jobId] }),
    description: `Cancel job ${jobId}: its escrow is credited back to you, to withdraw`,
  })
}

/** JobMarket's `withdraw()` from `from`: pays everything credited to it (fees, refunds, slash shares). Refused when nothing is owed. */
export async function prepareWithdraw(wallet: WalletContext, parameters: { from: Address }): Promise<PreparedTransaction> {
  const { from } = parameters
  const owed = await wallet.publicClient.readContract({ ...market(wallet), functionName: 'owed', args: [from] })
  if (owed === 0n) throw new InvalidArgumentError('from', `from ${from} is owed nothing by JobMarket: there is nothing to withdraw`)
  return prepareTransaction(wallet, {
    from,
    contract: 'JobMarket',
    functionName: 'withdraw',
    data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'withdraw' }),
    description: `Withdraw ${formatTsr(owed)} JobMarket owes you`,
  })
}

/**
 * `challenge(jobId)` from `from`, with the `approve` of its bond (`maxPricePerUnit × units × challengeBondBps / BPS`)
 * when JobMarket's allowance is short. Refused, from the chain's record of the job, unless it is an OPTIMISTIC job
 * REVEALED by its one provider and not audited yet, within its challenge window (`challengeWindow` seconds after the
 * reveal deadline), and `from` holds the bond. The challenged result goes to a fresh auditor: the bond comes back if the
 * result loses, and is lost (half to the provider, half burned) if it stands.
 */
export async function prepareChallenge(
  wallet: WalletContext,
  parameters: { from: Address; jobId: bigint },
): Promise<PreparedTransaction[]> {
  const { from, jobId } = parameters
  checkJobId(jobId)
  const [job, now] = await Promise.all([
    wallet.publicClient.readContract({ ...market(wallet), functionName: 'getJob', args: [jobId] }),
    chainTime(wallet),
  ])
  if (job.status === JobStatus.None) throw new InvalidArgumentError('jobId', `jobId ${jobId}: no such job`)
  const notChallengeable = (why: string) =>
    new InvalidArgumentError(
      'jobId',
      `jobId ${jobId} can't be challenged: ${why}; only an OPTIMISTIC job revealed by its provider and not yet audited can be`,
    )
  if (job.spec.verification !== Verification.Optimistic) throw notChallengeable('it is REDUNDANT (its providers check each other)')
  if (job.disputed.length > 0) throw notChallengeable('it is being audited already')
  if (job.status !== JobStatus.Revealed) throw notChallengeable(`it is ${jobStatusName(job.status)}`)
  const closesAt = job.revealDeadline + wallet.deployment.params.market.challengeWindow
  if (now > closesAt)
    throw new InvalidArgumentError('jobId', `jobId ${jobId}: its challenge window closed at ${closesAt} (chain time ${now})`)
  const bond = challengeBondOf(job.spec, wallet.deployment.params.market)
  const approval = await approvalFor(wallet, { from, spender: 'JobMarket', amount: bond, purpose: 'the challenge bond' })
  const challenge = await prepareTransaction(wallet, {
    from,
    contract: 'JobMarket',
    functionName: 'challenge',
    data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'challenge', args: [jobId] }),
    description: `Challenge job ${jobId}'s result with a bond of ${formatTsr(bond)} (until ${closesAt}): returned if a fresh auditor's result wins, lost if the original stands`,
    estimate: approval.length === 0,
  })
  return [...approval, challenge]
}
