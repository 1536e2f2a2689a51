import type { MaskError, Plugin } from '@envelop/core'
import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, execute } from 'graphql'
import { type Listenable, type Listener, listen } from '../listen.ts'
import { operationKey } from './operationKey.ts'
import { maskedMessage, maskedResult } from './use-error-masking.ts'

/** Results by event object, then by operation (document, operation name, variables). */
const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>()

/** The listeners waiting on a result being computed, by its promise: handed it in one step once it settles. */
const waiting = new WeakMap<
  Promise<ExecutionResult>,
  { deliveries: ((result: ExecutionResult) => void)[]; failures: ((error: unknown) => void)[]; settled: Promise<void> }
>()

/**
 * Runs `deliver` with what `result` settles to (`fail` with why it failed), beside every other listener waiting on
 * it: one `then` for all of them rather than a promise and a microtask each, which ten thousand subscribers would take
 * in turn. Returns a promise settled once all of them ran.
 */
function whenComputed(
  result: Promise<ExecutionResult>,
  deliver: (result: ExecutionResult) => void,
  fail: (error: unknown) => void,
): Promise<void> {
  let entry = waiting.get(result)
  if (!entry) {
    const deliveries: ((result: ExecutionResult) => void)[] = []
    const failures: ((error: unknown) => void)[] = []
    const settled = result.then(
      (value) => {
        waiting.delete(result)
        for (const run of deliveries) run(value)
      },
      (error: unknown) => {
        waiting.delete(result)
        for (const run of failures) run(error)
      },
    )
    entry = { deliveries, failures, settled }
    waiting.set(result, entry)
  }
  entry.deliveries.push(deliver)
  entry.failures.push(fail)
  return entry.settled
}

/** What to run once each stream this plugin made ends, by stream. */
const endHooks = new WeakMap<object, (() => void)[]>()

/**
 * Runs `hook` once `stream` ends (its events done or failed, or its subscriber gone) and returns true, when `stream` is
 * one this plugin made; false otherwise. A plugin that would return envelop's `onEnd` hooks here instead: envelop
 * meets an `onEnd` by wrapping each subscriber's stream in an iterator of its own, one promise more per event and
 * subscriber, and ten thousand subscribers pay it on every event.
 */
export function onSharedStreamEnd(stream: unknown, hook: () => void): boolean {
  // A WeakMap answers a key that is no object with undefined (and `has` with false), so any value may be asked about.
  const hooks = endHooks.get(stream as object)
  hooks?.push(hook)
  return hooks !== undefined
}

/** Whether `stream` is one this plugin made: its events and the errors it throws are masked already. */
export const isSharedStream = (stream: unknown): boolean => endHooks.has(stream as object)

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
 * by a layer of masking around each subscriber's stream (`useErrorMasking` leaves events to this plugin); so is an
 * error the stream itself throws, which ends it. Hooks for a stream's end come in through `onSharedStreamEnd`. So each
 * event costs a subscriber one step through this plugin and none through envelop.
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
        const hooks: (() => void)[] = []
        const end = () => {
          for (const hook of hooks.splice(0)) hook()
        }
        const closed = async () => {
          end()
          await iterator.return?.()
        }
        const stepOf = (step: IteratorResult<unknown>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
          if (step.done) {
            end()
            return { value: undefined, done: true }
          }
          const result = resultOf(step.value)
          return result instanceof Promise ? result.then((value) => ({ value, done: false })) : { value: result, done: false }
        }
        const failed = (error: unknown): never => {
          end()
          throw options.maskError(error, maskedMessage)
        }
        const pulled = () => iterator.next().then(stepOf, failed)
        // Results being computed for a listener, delivered in order: `next()` waits for them.
        let pending: Promise<void> | undefined
        let inFlight = 0
        let failure: { error: unknown } | undefined
        /** Listens to the source for `listener`, each event's result handed over once it is computed. */
        const listenShared = (listener: Listener<ExecutionResult>) => {
          const start = (iterator as Listenable<unknown>)[listen]
          if (!start || failure) return undefined
          const deliver = (result: ExecutionResult) => {
            if (--inFlight === 0) pending = undefined
            listener.value(result)
          }
          const fail = (error: unknown) => {
            failure = { error }
            stop?.()
            listener.pull()
          }
          const stop = start.call(iterator, {
            value: (event) => {
              const result = resultOf(event)
              if (pending) {
                // Behind a result still on its way to this listener: after it.
                inFlight++
                pending = pending.then(() => result).then(deliver, fail)
              } else if (result instanceof Promise) {
                // With every other listener waiting on the same result: one step for them all.
                inFlight++
                pending = whenComputed(result, deliver, fail)
              } else listener.value(result)
            },
            pull: listener.pull,
          })
          return stop
        }
        // Each event costs this subscriber one step (`then`, its two handlers made once) and no more: thousands of
        // subscribers take their steps in turn, so every await here would be thousands of microtasks before the first
        // copy leaves. A listener (`listen`) takes no step but the result's own.
        const mapped: AsyncGenerator<ExecutionResult> & Listenable<ExecutionResult> = {
          next: () => {
            if (failure) return Promise.reject(failure.error).catch(failed)
            return pending ? pending.then(pulled) : pulled()
          },
          [listen]: listenShared,
          async return() {
            await closed()
            return { value: undefined, done: true }
          },
          async throw(error) {
            end()
            if (iterator.throw) await iterator.throw(error)
            throw error
          },
          [Symbol.asyncIterator]() {
            return mapped
          },
          [Symbol.asyncDispose]: closed,
        }
        endHooks.set(mapped, hooks)
        return mapped
      })
    },
  }
}
