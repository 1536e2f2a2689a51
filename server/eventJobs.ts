import DataLoader from 'dataloader'
import type { Views } from './db/database.ts'
import { findJobsByIds, type IndexedJob } from './db/jobs.ts'

/** The job of an event a subscription delivers, loaded once for all the subscribers the event reaches. */
export type EventJobs = (event: { jobId: bigint }) => Promise<IndexedJob | null>

/**
 * Loads the job an event names once per event, not once per subscriber. The bus hands every subscriber of this process
 * the same event object, so the load is kept beside the object (a WeakMap: it goes when the event does), and the loads
 * asked for in one tick, whichever events and subscribers they come from, are one query to Postgres. A failed load is
 * forgotten, so the next subscriber to ask tries again.
 */
export function createEventJobs(views: Views): EventJobs {
  const loader = new DataLoader<string, IndexedJob | null>(
    async (ids) => {
      const jobs = new Map((await findJobsByIds(views, ids)).map((job) => [job.id.toString(), job]))
      return ids.map((id) => jobs.get(id) ?? null)
    },
    // Only batching: each event caches its own load, and a job changes between events.
    { cache: false, maxBatchSize: 1000 },
  )
  const loads = new WeakMap<object, Promise<IndexedJob | null>>()
  return (event) => {
    let load = loads.get(event)
    if (!load) {
      load = loader.load(event.jobId.toString())
      loads.set(event, load)
      load.catch(() => loads.delete(event))
    }
    return load
  }
}
