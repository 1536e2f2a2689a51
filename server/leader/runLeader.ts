import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { Hex } from 'viem'
import type { Deployment } from '../../protocol/deployment.ts'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { createBlobStore } from '../blobs/blobStore.ts'
import { defaultBlobTtlSeconds, sweepBlobs } from '../blobs/sweepBlobs.ts'
import { checkJob, createModelInspector } from '../checkJob.ts'
import { createDb } from '../db/createDb.ts'
import { createIndexWatcher } from '../indexWatcher.ts'
import type { ServerMetrics } from '../metrics.ts'
import { connectAssignmentPubSub } from '../pubsub.ts'
import { createChainClients } from './chainClients.ts'
import type { ChallengeIssuerOptions } from './challengeIssuer.ts'
import { createJobVetting } from './jobVetting.ts'
import { startLeader } from './startLeader.ts'

/** What a leader needs to run on its own, all of it plain data (it crosses into the leader's worker thread). */
export type LeaderSettings = {
  databaseUrl: string
  viewsSchema: string
  rpcUrl: string
  deployment: Deployment
  /** The matcher/keeper key; without it only the change feed runs. */
  serverKey?: Hex
  /** Blobs live under `<dataDir>/blobs/` (the server's store). */
  dataDir: string
  redisUrl?: string
  maxBlobBytes?: number
  /** Small blobs' bytes the leader's blob store keeps in memory (default `defaultBlobMemoryBytes`). */
  blobMemoryBytes?: number
  /** Seconds an unreferenced blob is kept after its last upload (default `defaultBlobTtlSeconds`, a day). */
  blobTtlSeconds?: number
  confirmations?: number
  challenges?: ChallengeIssuerOptions
  batchSize?: number
}

/** The event bus scope every replica of a deployment shares: its chain and JobMarket. */
export const busScopeOf = (deployment: Deployment): string =>
  `${deployment.chainId}:${deployment.contracts.JobMarket.address.toLowerCase()}`

/**
 * Runs the leader with connections of its own: a database pool, a session on the deployment's event bus, chain
 * clients, the blob store over the server's folder, a model inspector to vet jobs, and an index watcher. What the
 * leader's worker thread runs (`leaderWorker.ts`), apart from the server's request loop. `stop()` ends it all.
 */
export async function runLeader(settings: LeaderSettings, parameters: { log: Logger; metrics: ServerMetrics }) {
  const { log, metrics } = parameters
  const { deployment } = settings
  const { db, pool } = createDb({ databaseUrl: settings.databaseUrl })
  const pubsub = await connectAssignmentPubSub({
    databaseUrl: settings.databaseUrl,
    redisUrl: settings.redisUrl,
    scope: busScopeOf(deployment),
    log,
  }).catch(async (error: unknown) => {
    await db.destroy()
    throw error
  })
  const { publicClient, walletClient } = createChainClients({
    rpcUrl: settings.rpcUrl,
    chainId: deployment.chainId,
    serverKey: settings.serverKey,
  })
  const views = db.withSchema(settings.viewsSchema)
  const blobs = createBlobStore({ db, dataDir: settings.dataDir, maxBytes: settings.maxBlobBytes, memoryBytes: settings.blobMemoryBytes })
  const inspector = createModelInspector()
  const indexWatcher = createIndexWatcher({ views, log, intervalMs: 50 })
  const leader = startLeader({
    databaseUrl: settings.databaseUrl,
    db,
    views,
    indexWatcher,
    deployment,
    publicClient,
    walletClient,
    pubsub,
    log,
    metrics,
    confirmations: settings.confirmations,
    batchSize: settings.batchSize,
    challenges: settings.challenges,
    readBlob: async (hash) => {
      const blob = await blobs.get(hash)
      return blob && (blob.data ?? new Uint8Array(await readFile(blob.file)))
    },
    writeBlob: async (bytes) => {
      await blobs.put(
        (async function* () {
          yield bytes
        })(),
        { expectedSha256: sha256Hex(bytes) },
      )
    },
    sweepBlobs: async () => {
      const swept = await sweepBlobs({
        db,
        views,
        store: blobs,
        ttlSeconds: settings.blobTtlSeconds ?? defaultBlobTtlSeconds,
        now: new Date(),
      })
      if (swept.deleted.length || swept.referenced) log.info({ deleted: swept.deleted.length, referenced: swept.referenced }, 'blob sweep')
    },
    vet: createJobVetting((spec) =>
      checkJob({ blobs, inspector, spec: { modelHash: spec.modelHash as Hex, inputHash: spec.inputHash as Hex, units: spec.units } }),
    ),
  })
  return {
    ...leader,
    async stop() {
      await leader.stop()
      await pubsub.close()
      await inspector.close()
      await db.destroy().catch(() => pool.end())
    },
  }
}
