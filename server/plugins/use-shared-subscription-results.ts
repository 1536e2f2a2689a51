import type { MaskError, Plugin } from '@envelop/core'
import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, execute } from 'graphql'
import { operationKey } from './operationKey.ts'
import { maskedResult } from './use-error-masking.ts'

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
 *
 * Each result's errors are masked here with `maskError` (`errorMasker`), once for all its subscribers, rather than
 * by a layer of masking around each subscriber's stream (`useErrorMasking` leaves events to this plugin).
 */
export function useSharedSubscriptionResults(options: { maskError: MaskError }): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const executionArgs = args as ExecutionArgs
        const source = await createSourceEventStream(executionArgs)
        if (!(Symbol.asyncIterator in source)) return source
        const operation = operationKey(executionArgs)
        const run = (event: unknown) => {
          const result = execute({ ...executionArgs, rootValue: event })
          return result instanceof Promise
            ? result.then((value) => maskedResult(value, options.maskError))
            : maskedResult(result, options.maskError)
        }
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
        // Each event costs this subscriber one step (`then`) and no more: thousands of subscribers take their steps in
        // turn, so every await here would be thousands of microtasks before the first copy leaves.
        const mapped: AsyncGenerator<ExecutionResult> = {
          next: () =>
            iterator.next().then((step) => {
              if (step.done) return { value: undefined, done: true as const }
              const result = resultOf(step.value)
              return result instanceof Promise
                ? result.then((value) => ({ value, done: false as const }))
                : { value: result, done: false as const }
            }),
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
