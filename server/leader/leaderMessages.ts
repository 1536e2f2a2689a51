import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { LeaderSettings } from './runLeader.ts'

/** What the leader's worker thread starts with. */
export type LeaderWorkerData = { settings: LeaderSettings; logLevel: string }

/** From the server's thread to the leader's. */
export type ToLeader = { type: 'stop' } | { type: 'metrics'; id: number }

/** From the leader's thread to the server's: its state, each log line (pino JSON) and its metrics. */
export type FromLeader =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'stopped' }
  | { type: 'log'; line: string }
  | { type: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
