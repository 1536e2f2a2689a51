import type { Deployment } from '../protocol/deployment.ts'

/** What a query thread needs to build its context: plain data. */
export type QueryWorkerSettings = {
  databaseUrl: string
  viewsSchema: string
  deployment: Deployment
  dataDir: string
  /** Chain reads for the fields that make them (`_meta`); absent: those fields answer without the chain. */
  rpcUrl?: string
  /** Its database pool's size (default the server's). */
  poolSize?: number
}

export type QueryWorkerData = { settings: QueryWorkerSettings; logLevel: string }

/** An error of a result, as it crosses back to the request thread. */
export type SentError = { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }

export type ToQueryWorker =
  | { type: 'execute'; id: number; source: string; variableValues?: Record<string, unknown>; operationName?: string | null }
  | { type: 'close' }

export type FromQueryWorker =
  | { type: 'ready' }
  | { type: 'log'; line: string }
  | { type: 'result'; id: number; data: Record<string, unknown> | null; errors?: SentError[] }
