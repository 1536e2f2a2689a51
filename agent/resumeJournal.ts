import type { Logger } from 'pino'
import type { JobScheduler } from './jobScheduler.ts'
import type { Journal, JournalEntry } from './journal.ts'

/**
 * Schedules every unfinished journal entry (oldest first) on its job's chain, so work a restart interrupted
 * (a commit not yet revealed, say) goes on before new assignments of the same job. Returns the jobs resumed.
 */
export function resumeJournal(parameters: {
  journal: Pick<Journal, 'unfinished'>
  scheduler: JobScheduler
  follow: (entry: JournalEntry) => Promise<unknown>
  log: Logger
}): string[] {
  const unfinished = parameters.journal.unfinished()
  if (unfinished.length) parameters.log.info({ jobs: unfinished.map((e) => e.jobId) }, 'resuming journaled jobs')
  for (const entry of unfinished) parameters.scheduler.schedule(entry.jobId, async () => void (await parameters.follow(entry)))
  return unfinished.map((e) => e.jobId)
}
