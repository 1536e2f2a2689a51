import type { Plugin } from '@envelop/core'
import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, execute } from 'graphql'
import { operationKey } from './operationKey.ts'

/** Results by event object, then by operation (document, operation name, variables). */
const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>()

/**
 * Executes a subscription's selection once per event and operation, not once per subscriber: the bus and the index
 * watcher hand every subscriber of this process the same event object, so subscribers that sent the same document and
 * variables (ten thousand agents of one provider, a dashboard's many viewers) share one result, kept beside the event
 * (a WeakMap: it goes when the event does). Events that are not shared (a subscriber's own replay from Postgres) cost
 * one execution each, as before.
 *
 * The shared execution runs with the first subscriber's context. That is sound because no subscription field
 * depends on who asks (there is no per-caller authorisation in the schema, and dataloaders only batch reads).
 */
export function useSharedSubscriptionResults(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const executionArgs = args as ExecutionArgs
        const source = await createSourceEventStream(executionArgs)
        if (!(Symbol.asyncIterator in source)) return source
        const operation = operationKey(executionArgs)
        const run = (event: unknown) => execute({ ...executionArgs, rootValue: event })
        const resultOf = (event: unknown) => {
          if (typeof event !== 'object' || event === null) return run(event)
          let byOperation = results.get(event)
          if (!byOperation) {
            byOperation = new Map()
            results.set(event, byOperation)
          }
          let result = byOperation.get(operation)
          if (!result) {
            result = run(event)
            byOperation.set(operation, result)
          }
          return result
        }
        const iterator = source[Symbol.asyncIterator]()
        const mapped: AsyncGenerator<ExecutionResult> = {
          async next() {
            const step = await iterator.next()
            if (step.done) return { value: undefined, done: true }
            return { value: await resultOf(step.value), done: false }
          },
          async return() {
            await iterator.return?.()
            return { value: undefined, done: true }
          },
          async throw(error) {
            if (iterator.throw) await iterator.throw(error)
            throw error
          },
          [Symbol.asyncIterator]() {
            return mapped
          },
          async [Symbol.asyncDispose]() {
            await iterator.return?.()
          },
        }
        return mapped
      })
    },
  }
}
