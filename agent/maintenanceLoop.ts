import type { Logger } from 'pino'
import { sleep } from '../protocol/retry.ts'
import type { EnsureProviderReturnType } from './ensureProvider.ts'

export type MaintenanceLoopParameters = {
  /** Makes the on-chain provider match the agent again (`ensureProvider`). */
  ensure: () => Promise<EnsureProviderReturnType>
  intervalMs: number
  log: Logger
  signal: AbortSignal
}

/**
 * Every `intervalMs` until `signal` aborts, re-ensures the provider: slashes and unbonding eat into the stake while
 * the agent runs, so it is topped back up, and the provider re-registered or unpaused when needed. A failed round is
 * logged and the next one tried on schedule. Never rejects.
 */
export async function maintenanceLoop(parameters: MaintenanceLoopParameters): Promise<void> {
  const { log, signal } = parameters
  for (;;) {
    await sleep(parameters.intervalMs, signal)
    if (signal.aborted) return
    try {
      const result = await parameters.ensure()
      if (result.staked > 0n || result.registered !== 'unchanged' || result.unpaused)
        log.info({ staked: result.staked.toString(), registered: result.registered, unpaused: result.unpaused }, 'provider maintained')
    } catch (error) {
      log.warn({ err: error }, 'provider maintenance failed')
    }
  }
}
