import type { Plugin } from '@envelop/core'
import { getOperationAST, print } from 'graphql'
import type { ServerMetrics } from '../metrics.ts'
import type { QueryWorkers } from '../queryWorkers.ts'
import { operationComplexity } from './operationComplexity.ts'

/**
 * Complexity from which a query runs on a query thread: a page of some 300 jobs with their assignments, or more. A
 * page of 100 (complexity 1,701) costs a few milliseconds here, less than the trip to a thread and back
 * (bench/queries.ts: with 1,000 as the bar, 100-job pages fell from 1.2× Ponder's rate to 0.86×).
 */
export const defaultOffloadComplexity = 5000

/**
 * Runs each query whose complexity (the same measure the limits use) is at least `minComplexity` on a query thread
 * (`createQueryWorkers`) instead of the request thread, so a client paging through thousands of rows never holds up
 * another's small query. Mutations and subscriptions, and cheaper queries, run here as before; a cached answer
 * (`useIndexedResponseCache`, placed before this plugin) is served without either.
 */
export function useOffloadedExecution(options: { workers: QueryWorkers; minComplexity?: number; metrics?: ServerMetrics }): Plugin {
  const minComplexity = options.minComplexity ?? defaultOffloadComplexity
  return {
    onExecute({ args, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return
      if (operationComplexity(args) < minComplexity) return
      options.metrics?.graphqlOffloaded.inc()
      setExecuteFn(() =>
        options.workers.execute({
          source: print(args.document),
          variableValues: args.variableValues as Record<string, unknown> | undefined,
          operationName: args.operationName,
        }),
      )
    },
  }
}
