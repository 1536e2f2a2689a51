import type { Logger } from 'pino'
import type { Views } from './db/database.ts'
import { findEpochRange, type IndexedEpoch, latestEpoch } from './db/epochs.ts'
import { indexedBlock } from './db/indexedBlock.ts'
import { findJobsByIds, type IndexedJob } from './db/jobs.ts'
import { createFanout, type Subscription } from './fanout.ts'

/** The last block the indexer processed. */
export type IndexHead = { blockNumber: bigint; timestamp: bigint }

/** How often the watcher reads the indexed head while anyone subscribes: one small query per process, not per subscriber. */
export const defaultWatchIntervalMs = 100
/** Jobs read per query when the head moves. */
const jobBatch = 1000
/** Epochs published per head at most; a subscriber further behind replays the rest with `after`. */
const epochBatch = 500n

/**
 * Follows what the indexer writes, for this process's subscribers: the indexed head (`heads`), the jobs subscribers
 * watch (`job`), and epochs as they close (`epochs`). It reads the head every `intervalMs` while anyone subscribes and
 * nothing otherwise; when the head moves it reads every watched job in one query per {@link jobBatch} and the epochs
 * closed since, and hands each changed value to all its subscribers as one object. So a thousand subscribers of a job
 * cost the same queries as one.
 *
 * A job's subscribers get its current state first, then each change. A reorganisation that moves the head back is a
 * move like any other: jobs are compared by content, so one that changes back is published again. Epochs closed and
 * then reorganised away are not retracted.
 */
export function createIndexWatcher(parameters: { views: Views; log?: Logger; intervalMs?: number }) {
  const { views, log } = parameters
  const intervalMs = parameters.intervalMs ?? defaultWatchIntervalMs
  const heads = createFanout<'head', IndexHead>({ maxQueued: 1, overflow: 'latest', onEmpty: () => stopIfIdle() })
  const jobs = createFanout<string, IndexedJob>({
    maxQueued: 1,
    overflow: 'latest',
    onEmpty: (id) => {
      seen.delete(id)
      stopIfIdle()
    },
  })
  const epochs = createFanout<'epoch', IndexedEpoch>({ maxQueued: 1000, overflow: 'oldest', onEmpty: () => stopIfIdle() })
  /** Each watched job as last published, by a fingerprint of its row. */
  const seen = new Map<string, { signature: string; job: IndexedJob }>()
  /** Watched jobs not read yet: read at the next tick even if the head stays. */
  const fresh = new Set<string>()
  let head: IndexHead | undefined
  let lastEpoch: bigint | undefined
  let timer: NodeJS.Timeout | undefined
  let running = false

  const idle = () => heads.size === 0 && jobs.size === 0 && epochs.size === 0
  function stopIfIdle() {
    if (!idle()) return
    clearTimeout(timer)
    timer = undefined
    head = undefined
    lastEpoch = undefined
  }
  function start() {
    if (timer || running) return
    timer = setTimeout(run, 0)
    timer.unref()
  }
  async function run() {
    timer = undefined
    running = true
    try {
      await tick()
    } catch (error) {
      log?.warn({ err: error }, 'index watcher: reading the index failed; retrying')
    } finally {
      running = false
      if (!idle()) {
        timer = setTimeout(run, intervalMs)
        timer.unref()
      }
    }
  }

  async function tick() {
    const now = await indexedBlock(views)
    const moved = !!now && (now.blockNumber !== head?.blockNumber || now.timestamp !== head?.timestamp)
    if (now && moved) {
      head = now
      heads.publish('head', now)
    }
    const ids = moved ? jobs.keys() : [...fresh]
    fresh.clear()
    for (let i = 0; i < ids.length; i += jobBatch) {
      for (const job of await findJobsByIds(views, ids.slice(i, i + jobBatch))) {
        const id = job.id.toString()
        const signature = JSON.stringify(job, (_key, v) => (typeof v === 'bigint' ? v.toString() : v))
        if (seen.get(id)?.signature === signature) continue
        seen.set(id, { signature, job })
        jobs.publish(id, job)
      }
    }
    if (epochs.size && (moved || lastEpoch === undefined)) await publishEpochs()
  }

  async function publishEpochs() {
    const latest = await latestEpoch(views)
    if (latest === undefined) {
      lastEpoch = -1n
      return
    }
    if (lastEpoch === undefined || latest < lastEpoch) {
      // Watching starts now (or after a reorganisation): later epochs are the news.
      lastEpoch = latest
      return
    }
    if (latest === lastEpoch) return
    const to = latest - lastEpoch > epochBatch ? lastEpoch + epochBatch : latest
    for (const epoch of await findEpochRange(views, lastEpoch + 1n, to)) epochs.publish('epoch', epoch)
    lastEpoch = to
  }

  return {
    /** The indexed head now (read if nobody watches), then each time it moves. */
    heads(): Subscription<IndexHead> {
      const subscription = heads.subscribe('head', head)
      start()
      return subscription
    },
    /** Job `id` as indexed now (once it is), then each time its row changes. */
    job(id: bigint): Subscription<IndexedJob> {
      const key = id.toString()
      const known = seen.get(key)
      const subscription = jobs.subscribe(key, known?.job)
      if (!known) fresh.add(key)
      start()
      return subscription
    },
    /** Epochs as they close, from the next one on. */
    epochs(): Subscription<IndexedEpoch> {
      const subscription = epochs.subscribe('epoch')
      start()
      return subscription
    },
    /** The last head read, if anyone watches. */
    head: () => head,
  }
}

export type IndexWatcher = ReturnType<typeof createIndexWatcher>
