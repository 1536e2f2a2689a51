import { useMaskedErrors } from '@envelop/core'
import { GraphQLError } from 'graphql'
import { maskError } from 'graphql-yoga'
import type { Logger } from 'pino'
import { isUserInputError } from '../errors.ts'

/**
 * Masks unexpected errors as "Unexpected error." (logged in full with a correlation id), while
 * GraphQL errors (parse, validation, thrown `GraphQLError`s) and `UserInputError`s keep their messages.
 */
export function useErrorMasking(options: { log: Logger; isDev?: boolean }) {
  return useMaskedErrors({
    maskError: (error, message) => {
      const original = error instanceof GraphQLError ? error.originalError : error
      if (isUserInputError(original)) {
        const e = error as GraphQLError
        return new GraphQLError(original.message, { nodes: e.nodes, path: e.path, extensions: { code: 'BAD_USER_INPUT' } })
      }
      const masked = maskError(error, message, options.isDev ?? false)
      if (masked !== error) options.log.error({ err: original ?? error, path: (error as GraphQLError).path }, 'graphql resolver error')
      return masked
    },
  })
}
