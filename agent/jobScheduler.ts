import type { Logger } from 'pino'

/**
 * Runs work per job id, one chain of work per job: a new round of the same job waits for the previous one to wind
 * down, while different jobs run concurrently. A crash in one piece of work is logged and does not stop the chain.
 */
export class JobScheduler {
  private readonly active = new Map<string, Promise<void>>()

  constructor(private readonly parameters: { log: Logger; onSizeChange?: (size: number) => void }) {}

  /** Jobs with work queued or running. */
  get size(): number {
    return this.active.size
  }

  /**
   * Queues `work` behind any work already scheduled for `jobId`. Returns a function that cancels it if it hasn't
   * started yet; it returns whether the work will never run (cancelled, now or before), false once it has started.
   */
  schedule(jobId: string, work: () => Promise<void>): () => boolean {
    let state: 'queued' | 'started' | 'cancelled' = 'queued'
    const previous = this.active.get(jobId) ?? Promise.resolve()
    const next: Promise<void> = previous
      .then(() => {
        if (state === 'cancelled') return
        state = 'started'
        return work()
      })
      .catch((error) => this.parameters.log.error({ jobId, err: error }, 'job handler crashed'))
      .finally(() => {
        if (this.active.get(jobId) === next) this.active.delete(jobId)
        this.parameters.onSizeChange?.(this.active.size)
      })
    this.active.set(jobId, next)
    this.parameters.onSizeChange?.(this.active.size)
    return () => {
      if (state === 'queued') state = 'cancelled'
      return state === 'cancelled'
    }
  }

  /** Resolves once the work scheduled so far has finished. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.active.values()])
  }
}
