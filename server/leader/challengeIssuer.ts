import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { type Address, type Hex, type PublicClient, parseEventLogs } from 'viem'
import { InferencePool } from '../../agent/inferencePool.ts'
import { challengeLedgerAbi, jobMarketAbi } from '../../contracts/generated/index.ts'
import { firstDisagreementOf } from '../../protocol/agreement.ts'
import { type ChallengeJobReturnType, challengeDelayOf, challengeJobOf, seedHashOf } from '../../protocol/challengeJobs.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { type JobStatusName, Verification } from '../../protocol/enums.ts'
import { buildOutputTree, type OutputTree } from '../../protocol/outputTree.ts'
import { challengeBondOf, escrowOf } from '../../protocol/settlement.ts'
import { decodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { findAssignmentsByJobIds } from '../db/assignments.ts'
import { findAuditsByJobIds } from '../db/audits.ts'
import { findChallengesByJobIds } from '../db/challenges.ts'
import type { Database, Views } from '../db/database.ts'
import { indexedBlock } from '../db/indexedBlock.ts'
import { findJobsByIds, findJobsOfRequesterSince } from '../db/jobs.ts'
import { findAllProviders, findCandidateProviders } from '../db/providers.ts'
import type { ReadBlob } from './disagreementProver.ts'
import type { AssignMeta } from './matcher.ts'
import { isEligible } from './matchJobs.ts'
import { type Call, transact as sendAndWait } from './transact.ts'
import type { createTransactionSender } from './transactionSender.ts'

/** Stores bytes in the server's blob store under their sha256, so agents can fetch a challenge's model and input. */
export type WriteBlob = (bytes: Uint8Array) => Promise<void>

export type ChallengeIssuerOptions = {
  /** Emission epochs from the start of one round to the next (default 1: a round each epoch). */
  epochsPerRound?: number
  /** Chain seconds a challenge job may wait for its provider before it expires (default 600). */
  deadlineSeconds?: number
  /** Chain seconds after its start a round is revealed even with jobs unrecorded (default 2 × deadline). */
  giveUpSeconds?: number
  /** Active providers a round waits for before it starts (default 1): a fresh stack's agents come up one by one. */
  minProviders?: number
  /**
   * Chain seconds after the commit over which a round's jobs are submitted, each at its own secret delay
   * (`challengeDelayOf`), so none arrives in step with the public commit (default: half an emission epoch).
   */
  spreadSeconds?: number
}

/**
 * The round's secret seed, which only the issuer's key can derive again: what lets a new leader (or the same one after
 * a restart) reveal a round another process committed. {@link challengeSeedMessage} says what is signed.
 */
export type SeedOf = (round: bigint) => Promise<Hex>

/** One provider's challenge in a round, as the issuer follows it. */
type Target = {
  provider: Address
  /** The highest active ask when the round started (see `startRound`). */
  maxPricePerUnit: bigint
  job: ChallengeJobReturnType
  answer: OutputTree
  /** Chain time the job is due to be submitted: the commit plus its secret delay. */
  submitAt: bigint
  jobId?: bigint
  /** Its submission kept failing: nothing of it to record. */
  abandoned?: boolean
  /** Decided once the provider revealed (or the job settled without a reveal). */
  passed?: boolean
  challenged?: boolean
  recorded?: boolean
}

type Round = {
  round: bigint
  seed: Hex
  startedAt: bigint
  targets: Target[]
  /**
   * A restored round's targets already due whose job the index may not show yet (`decideLate`): sent late, or followed
   * as the job the index comes to show. The round waits for them.
   */
  undecided: Target[]
  revealed?: boolean
}

/** How many of the last rounds a restart looks at for unrevealed ones. */
const maxRestoredRounds = 16n

/** What a live job is: JobMarket `record` refuses it while the job is one of these. */
const liveStatuses: readonly JobStatusName[] = ['OPEN', 'ASSIGNED', 'COMMITTED', 'REVEALED', 'DISPUTED']

/**
 * `units × 3600 / (reveal − assignment)` (chain seconds, at least 1), capped at uint64: the provider's measured
 * throughput on its challenge, what becomes its attested capacity.
 */
export function unitsPerHourOf(parameters: { units: bigint; assignedAt: bigint; revealedAt: bigint }): bigint {
  let seconds = parameters.revealedAt - parameters.assignedAt
  if (seconds < 1n) seconds = 1n
  const perHour = (parameters.units * 3600n) / seconds
  const max = 2n ** 64n - 1n
  return perHour > max ? max : perHour
}

/**
 * Whether a revealed result passes a challenge: its fingerprint is the known answer's, or its output blob (which must
 * be what it committed to) agrees with the answer element by element under the tolerance (`firstDisagreementOf`).
 */
export function challengePassed(parameters: {
  answer: OutputTree
  fingerprint: Hex
  output: Uint8Array | undefined
  toleranceBits: number
}): boolean {
  const { answer, fingerprint, output, toleranceBits } = parameters
  if (fingerprint.toLowerCase() === answer.fingerprint.toLowerCase()) return true
  if (!output) return false
  let theirs: OutputTree
  try {
    theirs = buildOutputTree(decodeTensorBlob(output).data, toleranceBits)
  } catch {
    return false
  }
  if (theirs.fingerprint.toLowerCase() !== fingerprint.toLowerCase()) return false
  return firstDisagreementOf({ a: answer, b: theirs, toleranceBits }) === null
}

/**
 * The challenge issuer (issue 7): once every `epochsPerRound` emission epochs it commits a secret seed on
 * ChallengeLedger, derives each active provider's job from it (protocol/challengeJobs.ts), stores model and input,
 * computes the answer, and submits an optimistic job (paying the provider its own ask) that the matcher gives to that
 * provider only (`reservedFor`). A revealed result that isn't the answer is challenged on JobMarket, so the provider is
 * slashed by its auditors' verdict, not the issuer's word. Once a job settles its outcome and measured throughput are
 * recorded; once all are (or the round times out) the seed is revealed for anyone to re-derive the jobs. A round
 * lasts at least its jobs' challenge window, so with short epochs the next round starts while earlier ones still run.
 *
 * It keeps nothing it can't rebuild: the seed is derived from the key (`seedOf`), and after a restart or a change of
 * leader (`reset`) the first tick rebuilds the unrevealed rounds from the ledger and the index: a round's jobs are the
 * issuer's since its commit whose input a provider's derived job has, recorded and challenged as indexed; the targets
 * not yet due are picked again among the providers active then. A target due before the stop whose job the index
 * doesn't show waits, undecided and its input reserved, until the index holds every job the issuer sent: then it is
 * followed as the job the index shows, or sent late; an index that never catches up before the round's give-up leaves
 * it out (`decideLate`).
 *
 * Jobs are submitted over `spreadSeconds` after the commit, each at a delay drawn from the seed (`challengeDelayOf`):
 * the commit is public, so jobs all sent in its block would mark themselves.
 *
 * The issuer is the job gateway's key (protocol/gateway.ts), so its jobs come from the same requester as every
 * gateway job. It spends only what the gateway holds beyond its accounts' balances (`spendable`): a round waits when
 * that is less than the round's escrow.
 */
export function createChallengeIssuer(parameters: {
  db: Kysely<Database>
  views: Views
  deployment: Deployment
  publicClient: PublicClient
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  issuer: Address
  readBlob: ReadBlob
  writeBlob: WriteBlob
  log: Logger
  seedOf: SeedOf
  /** Keeps the key's allowance to JobMarket (shared with the gateway relay, whose key it is too). */
  allowance: { ensure: (amount: bigint) => Promise<void> }
  /** What the key holds beyond what the gateway owes its accounts (`gatewayLiabilities`); a round never spends more. */
  spendable?: () => Promise<bigint>
  /** Wall clock, unix seconds (heartbeats are judged on server time). */
  now: () => number
  options?: ChallengeIssuerOptions
}) {
  const { deployment, publicClient, sender, log } = parameters
  const epochsPerRound = BigInt(parameters.options?.epochsPerRound ?? 1)
  const epochOf = (time: bigint) => (time - deployment.emissionGenesis) / deployment.params.emission.epochLength
  const deadlineSeconds = BigInt(parameters.options?.deadlineSeconds ?? 600)
  const giveUpSeconds = BigInt(parameters.options?.giveUpSeconds ?? Number(deadlineSeconds) * 2)
  const spreadSeconds = BigInt(parameters.options?.spreadSeconds ?? Number(deployment.params.emission.epochLength / 2n))
  const market = deployment.contracts.JobMarket.address
  const ledger = deployment.contracts.ChallengeLedger.address
  let pool: InferencePool | undefined
  /** Rounds committed and not yet revealed, oldest first: a round lasts longer than a short epoch, so several may run. */
  const running: Round[] = []
  /** Chain time the last round was committed; undefined before any was. */
  let lastStart: bigint | undefined
  /** Whether the state has been rebuilt from the ledger and the index since this process (last) became leader. */
  let restored = false
  /** Input hash (lower-case) → provider (lower-case): what the matcher reserves; filled before the job is submitted. */
  const reservations = new Map<string, string>()
  /** The next round's seed, signed once: a round waiting for providers would otherwise sign it again every tick. */
  let nextSeed: { round: bigint; seed: Hex } | undefined
  let sequence = 0
  /** The round last found short of spendable funds, so the wait is logged once per round. */
  let shortOf: bigint | undefined

  /** Sends one call through the leader's sender and waits for it to be mined; throws when it can't be sent or reverted. */
  const transact = (action: string, call: Call) => sendAndWait({ sender, publicClient }, `challenge:${action}:${++sequence}`, action, call)

  async function answerOf(job: ChallengeJobReturnType): Promise<OutputTree> {
    pool ??= new InferencePool({ size: 1 })
    const { output } = await pool.run({ modelHash: job.modelHash, modelBytes: job.modelBytes, input: job.input, dims: job.dims })
    return buildOutputTree(output, job.outputTolerance)
  }

  /**
   * The round's targets among the active providers: each with its derived job, at the highest active ask. The max price
   * is that, not the target's own ask: its auditor and judges must ask no more than it (JobMarket `assign`), so a cheap
   * provider's lie could otherwise never be audited. The target is still paid its own ask, as on any job (and a max
   * price is not in what an agent is sent).
   */
  async function pickTargets(seed: Hex, round: bigint, maxPrice?: bigint): Promise<Omit<Target, 'answer' | 'submitAt'>[]> {
    const providers = await findCandidateProviders(parameters.db, parameters.views, parameters.now())
    const active = providers.filter((p) => p.registered && !p.paused && p.live)
    let maxPricePerUnit = maxPrice ?? 0n
    if (maxPrice === undefined) for (const p of active) if (p.pricePerUnit > maxPricePerUnit) maxPricePerUnit = p.pricePerUnit
    const picked: Omit<Target, 'answer' | 'submitAt'>[] = []
    for (const p of active) {
      const job = challengeJobOf({ seed, round, provider: p.address })
      const spec = { maxPricePerUnit, units: job.units, verification: 'OPTIMISTIC' as const, minVramMib: 0n, gpuModel: 0n, regions: [] }
      if (!isEligible(p, spec, { params: deployment.params, reserved: 0n })) continue
      picked.push({ provider: p.address, maxPricePerUnit, job })
    }
    return picked
  }

  /** What a target's optimistic job escrows (`escrowOf`, JobMarket's `quoteEscrow`: as k = 2, its audit held). */
  const escrowOfTarget = (t: Pick<Target, 'maxPricePerUnit' | 'job'>) =>
    escrowOf(
      { maxPricePerUnit: t.maxPricePerUnit, units: t.job.units, redundancy: 1, verification: Verification.Optimistic },
      deployment.params.market,
    )

  async function startRound(chainTime: bigint): Promise<void> {
    const round = (await lastRound()) + 1n
    if (nextSeed?.round !== round) nextSeed = { round, seed: await parameters.seedOf(round) }
    const { seed } = nextSeed
    const picked = await pickTargets(seed, round)
    // Too few yet: try again next tick (a round per tick costs only the reads while nobody is eligible).
    if (!picked.length || picked.length < (parameters.options?.minProviders ?? 1)) return
    if (parameters.spendable) {
      let needed = 0n
      for (const t of picked) needed += escrowOfTarget(t)
      const spendable = await parameters.spendable()
      if (spendable < needed) {
        if (shortOf !== round)
          log.warn(
            { round: String(round), spendable: String(spendable), needed: String(needed) },
            'challenge round waits: the key holds too little beyond the gateway balances',
          )
        shortOf = round
        return
      }
    }
    // Due times are set from the commit's block once it is mined, as a restart derives them (`committedAt`).
    const targets: Target[] = []
    for (const t of picked) targets.push({ ...t, answer: await answerOf(t.job), submitAt: 0n })
    const receipt = await transact('commitRound', {
      address: ledger,
      abi: challengeLedgerAbi,
      functionName: 'commitRound',
      args: [seedHashOf(seed)],
    })
    const committed = parseEventLogs({ abi: challengeLedgerAbi, logs: receipt.logs, eventName: 'RoundCommitted' })[0]
    const committedRound = BigInt(committed?.args.round ?? round)
    lastStart = chainTime
    if (committedRound !== round) {
      // Another issuer committed in between: the jobs were derived for the wrong round. Give this one up.
      log.warn({ expected: String(round), got: String(committedRound) }, 'challenge round number moved; revealing it empty')
      await transact('revealRound', { address: ledger, abi: challengeLedgerAbi, functionName: 'revealRound', args: [committedRound, seed] })
      return
    }
    const { timestamp: committedAt } = await publicClient.getBlock({ blockNumber: receipt.blockNumber })
    for (const t of targets) t.submitAt = committedAt + challengeDelayOf({ seed, round, provider: t.provider, spreadSeconds })
    const started: Round = { round, seed, startedAt: committedAt, targets, undecided: [] }
    running.push(started)
    log.info({ round: String(round), providers: targets.map((t) => t.provider) }, 'challenge round committed')
    await submitDue(started, chainTime)
  }

  /**
   * Submits each of the round's jobs whose time has come (its `submitAt`). One that fails is tried again next tick, and
   * abandoned a challenge window after its time.
   */
  async function submitDue(round: Round, chainTime: bigint): Promise<void> {
    for (const t of round.targets) {
      if (t.jobId !== undefined || t.abandoned || t.submitAt > chainTime) continue
      try {
        await submitTarget(round, t, chainTime)
      } catch (error) {
        if (chainTime - t.submitAt < deployment.params.market.challengeWindow) throw error
        t.abandoned = true
        reservations.delete(t.job.inputHash.toLowerCase())
        log.warn({ round: String(round.round), provider: t.provider, err: error }, 'challenge job abandoned: it could not be submitted')
      }
    }
  }

  async function submitTarget(round: Round, t: Target, chainTime: bigint): Promise<void> {
    await parameters.writeBlob(t.job.modelBytes)
    await parameters.writeBlob(t.job.inputBlob)
    reservations.set(t.job.inputHash.toLowerCase(), t.provider.toLowerCase())
    await parameters.allowance.ensure(escrowOfTarget(t))
    const spec = {
      modelHash: t.job.modelHash,
      inputHash: t.job.inputHash,
      units: t.job.units,
      maxPricePerUnit: t.maxPricePerUnit,
      minVramMiB: 0,
      gpuModel: 0,
      regions: [],
      redundancy: 1,
      verification: Verification.Optimistic,
      outputTolerance: t.job.outputTolerance,
      deadline: chainTime + deadlineSeconds,
    }
    const submitted = await transact('submitJob', { address: market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
    t.jobId = parseEventLogs({ abi: jobMarketAbi, logs: submitted.logs, eventName: 'JobSubmitted' })[0]?.args.jobId as bigint
    log.info(
      { round: String(round.round), jobId: String(t.jobId), provider: t.provider, model: t.job.modelName },
      'challenge job submitted',
    )
  }

  async function lastRound(): Promise<bigint> {
    return BigInt((await publicClient.readContract({ address: ledger, abi: challengeLedgerAbi, functionName: 'lastRound' })) as bigint)
  }

  /**
   * Whether the index holds every job the issuer has sent: nothing of the issuer's is pending, and then the index has
   * reached the chain's head. In that order: with nothing pending, every transaction of the issuer's is in a block up
   * to the head read after. Asked before the index is read for the issuer's jobs, so a job missing from that read was
   * never sent.
   */
  async function indexHoldsAllSent(): Promise<boolean> {
    const [latest, pending] = await Promise.all([
      publicClient.getTransactionCount({ address: parameters.issuer, blockTag: 'latest' }),
      publicClient.getTransactionCount({ address: parameters.issuer, blockTag: 'pending' }),
    ])
    if (pending !== latest) return false
    const head = await publicClient.getBlockNumber({ cacheTime: 0 })
    const indexed = await indexedBlock(parameters.views)
    return indexed !== undefined && indexed.blockNumber >= head
  }

  /** The issuer's indexed jobs submitted at `since` or later, with the ids of those recorded and of those challenged. */
  async function issuerJobsSince(since: bigint) {
    const jobs = await findJobsOfRequesterSince(parameters.views, { requester: parameters.issuer, since })
    const ids = jobs.map((j) => j.id.toString())
    const recorded = new Set((await findChallengesByJobIds(parameters.views, ids)).map((c) => c.jobId))
    const challenged = new Set((await findAuditsByJobIds(parameters.views, ids)).filter((a) => a.kind === 'CHALLENGE').map((a) => a.jobId))
    return { jobs, recorded, challenged }
  }

  /**
   * Rebuilds the state from the ledger and the index: when the last round was, and the rounds still unrevealed (the
   * last {@link maxRestoredRounds} at most, newest back to the first revealed one), each with its seed derived again and
   * checked against its commitment, and its targets: the issuer's jobs since the commit whose input the round derives
   * for some provider, and the providers active now without one: those whose delay hasn't come yet, and those whose
   * delay came while no leader ran, once the index shows their job was never sent.
   */
  async function restore(chainTime: bigint): Promise<void> {
    running.length = 0
    lastStart = undefined
    reservations.clear()
    const last = await lastRound()
    const unrevealed: { round: bigint; seed: Hex; committedAt: bigint }[] = []
    for (let round = last; round > 0n && round > last - maxRestoredRounds; round--) {
      const committed = (await publicClient.readContract({
        address: ledger,
        abi: challengeLedgerAbi,
        functionName: 'getRound',
        args: [round],
      })) as { seedHash: Hex; committedAt: bigint; revealed: boolean }
      if (round === last) lastStart = BigInt(committed.committedAt)
      if (committed.revealed) break
      const seed = await parameters.seedOf(round)
      if (seedHashOf(seed).toLowerCase() !== committed.seedHash.toLowerCase()) {
        // Committed by another key (or for another round number): this issuer can never reveal it.
        log.error({ round: String(round) }, 'challenge round: the seed this key derives is not the committed one; it stays unrevealed')
        continue
      }
      unrevealed.unshift({ round, seed, committedAt: BigInt(committed.committedAt) })
    }
    if (!unrevealed.length) return
    const allSentIndexed = await indexHoldsAllSent()
    const { jobs, recorded, challenged } = await issuerJobsSince(unrevealed[0].committedAt)
    const providers = await findAllProviders(parameters.views)
    for (const { round, seed, committedAt } of unrevealed) {
      const byInput = new Map<string, { provider: Address; job: ChallengeJobReturnType }>()
      for (const p of providers) {
        const job = challengeJobOf({ seed, round, provider: p.address })
        byInput.set(job.inputHash.toLowerCase(), { provider: p.address, job })
      }
      const targets: Target[] = []
      /** Providers with a job in the round (recorded or not): they get no other. */
      const found = new Set<string>()
      let alreadyRecorded = 0
      for (const j of jobs) {
        const match = j.submittedAt >= committedAt ? byInput.get(j.inputHash.toLowerCase()) : undefined
        if (!match) continue
        found.add(match.provider.toLowerCase())
        // A recorded target needs nothing more (no answer to compute): the round waits only for the others.
        if (recorded.has(j.id)) {
          alreadyRecorded++
          continue
        }
        reservations.set(match.job.inputHash.toLowerCase(), match.provider.toLowerCase())
        targets.push({
          provider: match.provider,
          maxPricePerUnit: j.maxPricePerUnit,
          job: match.job,
          answer: await answerOf(match.job),
          submitAt: j.submittedAt,
          jobId: j.id,
          challenged: challenged.has(j.id),
        })
      }
      // Targets not yet due can't have been submitted: pick them again among the providers active now. One already due
      // whose job isn't indexed is sent late if the index holds every job the issuer sent (its time came while no
      // leader ran). Otherwise it may have been mined just before the stop, or still be pending: it waits, undecided,
      // until the index holds all that was sent (`decideLate`). Dropped here, it would never be sent, and the round
      // would wait out its give-up time short of a provider.
      const maxPrice = targets[0]?.maxPricePerUnit
      const undecided: Target[] = []
      let pending = 0
      let late = 0
      for (const t of await pickTargets(seed, round, maxPrice)) {
        const submitAt = committedAt + challengeDelayOf({ seed, round, provider: t.provider, spreadSeconds })
        if (found.has(t.provider.toLowerCase())) continue
        const target = { ...t, answer: await answerOf(t.job), submitAt }
        if (submitAt <= chainTime && !allSentIndexed) {
          // Its job, if it was sent, goes to its provider only, like any of the round's.
          reservations.set(t.job.inputHash.toLowerCase(), t.provider.toLowerCase())
          undecided.push(target)
          continue
        }
        if (submitAt <= chainTime) late++
        targets.push(target)
        pending++
      }
      running.push({ round, seed, startedAt: committedAt, targets, undecided })
      log.info(
        {
          round: String(round),
          jobs: targets.length - pending + alreadyRecorded,
          recorded: alreadyRecorded,
          pending,
          late,
          undecided: undecided.length,
        },
        'challenge round restored',
      )
    }
  }

  /**
   * Settles a restored round's undecided targets (`restore`) once the index holds every job the issuer sent: each is
   * followed as the job the index shows for its input, or, with none, sent late. The round waits meanwhile, up to its
   * give-up time, when it is revealed without them.
   */
  async function decideLate(round: Round, chainTime: bigint): Promise<void> {
    if (!round.undecided.length) return
    if (!(await indexHoldsAllSent())) {
      if (chainTime - round.startedAt < giveUpSeconds) return
      for (const t of round.undecided) reservations.delete(t.job.inputHash.toLowerCase())
      log.warn(
        { round: String(round.round), providers: round.undecided.map((t) => t.provider) },
        'challenge targets left out: the index never held every job the issuer sent before the round gave up',
      )
      round.undecided = []
      return
    }
    const { jobs, recorded, challenged } = await issuerJobsSince(round.startedAt)
    let late = 0
    for (const t of round.undecided) {
      const j = jobs.find((j) => j.inputHash.toLowerCase() === t.job.inputHash.toLowerCase())
      if (!j) late++
      round.targets.push(
        j
          ? {
              ...t,
              maxPricePerUnit: j.maxPricePerUnit,
              submitAt: j.submittedAt,
              jobId: j.id,
              challenged: challenged.has(j.id),
              recorded: recorded.has(j.id),
            }
          : t,
      )
    }
    log.info({ round: String(round.round), found: round.undecided.length - late, late }, 'challenge round: due targets decided')
    round.undecided = []
  }

  /** Judges revealed results, challenges wrong ones, records settled jobs and reveals a finished round. */
  async function follow(round: Round, chainTime: bigint): Promise<void> {
    await decideLate(round, chainTime)
    await submitDue(round, chainTime)
    const submitted = round.targets.filter((t) => t.jobId !== undefined && !t.recorded)
    const ids = submitted.map((t) => String(t.jobId))
    // One read of the index per pass for all the round's jobs, not a chain call per job: the index trails the chain,
    // so a job it shows settled has settled.
    const assignments = await findAssignmentsByJobIds(parameters.views, ids)
    const jobs = new Map((await findJobsByIds(parameters.views, ids)).map((job) => [job.id, job]))
    for (const t of submitted) {
      const jobId = t.jobId as bigint
      const job = jobs.get(jobId)
      if (!job) continue
      const mine = assignments.find((a) => a.jobId === jobId && a.provider.toLowerCase() === t.provider.toLowerCase())
      if (t.passed === undefined && mine?.fingerprint && mine.revealedAt !== null) {
        const output = mine.outputHash ? await parameters.readBlob(mine.outputHash) : undefined
        t.passed = challengePassed({ answer: t.answer, fingerprint: mine.fingerprint, output, toleranceBits: t.job.outputTolerance })
        log.info({ round: String(round.round), jobId: String(jobId), provider: t.provider, passed: t.passed }, 'challenge judged')
      }
      if (t.passed === false && !t.challenged && job.status === 'REVEALED') {
        const bond = challengeBondOf({ maxPricePerUnit: t.maxPricePerUnit, units: t.job.units }, deployment.params.market)
        await parameters.allowance.ensure(bond)
        await transact('challenge', { address: market, abi: jobMarketAbi, functionName: 'challenge', args: [jobId] })
        t.challenged = true
        log.info({ jobId: String(jobId), provider: t.provider }, 'challenge job result challenged')
      }
      if (liveStatuses.includes(job.status)) continue
      // Settled: a provider that never revealed failed (JobMarket already slashed the no-show). A challenged result
      // is recorded as the audit judged it, not as the issuer did: fresh providers re-ran it, and a result they agreed
      // with (one whose blob the issuer couldn't read, say) passes. Wait for the index to hold that outcome. A provider
      // the JobMarket slashed (a spot check the issuer didn't start, say) failed whatever the issuer judged: the ledger
      // refuses a pass against that verdict, and slashes the stake of one it confirmed.
      let passed = t.passed ?? false
      if (t.challenged) {
        if (!mine || mine.outcome === 'PENDING') continue
        passed = mine.outcome === 'AGREED'
      } else if (mine?.outcome === 'PENDING') {
        continue
      } else if (mine?.outcome === 'DISSENTED' || mine?.outcome === 'NO_REVEAL') {
        passed = false
      }
      const unitsPerHour =
        passed && mine?.revealedAt != null
          ? unitsPerHourOf({ units: t.job.units, assignedAt: BigInt(mine.assignedAt), revealedAt: BigInt(mine.revealedAt) })
          : 0n
      await transact('record', {
        address: ledger,
        abi: challengeLedgerAbi,
        functionName: 'record',
        args: [round.round, jobId, t.provider, passed, unitsPerHour],
      })
      t.recorded = true
      reservations.delete(t.job.inputHash.toLowerCase())
      log.info(
        { round: String(round.round), jobId: String(jobId), provider: t.provider, passed, unitsPerHour: String(unitsPerHour) },
        'challenge recorded',
      )
    }
    // An abandoned target never got a job: nothing of it to record.
    const done = !round.undecided.length && round.targets.every((t) => t.recorded || t.abandoned)
    if (!done && chainTime - round.startedAt < giveUpSeconds) return
    await transact('revealRound', {
      address: ledger,
      abi: challengeLedgerAbi,
      functionName: 'revealRound',
      args: [round.round, round.seed],
    })
    round.revealed = true
    for (const t of round.targets) reservations.delete(t.job.inputHash.toLowerCase())
    log.info({ round: String(round.round), recorded: round.targets.filter((t) => t.recorded).length }, 'challenge round revealed')
  }

  return {
    /** The provider (lower-case) a job is reserved for: the issuer's own challenge jobs, by their input; undefined for others'. */
    reservedFor(job: { requester: string; inputHash: string }): string | undefined {
      if (job.requester.toLowerCase() !== parameters.issuer.toLowerCase()) return undefined
      // Only the inputs of the rounds this process follows: every other job of the key is a gateway job, matched as usual.
      return reservations.get(job.inputHash.toLowerCase())
    },
    /** One step: rebuild the state when needed, follow the running rounds, and start one when it is due. */
    async tick(chainTime: bigint): Promise<void> {
      if (!restored) {
        await restore(chainTime)
        restored = true
      }
      for (const round of [...running]) {
        await follow(round, chainTime)
        if (round.revealed) running.splice(running.indexOf(round), 1)
      }
      if (lastStart === undefined || epochOf(chainTime) - epochOf(lastStart) >= epochsPerRound) await startRound(chainTime)
    },
    /** Forget the state (after losing leadership another replica may move the round on); the next tick rebuilds it. */
    reset() {
      restored = false
    },
    async close(): Promise<void> {
      await pool?.close()
    },
  }
}
