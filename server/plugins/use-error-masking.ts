import { errorAsyncIterator, isAsyncIterable, type MaskError, type Plugin, useMaskedErrors } from '@envelop/core'
import { type ExecutionResult, GraphQLError } from 'graphql'
import { maskError as yogaMaskError } from 'graphql-yoga'
import type { Logger } from 'pino'
import { UserInputError } from '../errors.ts'
import { isSharedStream } from './use-shared-subscription-results.ts'

/** What a masked error says. */
export const maskedMessage = 'Unexpected error.'

/**
 * The masking: unexpected errors become "Unexpected error." (logged in full with a correlation id), while GraphQL
 * errors (parse, validation, thrown `GraphQLError`s) keep their messages and `UserInputError`s theirs, with their
 * `code` in `extensions`.
 */
export function errorMasker(options: { log: Logger; isDev?: boolean }): MaskError {
  return (error, message) => {
    const original = error instanceof GraphQLError ? error.originalError : error
    if (original instanceof UserInputError) {
      const e = error as GraphQLError
      return new GraphQLError(original.message, { nodes: e.nodes, path: e.path, extensions: { code: original.code } })
    }
    const masked = yogaMaskError(error, message, options.isDev ?? false)
    if (masked !== error) options.log.error({ err: original ?? error, path: (error as GraphQLError).path }, 'graphql resolver error')
    return masked
  }
}

/** `result` with its errors masked by `maskError` (itself when it has none). */
export function maskedResult(result: ExecutionResult, maskError: MaskError): ExecutionResult {
  if (!result.errors) return result
  return { ...result, errors: result.errors.map((error) => maskError(error, maskedMessage) as GraphQLError) }
}

/**
 * Masks errors with `maskError` (an `errorMasker`) wherever they reach a client: a query's or a mutation's result,
 * a context that failed, a subscription refused. A subscription's events are not masked here, one copy per
 * subscriber: they are masked where they are made, once per event for all its subscribers, and so is an error its
 * stream throws (`useSharedSubscriptionResults`, given the same `maskError`, with no layer around each stream). Only
 * another plugin's stream gets a layer here that masks what it throws.
 */
export function useErrorMasking(options: { maskError: MaskError }): Plugin {
  const { onPluginInit, onExecute } = useMaskedErrors({ maskError: options.maskError, errorMessage: maskedMessage })
  return {
    onPluginInit,
    onExecute,
    onSubscribe: () => ({
      onSubscribeResult({ result, setResult }) {
        if (!isAsyncIterable(result)) setResult(maskedResult(result, options.maskError))
        // Any other plugin's stream: its throws masked by a layer around it (envelop's `onSubscribeError` would put
        // that layer around every stream, useSharedSubscriptionResults' included).
        else if (!isSharedStream(result))
          setResult(
            errorAsyncIterator(result, (error) => {
              throw options.maskError(error, maskedMessage)
            }),
          )
      },
    }),
  }
}
