import type { Logger } from 'pino'

/** A running thread as the supervisor sees it: a promise of its exit code, and how to stop it. */
export type SupervisedThread = { exited: Promise<number>; stop: () => Promise<void> }

export type SuperviseThreadParameters = {
  /** What the thread is, for the log ("the leader thread"). */
  name: string
  /** Starts the thread; resolves once it runs, rejects when it fails to start. */
  start: () => Promise<SupervisedThread>
  log: Logger
  /** The wait before the first restart, doubled after each one that dies within `healthyMs`, up to `maxDelayMs`. */
  delayMs?: number
  maxDelayMs?: number
  /** A thread that ran this long counts as healthy: the next restart waits `delayMs` again. */
  healthyMs?: number
  /** Hears each restart (a metric). */
  onRestart?: () => void
}

/**
 * Starts a thread and starts it again whenever it exits or fails to start while not stopped, waiting longer after each
 * quick death (1 s, 2 s, … 30 s by default): a thread that crashes must not leave its work undone for good (a leader
 * thread that died would leave a one-replica market without a matcher or keeper), nor spin. The first start's failure
 * rejects, as a misconfiguration should; later ones are logged and retried. `stop` stops the running thread and any
 * restart to come.
 */
export async function superviseThread(
  parameters: SuperviseThreadParameters,
): Promise<{ stop: () => Promise<void>; restarts: () => number }> {
  const { name, log } = parameters
  const delayMs = parameters.delayMs ?? 1_000
  const maxDelayMs = parameters.maxDelayMs ?? 30_000
  const healthyMs = parameters.healthyMs ?? 60_000
  let current: SupervisedThread | undefined = await parameters.start()
  let stopped = false
  let restarts = 0
  let delay = delayMs
  let timer: ReturnType<typeof setTimeout> | undefined
  let wake: (() => void) | undefined

  const watch = async () => {
    while (!stopped && current) {
      const startedAt = Date.now()
      const code = await current.exited
      current = undefined
      if (stopped) return
      delay = Date.now() - startedAt >= healthyMs ? delayMs : delay
      log.error({ code, restartInMs: delay }, `${name} exited; starting it again`)
      while (!stopped && !current) {
        await new Promise<void>((resolve) => {
          wake = resolve
          timer = setTimeout(resolve, delay)
        })
        delay = Math.min(delay * 2, maxDelayMs)
        if (stopped) return
        try {
          current = await parameters.start()
          restarts++
          parameters.onRestart?.()
          log.info({ restarts }, `${name} started again`)
          if (stopped) await current.stop()
        } catch (error) {
          log.error({ err: error, restartInMs: delay }, `${name} failed to start again; retrying`)
        }
      }
    }
  }
  const watching = watch()

  return {
    restarts: () => restarts,
    async stop() {
      stopped = true
      clearTimeout(timer)
      wake?.()
      await current?.stop()
      await watching
    },
  }
}
