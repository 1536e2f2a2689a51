import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { Gauge } from 'prom-client'
import type { Account, Chain, PublicClient, Transport, WalletClient } from 'viem'
import { jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { challengeSeedOf } from '../../protocol/challengeJobs.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import type { JobCheck } from '../checkJob.ts'
import type { Database, Views } from '../db/database.ts'
import { gatewayLiabilities, gatewayPartiesOf } from '../db/gateway.ts'
import { createIndexingHealth, type IndexingHealthCheck, type IndexingHealthOptions } from '../indexingHealth.ts'
import { createIndexWatcher, type IndexWatcher } from '../indexWatcher.ts'
import type { ServerMetrics } from '../metrics.ts'
import type { AssignmentPubSub } from '../pubsub.ts'
import type { defaultBatchSize } from './batches.ts'
import { type ChallengeIssuerOptions, createChallengeIssuer, type WriteBlob } from './challengeIssuer.ts'
import { createChangeFeed } from './changeFeed.ts'
import { createDisagreementProver, type ReadBlob } from './disagreementProver.ts'
import { createGatewayRelay } from './gatewayRelay.ts'
import { createIndexingGate } from './indexingGate.ts'
import type { VettedSpec } from './jobVetting.ts'
import { createKeeper } from './keeper.ts'
import { createLeaderLock } from './leaderLock.ts'
import { type AssignMeta, createMatcher } from './matcher.ts'
import { createAllowance } from './transact.ts'
import { createTransactionSender } from './transactionSender.ts'

export type StartLeaderParameters = {
  databaseUrl: string
  db: Kysely<Database>
  views: Views
  deployment: Deployment
  publicClient: PublicClient
  /** Without a wallet (no server key) only the change feed runs. */
  walletClient?: WalletClient<Transport, Chain, Account>
  pubsub: AssignmentPubSub
  log: Logger
  metrics?: ServerMetrics
  /** Change-feed poll interval (default 250 ms). */
  feedIntervalMs?: number
  /** Matcher and keeper interval (default 1000 ms). */
  chainIntervalMs?: number
  /** How often the indexed head is read; each move wakes every loop at once (default 50 ms). */
  headIntervalMs?: number
  /** The process's index watcher, to share its head reads (the server's); without it the leader reads its own. */
  indexWatcher?: IndexWatcher
  now?: () => number
  /** Vets jobs before the matcher assigns them (see `createJobVetting`); without it only stored blobs are required. */
  vet?: (spec: VettedSpec) => Promise<JobCheck>
  /**
   * Judges whether the indexed data is fresh enough for the matcher and keeper to act on (they pause while it isn't).
   * Pass `createYoga(…).indexing` to share what `/ready` sees; by default the leader watches on its own.
   */
  indexing?: IndexingHealthCheck
  /** Thresholds for the leader's own watch when `indexing` isn't given. */
  indexingOptions?: IndexingHealthOptions
  /** Blocks deep the transaction sender watches its transactions (see `createTransactionSender`; default 12). */
  confirmations?: number
  /** Reads output blobs, so the keeper can prove disagreements under tolerance (`createDisagreementProver`). */
  readBlob?: ReadBlob
  /** Stores blobs in the server's store: the challenge issuer puts its jobs' models and inputs there. */
  writeBlob?: WriteBlob
  /**
   * Issue known-answer challenge jobs to every active provider (`createChallengeIssuer`; needs the wallet, `readBlob`
   * and `writeBlob`, and the key's ISSUER_ROLE on ChallengeLedger). Off by default.
   */
  challenges?: ChallengeIssuerOptions
  /** Most jobs the matcher and keeper put in one transaction (default {@link defaultBatchSize}; 1: one per job). */
  batchSize?: number
  /** One pass of the blob sweep (`sweepBlobs`), run every `sweepIntervalMs` while leading and the index is fresh. */
  sweepBlobs?: () => Promise<void>
  /** Default 60 s. */
  sweepIntervalMs?: number
}

/**
 * Competes for the leader lock and, while holding it, runs the change feed, the matcher and the
 * keeper each time the indexer processes a block, and on their own timers besides. The matcher and keeper skip their ticks while the indexed data is
 * stale (`createIndexingGate`). Every error is logged and the task retried on its next tick; the
 * loops never throw. `stop()` ends the loops and releases the lock.
 */
export function startLeader(parameters: StartLeaderParameters): { stop: () => Promise<void>; isLeader: () => boolean } {
  const { log, metrics, deployment } = parameters
  const lockName = `tessera-leader:${deployment.chainId}:${deployment.contracts.JobMarket.address.toLowerCase()}`
  const lock = createLeaderLock({
    databaseUrl: parameters.databaseUrl,
    name: lockName,
    onLost: (error) => log.warn({ err: error }, 'leader lock lost'),
  })
  const market = deployment.contracts.JobMarket
  const feed = createChangeFeed({
    db: parameters.db,
    views: parameters.views,
    pubsub: parameters.pubsub,
    log,
    metrics,
    // The deploy block's hash tells two chains apart even when they share a chain id and addresses.
    resolveFeedName: async () => {
      const block = await parameters.publicClient.getBlock({ blockNumber: BigInt(market.blockNumber) })
      return `assignments:${deployment.chainId}:${market.address.toLowerCase()}:${block.hash}`
    },
  })
  const wallet = parameters.walletClient
  const sender = wallet
    ? createTransactionSender<AssignMeta>({
        publicClient: parameters.publicClient,
        walletClient: wallet,
        log,
        metrics,
        confirmations: parameters.confirmations,
      })
    : undefined
  const now = parameters.now ?? (() => Date.now() / 1000)
  const gatewayParties = gatewayPartiesOf(deployment)
  const allowance =
    sender &&
    wallet &&
    createAllowance({
      sender,
      publicClient: parameters.publicClient,
      token: deployment.contracts.TesseraToken.address,
      owner: wallet.account.address,
      spender: market.address,
    })
  const relay =
    sender &&
    allowance &&
    createGatewayRelay({
      db: parameters.db,
      views: parameters.views,
      deployment,
      publicClient: parameters.publicClient,
      sender,
      allowance,
      log: log.child({ task: 'gateway' }),
    })
  /** What the key holds beyond the gateway's debts to its accounts: its TSR and its JobMarket credit. */
  const spendable = async () => {
    const key = gatewayParties.gateway
    const [held, owed, debts] = await Promise.all([
      parameters.publicClient.readContract({
        address: deployment.contracts.TesseraToken.address,
        abi: tesseraTokenAbi,
        functionName: 'balanceOf',
        args: [key],
      }),
      parameters.publicClient.readContract({ address: market.address, abi: jobMarketAbi, functionName: 'owed', args: [key] }),
      gatewayLiabilities(parameters.db, parameters.views, gatewayParties),
    ])
    return (held as bigint) + (owed as bigint) - debts
  }
  const issuer =
    sender && wallet && allowance && parameters.challenges && parameters.readBlob && parameters.writeBlob
      ? createChallengeIssuer({
          db: parameters.db,
          views: parameters.views,
          deployment,
          publicClient: parameters.publicClient,
          sender,
          issuer: wallet.account.address,
          readBlob: parameters.readBlob,
          writeBlob: parameters.writeBlob,
          log: log.child({ task: 'challenges' }),
          seedOf: (round) =>
            challengeSeedOf({
              chainId: deployment.chainId,
              ledger: deployment.contracts.ChallengeLedger.address,
              round,
              sign: (message) => wallet.signMessage({ account: wallet.account, message }),
            }),
          allowance,
          spendable,
          now,
          options: parameters.challenges,
        })
      : undefined
  const matcher = sender
    ? createMatcher({
        db: parameters.db,
        views: parameters.views,
        deployment,
        sender,
        log,
        now,
        vet: parameters.vet,
        reservedFor: issuer?.reservedFor,
        batchSize: parameters.batchSize,
      })
    : undefined
  const keeper = sender
    ? createKeeper({
        views: parameters.views,
        publicClient: parameters.publicClient,
        deployment,
        sender,
        log,
        batchSize: parameters.batchSize,
        prover:
          parameters.readBlob &&
          createDisagreementProver({
            views: parameters.views,
            publicClient: parameters.publicClient,
            deployment,
            sender,
            readBlob: parameters.readBlob,
            log,
          }),
      })
    : undefined
  if (!wallet) log.warn('no server key: the matcher and keeper are off, only the change feed runs')
  const indexing =
    parameters.indexing ??
    createIndexingHealth({
      views: parameters.views,
      chainId: deployment.chainId,
      publicClient: parameters.publicClient,
      options: parameters.indexingOptions,
    })
  const pausedGauge = metrics && leaderPausedGauge(metrics)
  const gate = createIndexingGate({ health: indexing, log, paused: pausedGauge })

  let stopped = false
  let wasLeader = false
  const timers = new Map<string, NodeJS.Timeout>()
  const running = new Set<Promise<unknown>>()

  const isLeader = async () => {
    const held = await lock.acquire()
    if (held !== wasLeader) {
      wasLeader = held
      metrics?.leader.set(held ? 1 : 0)
      if (held) log.info({ lock: lockName }, 'became leader')
      else {
        log.info('not leader')
        feed.reset()
        issuer?.reset()
        relay?.reset()
      }
    }
    return held
  }

  const failed = (task: string, error: unknown) => {
    metrics?.leaderTickErrors.inc({ task })
    log.warn({ task, err: error }, 'leader task failed; retrying next tick')
  }

  /** What starts a loop's next pass now instead of at its timer, by loop. */
  const wakers = new Map<string, () => void>()

  /**
   * Runs `task` every `ms`, and at once when woken (`wakers`; not with `onHead: false`), never overlapping itself, never
   * throwing. A wake while it runs starts the next pass as soon as this one ends: wakes coalesce, none is lost.
   */
  const every = (name: string, ms: number, task: () => Promise<void>, options: { onHead?: boolean } = {}) => {
    let busy = false
    let woken = false
    const run = async () => {
      if (stopped) return
      if (busy) {
        woken = true
        return
      }
      clearTimeout(timers.get(name))
      busy = true
      const p = task().catch((error: unknown) => failed(name, error))
      running.add(p)
      await p
      running.delete(p)
      busy = false
      if (stopped) return
      timers.set(name, setTimeout(run, woken ? 0 : ms))
      woken = false
    }
    if (options.onHead ?? true) wakers.set(name, run)
    timers.set(name, setTimeout(run, 0))
  }

  let lockCheck: Promise<boolean> | undefined
  // Feed and chain loops share one lock probe per round trip.
  const leading = () => (lockCheck ??= isLeader().finally(() => setTimeout(() => (lockCheck = undefined), 200)))

  every('feed', parameters.feedIntervalMs ?? 250, async () => {
    if (await leading()) await feed.tick()
  })
  if (matcher && keeper) {
    // The matcher and the keeper in loops of their own, their sends taking turns at the one sender: a backlog of
    // assigns never holds up the finalizes that free providers' collateral for the next ones, nor the other way round.
    const chainLoop = (name: string, tick: (block: { timestamp: bigint; number: bigint }) => Promise<unknown>) =>
      every(name, parameters.chainIntervalMs ?? 1000, async () => {
        if (!(await leading())) return
        // Re-send what a reorg dropped even while the index is stale: the chain, not the index, says it vanished.
        await sender?.reconcile()
        if (!(await gate.open())) return
        await tick(await parameters.publicClient.getBlock({ blockTag: 'latest' }))
      })
    chainLoop('matcher', (block) => matcher.tick(block.timestamp))
    chainLoop('keeper', (block) => keeper.tick(block.timestamp, block.number))
  }

  if (relay) {
    // Its own loop too: each request waits for its receipt.
    every('gateway', parameters.chainIntervalMs ?? 1000, async () => {
      if (await leading()) await relay.tick()
    })
  }

  if (issuer) {
    // Its own loop: a round's transactions wait for their receipts, which must not hold up the matcher and keeper.
    every('challenges', parameters.chainIntervalMs ?? 1000, async () => {
      if (!(await leading()) || !(await gate.open())) return
      const block = await parameters.publicClient.getBlock({ blockTag: 'latest' })
      await issuer.tick(block.timestamp)
    })
  }

  const { sweepBlobs } = parameters
  if (sweepBlobs) {
    // On its timer only: blobs expire in hours, not blocks. A stale index must not decide that nothing uses a blob.
    every(
      'blobs',
      parameters.sweepIntervalMs ?? 60_000,
      async () => {
        if ((await leading()) && (await gate.open())) await sweepBlobs()
      },
      { onHead: false },
    )
  }

  // Driven by the index: each block the indexer processes wakes every loop, so the feed publishes and the matcher and
  // keeper act within one head read of it; their timers remain for what needs no block (deadlines on a quiet chain).
  const watcher =
    parameters.indexWatcher ?? createIndexWatcher({ views: parameters.views, log, intervalMs: parameters.headIntervalMs ?? 50 })
  const heads = watcher.heads()
  void (async () => {
    for await (const _head of heads) for (const wake of wakers.values()) wake()
  })()

  return {
    isLeader: () => lock.held(),
    async stop() {
      stopped = true
      heads.close()
      for (const t of timers.values()) clearTimeout(t)
      await Promise.allSettled([...running])
      await issuer?.close()
      await lock.release()
      metrics?.leader.set(0)
      pausedGauge?.set(0)
    },
  }
}

/**
 * `tessera_server_leader_paused`: 1 while stale indexing pauses the matcher and keeper. Registered on the server's
 * registry here, once per registry, as `createMetrics` doesn't declare it.
 */
function leaderPausedGauge(metrics: ServerMetrics): Gauge {
  const name = 'tessera_server_leader_paused'
  const existing = metrics.registry.getSingleMetric(name)
  if (existing instanceof Gauge) return existing
  return new Gauge({ name, help: '1 while stale indexed data pauses the matcher and keeper', registers: [metrics.registry] })
}
