import type { Logger } from 'pino'
import type { Address, Hex, PublicClient } from 'viem'
import type { BlobCredentials } from '../client/blobAuth.ts'
import { getBlob, uploadBlob } from '../client/serverClient.ts'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { JobStatus, jobStatusName, slotOutcomes } from '../protocol/enums.ts'
import { isRetryable, TesseraError } from '../protocol/errors.ts'
import { commitmentOf, fingerprintOutput, sha256Hex } from '../protocol/fingerprint.ts'
import { checkJobInputs, failureFingerprintOf, type JobFailureReason, type JobInputProblem } from '../protocol/jobInputs.ts'
import { retry, sleep } from '../protocol/retry.ts'
import { settlementGasAllowance } from '../protocol/settlement.ts'
import { decodeTensorBlob, encodeTensorBlob, type Tensor, TensorBlobError } from '../protocol/tensorBlob.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import type { HeadWatch } from './headWatch.ts'
import { InferenceOutOfMemoryError, type InferencePool, ModelLoadError, type RunInferenceReturnType } from './inferencePool.ts'
import type { JobChangeWatch } from './jobChangeWatch.ts'
import { type Journal, type JournalEntry, type JournalState, newSalt } from './journal.ts'
import { alterOutput, liesOn } from './lieDecision.ts'
import type { MarketCalls } from './marketCalls.ts'
import type { ModelCache } from './modelCache.ts'
import { decodeJobRound, decodeSlot, encodeGetJob, encodeGetSlot, type JobRound, type SlotView } from './roundReads.ts'
import { TransactionError, type TxSender } from './txSender.ts'

const ZERO_HASH = `0x${'00'.repeat(32)}` as Hex

/** What one assignment's work needs from the agent. */
export type JobContext = {
  provider: Address
  serverUrl: string
  /** The provider key's, for the blob store: it reads its jobs' inputs and uploads its outputs with them. */
  credentials: BlobCredentials
  jobMarket: Address
  publicClient: PublicClient
  sender: TxSender
  /** Sends the commits and reveals: each alone, or many per transaction. */
  calls: MarketCalls
  journal: Journal
  pool: InferencePool
  models: ModelCache
  metrics: AgentMetrics
  log: Logger
  /** Whether (or on what fraction of jobs) to corrupt outputs: see {@link liesOn}. */
  lie: boolean | number
  /** The longest a followed job waits for a new block before looking at the chain again. */
  pollIntervalMs: number
  /** The head, read once for every job the agent follows (`createHeadWatch`). */
  heads: HeadWatch
  /** Wakes a job waiting on others when a log names it (`createJobChangeWatch`), rather than at every block. */
  changes: JobChangeWatch
  /** The longest a job waiting on others goes without reading its round when no log names it. */
  idleWaitMs: number
  /**
   * Blocks deep (1: the block itself) a commit, reveal or settlement must be before the journal records it: until
   * then a reorg may still take it, and the agent sends it again.
   */
  confirmations: number
  /**
   * Milliseconds before the commit deadline by which an inference must be done, kept to send and mine the commit. An
   * inference not done by then is reported as a TIMEOUT failure, since silence would be a no-show.
   */
  commitMarginMs: number
  /**
   * Keeps the agent's own copy of each output it uploads, to open on request (`openingRequestWatch`) and to upload
   * again after a restart (`readOutput`).
   */
  saveOutput?: (outputHash: Hex, bytes: Uint8Array) => Promise<void>
  /** The copy `saveOutput` kept, undefined when there is none. */
  readOutput?: (outputHash: Hex) => Promise<Uint8Array | undefined>
  /**
   * The output uploads under way or done, by job id: a commit goes out beside its output's upload, not after it, and
   * the reveal waits for it (`uploadBeforeReveal`).
   */
  uploads: Map<string, Promise<void>>
  /** The longest a reveal waits for its output's upload; the upload goes on meanwhile. */
  uploadWaitMs: number
  signal: AbortSignal
}

/** `retry` until `untilMs` or the agent stops, logging each failed attempt as `what`. */
const retrying = <T>(ctx: JobContext, what: string, untilMs: number, fn: () => Promise<T>): Promise<T> =>
  retry(fn, { untilMs, signal: ctx.signal, onRetry: (error, attempt) => ctx.log.warn({ err: error, attempt, what }, 'retrying') })

const readJob = (ctx: JobContext, jobId: bigint, blockNumber?: bigint) =>
  ctx.publicClient.readContract({ address: ctx.jobMarket, abi: jobMarketAbi, functionName: 'getJob', args: [jobId], blockNumber })
const readSlot = (ctx: JobContext, jobId: bigint, provider = ctx.provider, blockNumber?: bigint) =>
  ctx.publicClient.readContract({
    address: ctx.jobMarket,
    abi: jobMarketAbi,
    functionName: 'getSlot',
    args: [jobId, provider],
    blockNumber,
  })

/**
 * The job and our slot at `block` as a poll reads them (`roundReads.ts`): the two calls go out with the agent's other
 * reads of that block as one multicall.
 */
const readRound = (ctx: JobContext, jobId: bigint, blockNumber: bigint) =>
  Promise.all([
    ctx.publicClient.call({ to: ctx.jobMarket, data: encodeGetJob(jobId), blockNumber }).then((r) => decodeJobRound(r.data)),
    ctx.publicClient.call({ to: ctx.jobMarket, data: encodeGetSlot(jobId, ctx.provider), blockNumber }).then((r) => decodeSlot(r.data)),
  ])

/** Whether `job` is the job the entry was computed for (entries from before the hashes were journaled can't tell: yes). */
const sameJob = (entry: JournalEntry, job: { modelHash: string; inputHash: string }): boolean =>
  (entry.modelHash === undefined || entry.modelHash.toLowerCase() === job.modelHash.toLowerCase()) &&
  (entry.inputHash === undefined || entry.inputHash.toLowerCase() === job.inputHash.toLowerCase())

/** What computing a job needs from its on-chain spec (the chain, not the server, says what to run). */
type JobSpecView = { jobId: string; modelHash: Hex; inputHash: Hex; units: bigint; outputTolerance: number }

/** An assignment that is no longer ours to compute: it ends without a commit. Not retryable. */
class Skip extends TesseraError {
  override name = 'Skip'
}

/** What an assignment commits to: a result (its fingerprint and the uploaded output), or a failure to report. */
type Computed = { fingerprint: Hex; outputHash: Hex; failure?: JobFailureReason }

/**
 * Fetches a job's input, retried until `untilMs`, or until `signal` (default the agent's) aborts. Bytes that don't hash
 * to the job's hash are the server's fault, not the job's: an error, not a failure. Before each retry, `stillRunnable`
 * may end the wait (by throwing).
 */
function fetchInput(
  ctx: JobContext,
  inputHash: Hex,
  untilMs: number,
  signal = ctx.signal,
  stillRunnable?: () => Promise<void>,
): Promise<Uint8Array> {
  let tries = 0
  return retrying({ ...ctx, signal }, 'input download', untilMs, async () => {
    if (tries++ > 0) await stillRunnable?.()
    return getBlob({ serverUrl: ctx.serverUrl, hash: inputHash, credentials: ctx.credentials, signal })
  })
}

/**
 * Throws a {@link Skip} once the chain shows that the round committing to `round` can never run: its job id names
 * another input (a reorg took the submission and another job took the id) or the job is in a later round. A job id
 * with no job at all (a reorg took the submission, which may come back) is no proof. A refused input is retried while
 * the index catches up, until the commit deadline: without this, an input the server will never again serve (the job
 * that named it is gone) held up the job id's next round behind it (one round of a job runs at a time), and we were a
 * no-show there.
 */
async function assertRoundRunnable(ctx: JobContext, jobId: bigint, round: { inputHash: Hex; commitDeadline: string }): Promise<void> {
  const job = await readJob(ctx, jobId)
  if (job.status === JobStatus.None) return
  if (job.spec.inputHash.toLowerCase() !== round.inputHash.toLowerCase())
    throw new Skip(`job ${jobId} names another input now (${job.spec.inputHash}): a reorg gave its id to another job`)
  if (job.status === JobStatus.Assigned && String(job.commitDeadline) !== round.commitDeadline)
    throw new Skip(`job ${jobId} is in a later round (commit deadline ${job.commitDeadline})`)
}

/**
 * Computes an assignment's output: fetches and verifies the model (disk cache), takes the `input` being fetched, runs
 * it in the pool, optionally corrupts it (`lie`), uploads the output blob. A job that can't run ({@link runJob}) gives
 * the failure's fingerprint instead, with nothing uploaded (a zero output hash). Returns what the commitment needs.
 */
async function computeAssignment(ctx: JobContext, job: JobSpecView, input: Promise<Uint8Array>, untilMs: number): Promise<Computed> {
  const log = ctx.log.child({ jobId: job.jobId })
  // A model that doesn't hash to the job's hash is the server's fault, not the job's: an error, not a failure.
  const [modelPath, inputBytes] = await Promise.all([
    retrying(ctx, 'model download', untilMs, () => ctx.models.ensure(job.modelHash, ctx.signal)),
    input,
  ])
  const ran = await runJob(ctx, job, modelPath, inputBytes, untilMs)
  if ('reason' in ran) {
    log.warn({ reason: ran.reason, problem: ran.message }, 'the job cannot run; reporting the failure')
    return { fingerprint: failureFingerprintOf(ran.reason), outputHash: ZERO_HASH, failure: ran.reason }
  }
  const { seconds } = ran
  ctx.metrics.inferenceSeconds.observe(seconds)
  ctx.metrics.inferenceUnits.inc(ran.rows)
  let output = ran.output
  const lie = liesOn({ rate: ctx.lie, provider: ctx.provider, jobId: job.jobId })
  if (lie) output = alterOutput(output)
  const fingerprint = fingerprintOutput(output, job.outputTolerance)
  const blob = encodeTensorBlob({ dims: ran.dims, data: output })
  const outputHash = sha256Hex(blob)
  // Kept before the commit leaves, so that a restart can still upload it before the reveal.
  await ctx.saveOutput?.(outputHash, blob)
  startUpload(ctx, job.jobId, blob, untilMs)
  log.info({ rows: ran.rows, inferenceMs: Math.round(seconds * 1000), fingerprint, outputHash, lie: lie || undefined }, 'output computed')
  return { fingerprint, outputHash }
}

/**
 * Uploads a job's output in the background, retried until `untilMs`, as `uploads`' entry for the job. Nothing on chain
 * needs the bytes before the reveal publishes their hash: the commit goes out meanwhile, a server round trip sooner,
 * and more often makes the next block. An upload that fails for good is logged, and the reveal goes out without it:
 * the agent keeps its copy, and an honest result not revealed would cost the provider its collateral.
 */
function startUpload(ctx: JobContext, jobId: string, bytes: Uint8Array, untilMs: number): Promise<void> {
  const upload = retrying(ctx, 'output upload', untilMs, () =>
    uploadBlob({ serverUrl: ctx.serverUrl, bytes, credentials: ctx.credentials, signal: ctx.signal }),
  ).then(
    () => undefined,
    (error: unknown) => {
      if (!ctx.signal.aborted) ctx.log.error({ err: error, jobId }, 'output upload failed: the reveal will go out without it on the server')
    },
  )
  ctx.uploads.set(jobId, upload)
  return upload
}

/**
 * Waits (at most `uploadWaitMs`) for the entry's output upload before its reveal shows the output's hash. An
 * entry resumed from the journal after a restart has none under way: its kept copy is uploaded again (stored bytes
 * are only recorded again), or, without a copy, the entry is taken as uploaded, as every entry journaled before
 * uploads ran beside commits was.
 */
async function uploadBeforeReveal(ctx: JobContext, entry: JournalEntry): Promise<void> {
  if (entry.outputHash === ZERO_HASH) return
  let upload = ctx.uploads.get(entry.jobId)
  if (!upload) {
    const bytes = await ctx.readOutput?.(entry.outputHash)
    if (!bytes) return
    upload = startUpload(ctx, entry.jobId, bytes, Date.now() + ctx.uploadWaitMs)
  }
  const waited = new AbortController()
  await Promise.race([upload, sleep(ctx.uploadWaitMs, AbortSignal.any([ctx.signal, waited.signal]))])
  waited.abort()
}

/**
 * Runs a job as its spec says, or says why it can't, as every honest provider would: the model doesn't load (the
 * load error's reason), the input isn't a tensor blob or doesn't fit the model and `units` (INPUT_MISMATCH), the
 * inference runs out of memory (OUT_OF_MEMORY) or isn't done `commitMarginMs` before the commit deadline (TIMEOUT,
 * counting its wait for a worker). The model is checked before the input, so providers name the same reason.
 * Anything else (a worker that died, the pool closing) is retried and thrown as before: it says nothing of the job.
 */
async function runJob(
  ctx: JobContext,
  job: JobSpecView,
  modelPath: string,
  inputBytes: Uint8Array,
  untilMs: number,
): Promise<(RunInferenceReturnType & { rows: number; seconds: number }) | JobInputProblem> {
  const { modelHash } = job
  let input: Tensor
  try {
    const signature = await retrying(ctx, 'model load', untilMs, () => ctx.pool.inspect({ modelHash, modelPath }))
    input = decodeTensorBlob(inputBytes)
    const [problem] = checkJobInputs({ model: signature, input, units: job.units })
    if (problem) return problem
  } catch (error) {
    if (error instanceof TensorBlobError) return { reason: 'INPUT_MISMATCH', message: `the input is not a tensor blob: ${error.message}` }
    return failureOf(error)
  }
  const cutoffMs = untilMs - ctx.commitMarginMs
  const timeout: JobInputProblem = {
    reason: 'TIMEOUT',
    message: `no output ${ctx.commitMarginMs} ms before the commit deadline, the time kept to get the commit mined`,
  }
  if (Date.now() >= cutoffMs) return timeout
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<JobInputProblem>((resolve) => {
    timer = setTimeout(() => resolve(timeout), cutoffMs - Date.now())
  })
  // A run that loses the race goes on in its worker (stopping onnxruntime mid-run can take the process down);
  // its result is dropped.
  const started = performance.now()
  const run = retrying(ctx, 'inference', cutoffMs, () => ctx.pool.run({ modelHash, modelPath, input: input.data, dims: input.dims }))
  try {
    const result = await Promise.race([run, late])
    return 'reason' in result ? result : { ...result, rows: input.dims[0], seconds: (performance.now() - started) / 1000 }
  } catch (error) {
    return failureOf(error)
  } finally {
    clearTimeout(timer)
  }
}

/** The failure an inference error reports (a model that doesn't load, memory run out); rethrows any other error. */
function failureOf(error: unknown): JobInputProblem {
  if (error instanceof ModelLoadError || error instanceof InferenceOutOfMemoryError) return { reason: error.reason, message: error.message }
  throw error
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
  if (existing && existing.commitDeadline === assignment.commitDeadline && sameJob(existing, assignment.job)) {
    onJournaled()
    const live = existing.state === 'done' ? await revived(ctx, existing) : existing
    if (live) await followEntry(ctx, live)
    return
  }
  let entry: JournalEntry
  let verified: RoundRead
  const untilMs = Number(assignment.commitDeadline) * 1000
  // The input the server's assignment names is fetched while the chain is read: a round trip and more saved before the
  // commit, which then more often makes the next block. The chain decides what runs: the prefetch is used only when it
  // names the same input, and is stopped otherwise (a spec the server got wrong, an assignment no longer current). The
  // model, usually in the disk cache already, is fetched once the chain has confirmed the assignment.
  const prefetch = new AbortController()
  const runnable = (inputHash: Hex) => () => assertRoundRunnable(ctx, jobId, { inputHash, commitDeadline: assignment.commitDeadline })
  const prefetched = fetchInput(
    ctx,
    assignment.job.inputHash,
    untilMs,
    AbortSignal.any([ctx.signal, prefetch.signal]),
    runnable(assignment.job.inputHash),
  )
  prefetched.catch(() => {}) // its failure counts only where it is used
  try {
    const [verifiedAt, job, slot] = await retrying(ctx, 'read job', untilMs, async () => {
      const block = await ctx.publicClient.getBlockNumber({ cacheTime: 0 })
      return [block, ...(await Promise.all([readJob(ctx, jobId, block), readSlot(ctx, jobId, ctx.provider, block)]))] as const
    })
    if (job.status !== JobStatus.Assigned || String(job.commitDeadline) !== assignment.commitDeadline || !slot.assigned)
      throw new Skip(`assignment no longer current (job ${jobStatusName(job.status)})`)
    const { spec } = job
    verified = {
      block: verifiedAt,
      job: { status: job.status, commitDeadline: job.commitDeadline, spec, slots: job.providers.length, disputed: [...job.disputed] },
      slot,
    }
    if (slot.commitment !== ZERO_HASH) {
      // Ours from an earlier round of this very job, when the journal holds it: a reorg took that round, and our commit
      // was mined again into this one (geth puts a dropped block's transactions back in its pool; or the agent's own,
      // queued behind a nonce gap, went before it could be withdrawn). Its salt and result are this job's: reveal them.
      if (!existing || existing.commitment !== slot.commitment || !sameJob(existing, spec))
        throw new Skip('already committed, but not in the journal')
      prefetch.abort()
      log.warn({ commitDeadline: assignment.commitDeadline }, "our commitment of the job's earlier round is in this one; revealing it")
      entry = await ctx.journal.update(assignment.jobId, {
        commitDeadline: assignment.commitDeadline,
        state: 'computed',
        reason: undefined,
        revealTx: undefined,
        verifiedAt: verifiedAt.toString(),
      })
    } else {
      const sameInput = spec.inputHash === assignment.job.inputHash.toLowerCase()
      if (!sameInput) prefetch.abort()
      if (!sameInput || spec.modelHash !== assignment.job.modelHash.toLowerCase())
        log.warn({ modelHash: spec.modelHash, inputHash: spec.inputHash }, 'server and chain disagree on the job spec; using the chain')
      const view = {
        jobId: assignment.jobId,
        modelHash: spec.modelHash,
        inputHash: spec.inputHash,
        units: spec.units,
        outputTolerance: spec.outputTolerance,
      }
      const input = sameInput ? prefetched : fetchInput(ctx, spec.inputHash, untilMs, ctx.signal, runnable(spec.inputHash))
      const { fingerprint, outputHash, failure } = await computeAssignment(ctx, view, input, untilMs)
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
        failure,
        modelHash: spec.modelHash,
        inputHash: spec.inputHash,
        verifiedAt: verifiedAt.toString(),
      })
      if (failure) ctx.metrics.failuresReported.inc({ reason: failure })
    }
  } catch (error) {
    prefetch.abort()
    ctx.uploads.delete(assignment.jobId)
    if (ctx.signal.aborted) return
    const outcome = error instanceof Skip ? 'skipped' : 'error'
    ctx.metrics.jobs.inc({ outcome })
    if (error instanceof Skip) log.info({ reason: error.message }, 'assignment skipped')
    else log.error({ err: error }, 'assignment failed before commit')
    onJournaled()
    return
  }
  onJournaled()
  await followEntry(ctx, entry, verified)
}

/** Steps in a row that reverted (each at a new head, or a poll interval later) before an entry is given up. */
export const maxRevertsInARow = 10

/**
 * Drives a journaled entry to `done`: commit, reveal, wait for settlement. Each poll compares the chain at the head
 * with the chain `confirmations` blocks deep: the agent acts on the head (commits while the job is Assigned, reveals
 * once it is Committed) and the journal records only what is deep. Whatever the head no longer shows — a reorg took
 * the commit or the reveal, however deep — is sent again from the journal's salt and output while the job still
 * needs it; the entry is done once the end of its round (settled, expired, reassigned) is itself deep.
 */
export async function followEntry(ctx: JobContext, start: JournalEntry, verified?: RoundRead): Promise<JournalEntry> {
  let entry = start
  // Reverts in a row: a revert is often the chain moving under a step (a reorg, our own commit landing after all, a
  // node a block behind), and each step reads the chain again, so it is tried again while the round runs. Giving up
  // leaves the assignment to expire, and its collateral to be slashed: only a revert that persists gives up.
  let reverts = 0
  const log = ctx.log.child({ jobId: entry.jobId })
  // The round was seen running where the assignment was verified; a deep block before that proves nothing.
  const watch: Watch = { runningAt: entry.verifiedAt === undefined ? undefined : BigInt(entry.verifiedAt), verified }
  // The head this entry steps at: after a step that changed nothing, the next block's (or the last read once
  // `pollIntervalMs` passed without one), shared with every other entry waiting for it; while it waits on others
  // (`watch.waiting`), the first block with a log that names the job (or `idleWaitMs` later).
  let head: bigint | undefined
  while (!ctx.signal.aborted && entry.state !== 'done') {
    const before = entry
    try {
      head ??= await ctx.heads.latest()
      entry = await step(ctx, entry, watch, head)
      reverts = 0
    } catch (error) {
      if (!isRetryable(error)) reverts++
      log.warn({ err: error, state: entry.state, reverts }, 'job step failed')
      if (reverts >= maxRevertsInARow) {
        entry = await finish(ctx, entry, `gave up: ${(error as Error).message}`, 'error')
        break
      }
    }
    if (entry.state !== before.state) {
      const txHash = entry.state === 'committing' ? entry.commitTx : entry.state === 'revealing' ? entry.revealTx : undefined
      log.info({ state: entry.state, reason: entry.reason, txHash }, 'job state')
      head = undefined
    } else if (watch.waiting && head !== undefined) head = await ctx.changes.changed(BigInt(entry.jobId), head, ctx.idleWaitMs, ctx.signal)
    else head = await ctx.heads.after(head, ctx.pollIntervalMs, ctx.signal)
  }
  return entry
}

async function finish(ctx: JobContext, entry: JournalEntry, reason: string, outcome: string): Promise<JournalEntry> {
  ctx.uploads.delete(entry.jobId)
  ctx.metrics.jobs.inc({ outcome })
  return ctx.journal.update(entry.jobId, { state: 'done', reason })
}

/**
 * What one entry's polls remember: the last head at which the chain showed its round still running, and whether the
 * last step found it waiting on others (its round running, the journal holding what the head shows, nothing to send).
 */
type Watch = { runningAt?: bigint; waiting?: boolean; verified?: RoundRead }

/** The job and our slot as read at `block`. */
type RoundRead = { block: bigint; job: JobRound; slot: SlotView }

/**
 * An entry whose round ended with nothing of ours on chain, brought back when its assignment is current at the head
 * again: the round ended (deep, say after a reorg took the assign, and with it any commit and reveal of ours), and
 * then the same assign was mined again, at the same commit deadline, so the assignment arrives again identical to the
 * one the journal closed. Its result is committed now as it would have been: under the same salt when no reveal of it
 * ever left, else under a fresh one (the reveal that left showed the salt). Undefined for any other entry (a round
 * that ended otherwise), or when the round isn't back with our slot empty.
 */
async function revived(ctx: JobContext, entry: JournalEntry): Promise<JournalEntry | undefined> {
  if (!entry.reason?.startsWith('assignment ended')) return undefined
  const view = await viewAt(ctx, entry, await ctx.publicClient.getBlockNumber({ cacheTime: 0 }))
  if (!view.current || view.job.status !== JobStatus.Assigned || view.slot.commitment !== ZERO_HASH) return undefined
  ctx.log.info(
    { jobId: entry.jobId, committedBefore: entry.commitTx !== undefined, revealedBefore: entry.revealTx !== undefined },
    'an assignment the journal closed is current again with nothing of ours on chain; committing it',
  )
  const salt = entry.revealTx === undefined ? entry.salt : newSalt()
  const commitment =
    salt === entry.salt
      ? entry.commitment
      : commitmentOf({
          jobId: BigInt(entry.jobId),
          provider: ctx.provider,
          fingerprint: entry.fingerprint,
          outputHash: entry.outputHash,
          salt,
        })
  return ctx.journal.update(entry.jobId, {
    state: 'computed',
    reason: undefined,
    commitTx: undefined,
    revealTx: undefined,
    salt,
    commitment,
    verifiedAt: view.block.toString(),
  })
}

/** The chain's view of an entry's round at one block. */
type RoundView = {
  block: bigint
  job: JobRound
  slot: SlotView
  /** The job is in this entry's round and holds a slot for us. */
  current: boolean
  /** Our commitment is in the slot. */
  committed: boolean
  /** Our commitment is in the slot and revealed. */
  revealed: boolean
}

async function viewAt(ctx: JobContext, entry: JournalEntry, block: bigint): Promise<RoundView> {
  const [job, slot] = await readRound(ctx, BigInt(entry.jobId), block)
  return viewOf(entry, { block, job, slot })
}

/** An entry's round as `job` and `slot`, read at `block`, show it. */
function viewOf(entry: JournalEntry, { block, job, slot }: RoundRead): RoundView {
  const current = String(job.commitDeadline) === entry.commitDeadline && slot.assigned && sameJob(entry, job.spec)
  const committed = current && slot.commitment === entry.commitment
  return { block, job, slot, current, committed, revealed: committed && slot.revealed }
}

/**
 * How the round ended as of `view`, or nothing while it runs (Assigned, Committed, Revealed). A judged round's verdict
 * for us (agreed or dissented) takes a log read; with `verdict` false it is left out (`outcome: 'judged'`), for a
 * caller that only asks whether the round is over.
 */
async function roundEnd(
  ctx: JobContext,
  entry: JournalEntry,
  view: RoundView,
  verdict = true,
): Promise<{ reason: string; outcome: string } | undefined> {
  const { job } = view
  const status = jobStatusName(job.status)
  if (!view.current) {
    // No majority in our round: it waits, our collateral locked, for a tie-break round of other providers, whose
    // verdict settles it. Nothing more for us to send, so our part ends here.
    if (disputedRound(ctx, entry, view))
      return view.slot.revealed
        ? { reason: 'disputed: no majority, a tie-break round decides', outcome: 'disputed' }
        : { reason: 'disputed without our reveal', outcome: 'missed' }
    return entry.state === 'computed'
      ? { reason: `assignment ended before the commit (job ${status})`, outcome: 'missed' }
      : { reason: `assignment ended (job ${status})`, outcome: 'expired' }
  }
  const judged = job.status === JobStatus.Completed || job.status === JobStatus.FailedInvalid
  if ((judged || job.status === JobStatus.Failed) && !view.revealed)
    return { reason: `job ${status} without our reveal`, outcome: 'missed' }
  if (judged && !verdict) return { reason: `job ${status}`, outcome: 'judged' }
  if (judged) {
    // Whether we were with the majority, as the contract judged it (under the tolerance, our fingerprint may differ
    // from the winner's and still agree): our `SlotSettled`.
    const settled = await ctx.publicClient.getContractEvents({
      address: ctx.jobMarket,
      abi: jobMarketAbi,
      eventName: 'SlotSettled',
      args: { jobId: BigInt(entry.jobId), provider: ctx.provider },
      // The round ran at `verifiedAt`: its settlement can't be older.
      fromBlock: entry.verifiedAt ? BigInt(entry.verifiedAt) : 0n,
      toBlock: view.block,
    })
    const ruling = job.status === JobStatus.Completed ? 'completed' : 'failed invalid'
    return settled.some((e) => e.args.outcome !== undefined && slotOutcomes[e.args.outcome] === 'AGREED')
      ? { reason: `${ruling}: agreed`, outcome: 'agreed' }
      : { reason: `${ruling}: dissented`, outcome: 'dissented' }
  }
  if (job.status === JobStatus.Failed) return { reason: `job ${status}`, outcome: 'failed' }
  return undefined
}

/**
 * Whether `view` shows the entry's round gone to a tie-break: we are a party to the job's dispute and our slot, no
 * longer assigned, still holds our commitment (and keeps it whatever the tie-break rounds do).
 */
function disputedRound(ctx: JobContext, entry: JournalEntry, view: RoundView): boolean {
  const provider = ctx.provider.toLowerCase()
  return (
    view.job.disputed.some((p) => p.toLowerCase() === provider) &&
    view.slot.commitment === entry.commitment &&
    sameJob(entry, view.job.spec)
  )
}

const stateOrder: readonly JournalState[] = ['computed', 'committing', 'committed', 'revealing', 'revealed', 'done']

/** The journal state the two views support: what the head shows, counted as confirmed where the deep block shows it too. */
function stateOf(head: RoundView, deep: RoundView): JournalState {
  if (deep.revealed) return 'revealed'
  if (head.revealed) return 'revealing'
  if (deep.committed) return 'committed'
  if (head.committed) return 'committing'
  return 'computed'
}

/**
 * One poll at `head`: reads it, ends the entry, sends what the head lacks, or records progress. The block
 * `confirmations` deep is read only where it decides something: whether an end the head shows is final, and whether
 * what the head shows beyond the journal is deep yet. A poll that finds the head where the journal already stands reads
 * nothing more; most polls of a job waiting for the others are such.
 */
async function step(ctx: JobContext, entry: JournalEntry, watch: Watch, head: bigint): Promise<JournalEntry> {
  const depth = BigInt(Math.max(1, ctx.confirmations) - 1)
  watch.waiting = false
  // The assignment's verification read the round at this very head when no block came since: the first step takes
  // that read rather than asking again, so the commit leaves a round trip sooner. (Should a reorg have replaced the
  // block at that height meanwhile, the commit's simulation refuses it, and the next step reads afresh.)
  const { verified } = watch
  watch.verified = undefined
  const now = verified?.block === head ? viewOf(entry, verified) : await viewAt(ctx, entry, head)
  const deepBlock = head > depth ? head - depth : 0n
  const deepView = () => (deepBlock === head ? now : viewAt(ctx, entry, deepBlock))
  if (now.current && now.slot.commitment !== ZERO_HASH && !now.committed)
    return finish(ctx, entry, 'chain holds a different commitment', 'error')
  if (await roundEnd(ctx, entry, now, false)) {
    // Over at the head; final once the deep block shows it over too, after the round was last seen running (a deep
    // block from before the assignment shows no round either). The verdict is read there, once.
    const end = (watch.runningAt ?? -1n) < deepBlock ? await roundEnd(ctx, entry, await deepView()) : undefined
    return end ? finish(ctx, entry, end.reason, end.outcome) : entry
  }
  watch.runningAt = head
  const { status } = now.job
  if (status === JobStatus.Assigned && !now.committed) return commit(ctx, entry, head, now.job)
  if (status === JobStatus.Committed && now.committed && !now.revealed) return reveal(ctx, entry, head, now.job)
  // Waiting for the others or for settlement. The journal already holds what the head shows, deep: nothing to record.
  // (A reorg that took our transaction and mined it again later leaves it there too: the head still shows it, and
  // should another reorg take it, the head shows that and the step sends it again.)
  // Only a transaction of the JobMarket changes that, and it logs the job (`ctx.changes`).
  if (entry.state === stateOf(now, now)) {
    watch.waiting = true
    return entry
  }
  // The journal follows the chain, backwards too after a reorg.
  const state = stateOf(now, await deepView())
  if (state === entry.state) return entry
  if (stateOrder.indexOf(state) < stateOrder.indexOf(entry.state))
    ctx.log.warn({ jobId: entry.jobId, was: entry.state, state }, 'the chain no longer shows what the journal recorded (reorg)')
  return ctx.journal.update(entry.jobId, { state })
}

/**
 * Whether `hash` may yet show at the head, so sending it again would only duplicate it: waiting in the node's pool
 * (and not queued behind a missing nonce), or mined after block `head` was read. One queued is withdrawn, so that it
 * can't land after the one sent instead (a restart finds it so when a reorg dropped the nonce below it).
 */
async function mayLand(ctx: JobContext, hash: Hex | undefined, head: bigint): Promise<boolean> {
  if (!hash) return false
  const known = await ctx.sender.transactionState(hash)
  if (known.state === 'pending' && known.queued) await ctx.sender.withdraw(hash, known)
  if (known.state === 'pending') return !known.queued
  return known.state === 'mined' && known.receipt.status === 'success' && known.receipt.blockNumber > head
}

async function commit(ctx: JobContext, entry: JournalEntry, head: bigint, job: JobRound): Promise<JournalEntry> {
  if (await mayLand(ctx, entry.commitTx, head)) return entry
  if (entry.state !== 'computed')
    ctx.log.warn({ jobId: entry.jobId, vanished: entry.commitTx }, 'commit gone from the chain; sending it again')
  // The input the result was computed on: JobMarket refuses the commit on any other (a later job given this id by a
  // reorg). An entry from before the journal kept it commits on the job's input as the chain shows it.
  const args = [BigInt(entry.jobId), entry.inputHash ?? job.spec.inputHash, entry.commitment] as const
  return sendAndJournal(ctx, entry, 'commit', () =>
    ctx.calls.send({ functionName: 'commitResult', args }).then(({ hash }) => ({
      state: 'committing',
      commitTx: hash,
    })),
  )
}

async function reveal(ctx: JobContext, entry: JournalEntry, head: bigint, job: JobRound): Promise<JournalEntry> {
  if (await mayLand(ctx, entry.revealTx, head)) return entry
  if (entry.state === 'revealing' || entry.state === 'revealed')
    ctx.log.warn({ jobId: entry.jobId, vanished: entry.revealTx }, 'reveal gone from the chain; sending it again')
  await uploadBeforeReveal(ctx, entry)
  const args = [BigInt(entry.jobId), entry.fingerprint, entry.outputHash, entry.salt] as const
  // Whoever's reveal is mined last settles the job, and which one that is the block decides, not the estimate.
  const extraGas = settlementGasAllowance(job.slots, job.disputed.length)
  return sendAndJournal(ctx, entry, 'reveal', () =>
    ctx.calls.send({ functionName: 'revealResult', args }, { extraGas }).then(({ hash }) => ({
      state: 'revealing',
      revealTx: hash,
    })),
  )
}

/**
 * Sends the commit or reveal (`send` answers with the journal's changes once it is sent) and journals it; a revert
 * because the `window` closed finishes the job as missed.
 */
async function sendAndJournal(
  ctx: JobContext,
  entry: JournalEntry,
  window: 'commit' | 'reveal',
  send: () => Promise<Partial<Omit<JournalEntry, 'jobId' | 'updatedAt'>>>,
): Promise<JournalEntry> {
  try {
    return await ctx.journal.update(entry.jobId, await send())
  } catch (error) {
    const closed = window === 'commit' ? 'CommitWindowClosed' : 'RevealWindowClosed'
    if (error instanceof TransactionError && error.revert?.errorName === closed)
      return finish(ctx, entry, `${window} window closed`, 'missed')
    throw error
  }
}
