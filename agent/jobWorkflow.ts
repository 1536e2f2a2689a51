import type { Logger } from 'pino'
import type { Address, Hex, PublicClient } from 'viem'
import { getBlob, uploadBlob } from '../client/serverClient.ts'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { JobStatus, jobStatusName } from '../protocol/enums.ts'
import { isRetryable, TesseraError } from '../protocol/errors.ts'
import { commitmentOf, fingerprintOutput } from '../protocol/fingerprint.ts'
import { retry, sleep } from '../protocol/retry.ts'
import { majorityOf } from '../protocol/settlement.ts'
import { decodeTensorBlob, encodeTensorBlob } from '../protocol/tensorBlob.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import type { InferencePool } from './inferencePool.ts'
import { type Journal, type JournalEntry, newSalt } from './journal.ts'
import type { ModelCache } from './modelCache.ts'
import { TransactionError, type TxSender } from './txSender.ts'

const ZERO_HASH = `0x${'00'.repeat(32)}` as Hex

/** What one assignment's work needs from the agent. */
export type JobContext = {
  provider: Address
  serverUrl: string
  jobMarket: Address
  publicClient: PublicClient
  sender: TxSender
  journal: Journal
  pool: InferencePool
  models: ModelCache
  metrics: AgentMetrics
  log: Logger
  lie: boolean
  pollIntervalMs: number
  signal: AbortSignal
}

/** `retry` until `untilMs` or the agent stops, logging each failed attempt as `what`. */
const retrying = <T>(ctx: JobContext, what: string, untilMs: number, fn: () => Promise<T>): Promise<T> =>
  retry(fn, { untilMs, signal: ctx.signal, onRetry: (error, attempt) => ctx.log.warn({ err: error, attempt, what }, 'retrying') })

const readJob = (ctx: JobContext, jobId: bigint) =>
  ctx.publicClient.readContract({ address: ctx.jobMarket, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
const readSlot = (ctx: JobContext, jobId: bigint, provider = ctx.provider) =>
  ctx.publicClient.readContract({ address: ctx.jobMarket, abi: jobMarketAbi, functionName: 'getSlot', args: [jobId, provider] })

/** What computing a job needs from its on-chain spec (the chain, not the server, says what to run). */
type JobSpecView = { jobId: string; modelHash: Hex; inputHash: Hex; units: bigint; outputTolerance: number }

/** An assignment that is no longer ours to compute: it ends without a commit. Not retryable. */
class Skip extends TesseraError {
  override name = 'Skip'
}

/**
 * Computes an assignment's output: fetches and verifies the model (disk cache) and input, runs it in the
 * pool, optionally corrupts it (`lie`), uploads the output blob. Returns what the commitment needs.
 */
async function computeAssignment(ctx: JobContext, job: JobSpecView, untilMs: number) {
  const log = ctx.log.child({ jobId: job.jobId })
  const { modelHash, inputHash } = job
  const [modelPath, inputBytes] = await Promise.all([
    retrying(ctx, 'model download', untilMs, () => ctx.models.ensure(modelHash, ctx.signal)),
    retrying(ctx, 'input download', untilMs, () => getBlob({ serverUrl: ctx.serverUrl, hash: inputHash, signal: ctx.signal })),
  ])
  const input = decodeTensorBlob(inputBytes)
  if (BigInt(input.dims[0]) !== job.units)
    log.warn({ rows: input.dims[0], units: job.units.toString() }, 'input rows differ from the job units')
  const started = performance.now()
  const result = await retrying(ctx, 'inference', untilMs, () =>
    ctx.pool.run({ modelHash, modelPath, input: input.data, dims: input.dims }),
  )
  const seconds = (performance.now() - started) / 1000
  ctx.metrics.inferenceSeconds.observe(seconds)
  ctx.metrics.inferenceUnits.inc(input.dims[0])
  let output = result.output
  // Far above any tolerance: scale and shift every value, so the fingerprint cannot agree with honest ones.
  if (ctx.lie) output = output.map((v) => v * 1.5 + 1)
  const fingerprint = fingerprintOutput(output, job.outputTolerance)
  const blob = encodeTensorBlob({ dims: result.dims, data: output })
  const { sha256: outputHash } = await retrying(ctx, 'output upload', untilMs, () =>
    uploadBlob({ serverUrl: ctx.serverUrl, bytes: blob, signal: ctx.signal }),
  )
  log.info(
    { rows: input.dims[0], inferenceMs: Math.round(seconds * 1000), fingerprint, outputHash, lie: ctx.lie || undefined },
    'output computed',
  )
  return { fingerprint, outputHash }
}

/**
 * Handles one assignment from the subscription: resumes it from the journal when this round is already
 * there, otherwise checks it is still current on chain, computes, journals (fsync) and follows it through
 * commit, reveal and settlement. `onJournaled` fires once the assignment is safe to skip on replay
 * (journaled, or deliberately skipped); it does not fire if the agent stops first.
 */
export async function processAssignment(ctx: JobContext, assignment: JobAssignment, onJournaled: () => void): Promise<void> {
  const jobId = BigInt(assignment.jobId)
  const log = ctx.log.child({ jobId: assignment.jobId })
  const existing = ctx.journal.get(jobId)
  if (existing && existing.commitDeadline === assignment.commitDeadline) {
    onJournaled()
    if (existing.state !== 'done') await followEntry(ctx, existing)
    return
  }
  let entry: JournalEntry
  try {
    const untilMs = Number(assignment.commitDeadline) * 1000
    const [job, slot] = await retrying(ctx, 'read job', untilMs, () => Promise.all([readJob(ctx, jobId), readSlot(ctx, jobId)]))
    if (job.status !== JobStatus.Assigned || String(job.commitDeadline) !== assignment.commitDeadline || !slot.assigned)
      throw new Skip(`assignment no longer current (job ${jobStatusName(job.status)})`)
    if (slot.commitment !== ZERO_HASH) throw new Skip('already committed, but not in the journal')
    const { spec } = job
    if (spec.modelHash !== assignment.job.modelHash.toLowerCase() || spec.inputHash !== assignment.job.inputHash.toLowerCase())
      log.warn({ modelHash: spec.modelHash, inputHash: spec.inputHash }, 'server and chain disagree on the job spec; using the chain')
    const view = {
      jobId: assignment.jobId,
      modelHash: spec.modelHash,
      inputHash: spec.inputHash,
      units: spec.units,
      outputTolerance: spec.outputTolerance,
    }
    const { fingerprint, outputHash } = await computeAssignment(ctx, view, untilMs)
    if (ctx.signal.aborted) return
    const salt = newSalt()
    const commitment = commitmentOf({ jobId, provider: ctx.provider, fingerprint, outputHash, salt })
    // On disk before the commit leaves: a restart can then still reveal.
    entry = await ctx.journal.put({
      jobId: assignment.jobId,
      provider: ctx.provider,
      commitDeadline: assignment.commitDeadline,
      state: 'computed',
      salt,
      fingerprint,
      outputHash,
      commitment,
    })
  } catch (error) {
    if (ctx.signal.aborted) return
    const outcome = error instanceof Skip ? 'skipped' : 'error'
    ctx.metrics.jobs.inc({ outcome })
    if (error instanceof Skip) log.info({ reason: error.message }, 'assignment skipped')
    else log.error({ err: error }, 'assignment failed before commit')
    onJournaled()
    return
  }
  onJournaled()
  await followEntry(ctx, entry)
}

/** Drives a journaled entry to `done`: commit, wait for Committed, reveal, wait for settlement. */
export async function followEntry(ctx: JobContext, start: JournalEntry): Promise<JournalEntry> {
  let entry = start
  let failures = 0
  const log = ctx.log.child({ jobId: entry.jobId })
  while (!ctx.signal.aborted && entry.state !== 'done') {
    const before = entry
    try {
      if (entry.state === 'computed') entry = await commitStep(ctx, entry)
      else if (entry.state === 'committed') entry = await revealStep(ctx, entry)
      else entry = await settleStep(ctx, entry)
      failures = 0
    } catch (error) {
      failures++
      log.warn({ err: error, state: entry.state, failures }, 'job step failed')
      if (!isRetryable(error) && failures >= 3) {
        entry = await finish(ctx, entry, `gave up: ${(error as Error).message}`, 'error')
        break
      }
    }
    if (entry.state !== before.state) {
      const txHash = entry.state === 'committed' ? entry.commitTx : entry.state === 'revealed' ? entry.revealTx : undefined
      log.info({ state: entry.state, reason: entry.reason, txHash }, 'job state')
    } else await sleep(ctx.pollIntervalMs, ctx.signal)
  }
  return entry
}

async function finish(ctx: JobContext, entry: JournalEntry, reason: string, outcome: string): Promise<JournalEntry> {
  ctx.metrics.jobs.inc({ outcome })
  return ctx.journal.update(entry.jobId, { state: 'done', reason })
}

async function commitStep(ctx: JobContext, entry: JournalEntry): Promise<JournalEntry> {
  const jobId = BigInt(entry.jobId)
  const [job, slot] = await Promise.all([readJob(ctx, jobId), readSlot(ctx, jobId)])
  if (slot.commitment === entry.commitment) return ctx.journal.update(jobId, { state: 'committed' })
  if (slot.commitment !== ZERO_HASH) return finish(ctx, entry, 'chain holds a different commitment', 'error')
  if (job.status !== JobStatus.Assigned || String(job.commitDeadline) !== entry.commitDeadline || !slot.assigned)
    return finish(ctx, entry, `assignment ended before the commit (job ${jobStatusName(job.status)})`, 'missed')
  try {
    const { hash } = await ctx.sender.send({
      address: ctx.jobMarket,
      abi: jobMarketAbi,
      functionName: 'commitResult',
      args: [jobId, entry.commitment],
    })
    return ctx.journal.update(jobId, { state: 'committed', commitTx: hash })
  } catch (error) {
    if (error instanceof TransactionError && error.revert?.errorName === 'CommitWindowClosed')
      return finish(ctx, entry, 'commit window closed', 'missed')
    throw error
  }
}

async function revealStep(ctx: JobContext, entry: JournalEntry): Promise<JournalEntry> {
  const jobId = BigInt(entry.jobId)
  const job = await readJob(ctx, jobId)
  const status = job.status
  if (status === JobStatus.Assigned && String(job.commitDeadline) === entry.commitDeadline) return entry // others still committing
  if (status === JobStatus.Committed && String(job.commitDeadline) === entry.commitDeadline) {
    const slot = await readSlot(ctx, jobId)
    if (slot.revealed) return ctx.journal.update(jobId, { state: 'revealed' })
    try {
      const { hash } = await ctx.sender.send({
        address: ctx.jobMarket,
        abi: jobMarketAbi,
        functionName: 'revealResult',
        args: [jobId, entry.fingerprint, entry.outputHash, entry.salt],
      })
      return ctx.journal.update(jobId, { state: 'revealed', revealTx: hash })
    } catch (error) {
      if (error instanceof TransactionError && error.revert?.errorName === 'RevealWindowClosed')
        return finish(ctx, entry, 'reveal window closed', 'missed')
      throw error
    }
  }
  if (
    (status === JobStatus.Revealed || status === JobStatus.Completed || status === JobStatus.Failed) &&
    String(job.commitDeadline) === entry.commitDeadline
  ) {
    const slot = await readSlot(ctx, jobId)
    if (slot.revealed && slot.commitment === entry.commitment) return ctx.journal.update(jobId, { state: 'revealed' })
    return finish(ctx, entry, `job ${jobStatusName(status)} without our reveal`, 'missed')
  }
  // Open, Expired, Cancelled, or a new round: the assignment we committed to is over (our collateral was unlocked).
  return finish(ctx, entry, `assignment ended (job ${jobStatusName(status)})`, 'expired')
}

async function settleStep(ctx: JobContext, entry: JournalEntry): Promise<JournalEntry> {
  const jobId = BigInt(entry.jobId)
  const job = await readJob(ctx, jobId)
  if (job.status === JobStatus.Revealed || job.status === JobStatus.Committed) return entry // waiting for finalize
  if (job.status === JobStatus.Completed) {
    // Whether we were in the majority: the fingerprint more than half the slots revealed is ours.
    const slots = await Promise.all(job.providers.map((p) => readSlot(ctx, jobId, p)))
    const majority = majorityOf(slots.map((s) => (s.revealed ? s.fingerprint : null)))
    const agreed = majority?.fingerprint.toLowerCase() === entry.fingerprint.toLowerCase()
    return finish(ctx, entry, agreed ? 'completed: agreed' : 'completed: dissented', agreed ? 'agreed' : 'dissented')
  }
  return finish(ctx, entry, `job ${jobStatusName(job.status)}`, job.status === JobStatus.Failed ? 'failed' : 'expired')
}
