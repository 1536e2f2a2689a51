import type { Logger } from 'pino'
import type { Hex, LocalAccount } from 'viem'
import { sendHeartbeat } from '../client/serverClient.ts'
import { nextHeartbeatSecond } from '../protocol/heartbeat.ts'
import { sleep } from '../protocol/retry.ts'
import type { AgentMetrics } from './agentMetrics.ts'

export type HeartbeatLoopParameters = {
  /** The server heartbeats go to; they are signed for its host (`heartbeatDomain`). */
  serverUrl: string
  /** The deployment's chain id, signed into each heartbeat. */
  chainId: number
  /** Signs each heartbeat as the provider. */
  account: LocalAccount
  intervalMs: number
  /** The models the agent holds warm, asked before each heartbeat and reported with it (`ModelCache.held`). */
  models?: () => readonly Hex[]
  metrics: Pick<AgentMetrics, 'heartbeats'>
  log: Logger
  signal: AbortSignal
}

/**
 * Sends a signed heartbeat every `intervalMs` until `signal` aborts, so the matcher counts the provider live.
 * A failed heartbeat is counted and logged, and the next one goes out on schedule. Never rejects.
 *
 * The server refuses a timestamp (whole seconds) not after the last it accepted, so a heartbeat never goes out in the
 * same second of the clock as the one before: with `intervalMs` under a second, it waits for the next second.
 */
export async function heartbeatLoop(parameters: HeartbeatLoopParameters): Promise<void> {
  const { serverUrl, chainId, account, metrics, log, signal } = parameters
  let lastSecond = Number.NEGATIVE_INFINITY
  while (!signal.aborted) {
    await nextHeartbeatSecond(lastSecond, signal)
    if (signal.aborted) break
    const now = Date.now()
    lastSecond = Math.floor(now / 1000)
    try {
      const models = parameters.models?.()
      await sendHeartbeat({
        serverUrl,
        chainId,
        provider: account.address,
        sign: (message) => account.signMessage({ message }),
        models,
        now: () => now,
        signal,
      })
      metrics.heartbeats.inc({ result: 'ok' })
    } catch (error) {
      if (signal.aborted) break
      metrics.heartbeats.inc({ result: 'error' })
      log.warn({ err: error }, 'heartbeat failed')
    }
    await sleep(parameters.intervalMs, signal)
  }
}
