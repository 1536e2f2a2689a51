import type { Logger } from 'pino'
import type { Hex, LocalAccount } from 'viem'
import { sendHeartbeat } from '../client/serverClient.ts'
import { sleep } from '../protocol/retry.ts'
import type { AgentMetrics } from './agentMetrics.ts'

export type HeartbeatLoopParameters = {
  serverUrl: string
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
 */
export async function heartbeatLoop(parameters: HeartbeatLoopParameters): Promise<void> {
  const { serverUrl, account, metrics, log, signal } = parameters
  while (!signal.aborted) {
    try {
      const models = parameters.models?.()
      await sendHeartbeat({ serverUrl, provider: account.address, sign: (message) => account.signMessage({ message }), models, signal })
      metrics.heartbeats.inc({ result: 'ok' })
    } catch (error) {
      if (signal.aborted) break
      metrics.heartbeats.inc({ result: 'error' })
      log.warn({ err: error }, 'heartbeat failed')
    }
    await sleep(parameters.intervalMs, signal)
  }
}
