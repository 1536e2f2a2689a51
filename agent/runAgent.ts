import { setMaxListeners } from 'node:events'
import pino, { type Logger } from 'pino'
import type { Address, Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { BlobCredentials } from '../client/blobAuth.ts'
import { BlobSession } from '../client/blobSession.ts'
import { getBlob } from '../client/serverClient.ts'
import type { JobAssignment } from '../client/subscribeJobAssignments.ts'
import type { Hardware } from '../protocol/hardware.ts'
import { logSerializers } from '../protocol/logSerializers.ts'
import { startAgentHttp } from './agentHttp.ts'
import { createAgentMetrics } from './agentMetrics.ts'
import { assignmentLoop } from './assignmentLoop.ts'
import { chainAssignmentWatch } from './chainAssignmentWatch.ts'
import { claimLoop } from './claimLoop.ts'
import { CursorTracker } from './cursorTracker.ts'
import { AgentSetupError } from './ensureProvider.ts'
import { heartbeatLoop } from './heartbeatLoop.ts'
import { createJobChangeWatch } from './jobChangeWatch.ts'
import { JobScheduler } from './jobScheduler.ts'
import { followEntry, type JobContext, processAssignment } from './jobWorkflow.ts'
import { maintenanceLoop } from './maintenanceLoop.ts'
import { ModelCache } from './modelCache.ts'
import { openingRequestWatch } from './openingRequestWatch.ts'
import { createOutputStore } from './outputStore.ts'
import { payoutLoop } from './payoutLoop.ts'
import { resumeJournal } from './resumeJournal.ts'
import { setupAgent } from './setupAgent.ts'

export type RunAgentParameters = {
  /** The provider's key: it registers, stakes, signs heartbeats and sends commits and reveals. */
  privateKey: Hex
  serverUrl: string
  rpcUrl: string
  /** Model cache and commit–reveal journal. One per provider key. */
  dataDir: string
  /** Ask per unit, TSR wei. */
  pricePerUnit: bigint
  /** Stake to hold, TSR wei; default the registry's minStake × 10. */
  stake?: bigint
  /** Overrides for detected hardware (flags), e.g. `vramMiB` on a CPU machine or a fixed `benchmarkScore`. */
  hardware?: Partial<Hardware>
  /** Region label (≤ 32 bytes) or a 0x bytes32. */
  region?: string
  /**
   * Corrupt outputs far above the tolerance (tests and demos the verification): on every job (`true`, or 1) or on a
   * fraction of them (a rate in [0, 1]).
   */
  lie?: boolean | number
  log?: Logger
  /** Aborting it stops the agent, as `stop()` does. */
  signal?: AbortSignal
  /** Serve `/health`, `/ready`, `/metrics` on this port (0: any free one). Off when absent. */
  httpPort?: number
  /** Default 10 000. */
  heartbeatIntervalMs?: number
  /** How often a job in flight re-reads its status on chain. Default 1000. */
  pollIntervalMs?: number
  /**
   * How often the head is read while anything waits for a new block, which the chain watch always does: each block it
   * shows is read for assignments, the receipts of the agent's transactions and the rounds of its jobs. Default 250, or
   * `pollIntervalMs` when lower. On a chain with 12-second blocks, 1 000 costs a quarter of the reads and at most a
   * second of each step.
   */
  headIntervalMs?: number
  /**
   * Blocks deep (1: the block itself) a commit, reveal or settlement must be before the journal counts it; until
   * then a reorg may take it and the agent sends it again. Pick it above the deepest reorg the chain may have. Default 2.
   */
  confirmations?: number
  /**
   * Milliseconds before an assignment's commit deadline by which its inference must be done, kept to get the commit
   * mined; an inference not done by then is committed as a TIMEOUT failure. Default 20 000.
   */
  commitMarginMs?: number
  /** The longest a reveal waits for its output's upload, which goes on meanwhile. Default 15 000. */
  uploadWaitMs?: number
  /** Inference worker threads. Default 1. */
  inferenceWorkers?: number
  /** How long to keep trying to reach the server for the deployment at start. Default 60 000. */
  startupTimeoutMs?: number
  /** How often to re-check registration and top the stake back up (after a slash, say). Default 60 000. */
  maintenanceIntervalMs?: number
  /**
   * Claim (`claimJob`) jobs the matcher left waiting longer than JobMarket's `claimGrace`, so work goes on while the
   * matcher is down. Default true: the grace gives the matcher priority, and a claimed job pays fees as usual (it
   * earns no usage emissions). A claim locks collateral like an assignment.
   */
  claimJobs?: boolean
  /** How often to look for jobs to claim. Default 15 000. */
  claimIntervalMs?: number
  /**
   * How often to read the last 256 blocks for this provider's assignments straight from the chain
   * (`chainAssignmentWatch`, which also reads each new block as the head shows it), besides the server's subscription:
   * quicker than the index, and a server or index that is down or behind can't make it miss one. Default 5 000; 0: off
   * (the subscription alone).
   */
  chainWatchIntervalMs?: number
  /**
   * How often to pay the provider out: claim its emission rewards of closed epochs (`EmissionController.claim`) and
   * withdraw its JobMarket earnings (`withdraw`), at low priority behind commits and reveals. Absent or 0: never (the
   * rewards and earnings wait on chain); `tessera agent` and `tessera dev` default to 60 000.
   */
  payoutIntervalMs?: number
  /** Smallest JobMarket balance a payout withdraws, TSR wei: dust waits until it grows. Default 0: any positive balance. */
  minWithdraw?: bigint
  /**
   * Send commits and reveals many per transaction, the provider's account delegated (EIP-7702) to the deployment's
   * ProviderBatcher. Default true; false: each its own transaction, the account left as it is.
   */
  batchCalls?: boolean
}

export type RunAgentReturnType = {
  address: Address
  hardware: Hardware
  /** Base URL of `/health`, `/ready`, `/metrics` when `httpPort` was given. */
  httpUrl?: string
  /** Stops subscribing and heartbeating, lets jobs in flight reach a safe point, closes the pool and journal. */
  stop: () => Promise<void>
}

/**
 * Runs a provider agent: sets it up (`setupAgent`: deployment, chain, journal, hardware, registration and stake),
 * resumes unfinished journal entries, then runs its loops until stopped: heartbeats, provider maintenance, the
 * assignment subscription, whose assignments the per-job scheduler hands to `processAssignment` (compute, journal,
 * commit, reveal, settle), the chain's own record of its assignments (a fallback for the subscription), and
 * (`claimJobs`) claims of jobs the matcher left waiting, whose assignments go the same way, and (`payoutIntervalMs`)
 * payouts of emission rewards and earnings. A restart resumes the journal and replays assignments after its cursor.
 */
export async function runAgent(parameters: RunAgentParameters): Promise<RunAgentReturnType> {
  const account = privateKeyToAccount(parameters.privateKey)
  const address = account.address
  const log = (parameters.log ?? pino({ name: 'tessera-agent', serializers: logSerializers })).child({ provider: address })
  if (parameters.signal?.aborted) throw new AgentSetupError('aborted before start')
  const controller = new AbortController()
  const { signal } = controller
  // Every job in flight waits on this signal: many listeners are expected, not a leak.
  setMaxListeners(0, signal)
  const metrics = createAgentMetrics()
  const scheduler = new JobScheduler({ log, onSizeChange: (size) => metrics.activeJobs.set(size) })
  const cleanups: (() => Promise<void>)[] = []
  const loops: Promise<void>[] = []
  let ready = false
  let subscribed = false
  let stopping: Promise<void> | undefined

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      controller.abort()
      parameters.signal?.removeEventListener('abort', onOuterAbort)
      await Promise.allSettled(loops)
      await scheduler.settled()
      for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => log.warn({ err: error }, 'cleanup failed'))
      metrics.subscriptionConnected.set(0)
      log.info('agent stopped')
    })()
    return stopping
  }
  const onOuterAbort = () => void stop()
  parameters.signal?.addEventListener('abort', onOuterAbort, { once: true })

  try {
    const setup = await setupAgent({ ...parameters, account, log, metrics, signal, defer: (cleanup) => cleanups.push(cleanup) })
    const { journal } = setup

    let httpUrl: string | undefined
    if (parameters.httpPort !== undefined) {
      const http = await startAgentHttp({
        port: parameters.httpPort,
        registry: metrics.registry,
        ready: () => ready && subscribed,
        status: () => ({ provider: address, subscribed, activeJobs: scheduler.size }),
      })
      cleanups.push(http.close)
      httpUrl = http.url
    }

    const outputs = createOutputStore(parameters.dataDir)
    // The provider's session (signed in with its key) authenticates its blob requests: the server lets it read the
    // inputs and models of jobs it is assigned. One signature a day rather than one per request on each side.
    const credentials: BlobCredentials = {
      session: new BlobSession({
        serverUrl: parameters.serverUrl,
        account,
        chainId: setup.deployment.chainId,
        onSignInFailed: (error) => log.warn({ err: error }, 'no blob session: signing each blob request for a minute'),
        signal,
      }),
    }
    const { heads } = setup
    const ctx: JobContext = {
      provider: address,
      serverUrl: parameters.serverUrl,
      credentials,
      jobMarket: setup.deployment.contracts.JobMarket.address,
      publicClient: setup.publicClient,
      sender: setup.sender,
      calls: setup.calls,
      journal,
      pool: setup.pool,
      models: new ModelCache({ dataDir: parameters.dataDir, serverUrl: parameters.serverUrl, credentials }),
      metrics,
      log,
      lie: parameters.lie ?? false,
      pollIntervalMs: parameters.pollIntervalMs ?? 1000,
      heads,
      changes: createJobChangeWatch({ heads, publicClient: setup.publicClient, jobMarket: setup.deployment.contracts.JobMarket.address }),
      idleWaitMs: 10 * (parameters.pollIntervalMs ?? 1000),
      confirmations: parameters.confirmations ?? 2,
      commitMarginMs: parameters.commitMarginMs ?? 20_000,
      saveOutput: outputs.save,
      readOutput: outputs.read,
      uploads: new Map(),
      uploadWaitMs: parameters.uploadWaitMs ?? 15_000,
      signal,
    }
    resumeJournal({ journal, scheduler, follow: (entry) => followEntry(ctx, entry), log })
    const common = { log, signal }
    // Assignments that come from the chain rather than the subscription: the journal recognises one already in hand.
    const startFromChain = (assignment: JobAssignment) =>
      void scheduler.schedule(assignment.jobId, () => processAssignment(ctx, assignment, () => {}))
    const chainWatchIntervalMs = parameters.chainWatchIntervalMs ?? 5_000
    if (chainWatchIntervalMs > 0)
      loops.push(
        chainAssignmentWatch({
          ...common,
          provider: address,
          jobMarket: ctx.jobMarket,
          publicClient: setup.publicClient,
          intervalMs: chainWatchIntervalMs,
          lookbackBlocks: 256n,
          onAssigned: startFromChain,
          metrics,
          heads,
        }),
      )
    if (chainWatchIntervalMs > 0)
      loops.push(
        openingRequestWatch({
          ...common,
          provider: address,
          jobMarket: ctx.jobMarket,
          publicClient: setup.publicClient,
          sender: setup.sender,
          readOutput: async (hash) =>
            (await outputs.read(hash)) ?? getBlob({ serverUrl: parameters.serverUrl, hash, credentials, signal }).catch(() => undefined),
          intervalMs: chainWatchIntervalMs,
          lookbackBlocks: 256n,
        }),
      )
    if (parameters.claimJobs ?? true)
      loops.push(
        claimLoop({
          ...common,
          serverUrl: parameters.serverUrl,
          provider: address,
          jobMarket: ctx.jobMarket,
          publicClient: setup.publicClient,
          sender: setup.sender,
          claimGrace: setup.deployment.params.market.claimGrace,
          pricePerUnit: parameters.pricePerUnit,
          intervalMs: parameters.claimIntervalMs ?? 15_000,
          maxClaimsPerTick: 2,
          onAssigned: startFromChain,
          metrics,
        }),
      )
    const payoutIntervalMs = parameters.payoutIntervalMs ?? 0
    if (payoutIntervalMs > 0)
      loops.push(
        payoutLoop({
          ...common,
          provider: address,
          emissionController: setup.deployment.contracts.EmissionController.address,
          jobMarket: ctx.jobMarket,
          publicClient: setup.publicClient,
          sender: setup.sender,
          journal,
          confirmations: ctx.confirmations,
          minWithdraw: parameters.minWithdraw ?? 0n,
          intervalMs: payoutIntervalMs,
          maxEpochsPerTick: 64,
          metrics,
        }),
      )
    loops.push(
      heartbeatLoop({
        ...common,
        serverUrl: parameters.serverUrl,
        chainId: setup.deployment.chainId,
        account,
        intervalMs: parameters.heartbeatIntervalMs ?? 10_000,
        // What the cache verified is on disk: the matcher prefers this provider for jobs of those models.
        models: () => ctx.models.held(),
        metrics,
      }),
      maintenanceLoop({ ...common, ensure: setup.ensure, intervalMs: parameters.maintenanceIntervalMs ?? 60_000 }),
      assignmentLoop({
        ...common,
        serverUrl: parameters.serverUrl,
        provider: address,
        cursors: new CursorTracker(journal, log),
        scheduler,
        handle: (assignment, settle) => processAssignment(ctx, assignment, settle),
        onConnection: (connected) => {
          subscribed = connected
        },
        metrics,
      }),
    )
    ready = true
    log.info({ httpUrl, pricePerUnit: parameters.pricePerUnit.toString(), lie: parameters.lie || undefined }, 'agent running')
    return { address, hardware: setup.hardware, httpUrl, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
