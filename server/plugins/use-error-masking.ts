import { useMaskedErrors } from '@envelop/core'
import { GraphQLError } from 'graphql'
import { maskError } from 'graphql-yoga'
import type { Logger } from 'pino'
import { UserInputError } from '../errors.ts'

/**
 * Masks unexpected errors as "Unexpected error." (logged in full with a correlation id), while GraphQL errors
 * (parse, validation, thrown `GraphQLError`s) keep their messages and `UserInputError`s theirs, with their `code`
 * in `extensions`.
 */
export function useErrorMasking(options: { log: Logger; isDev?: boolean }) {
  return useMaskedErrors({
    maskError: (error, message) => {
      const original = error instanceof GraphQLError ? error.originalError : error
      if (original instanceof UserInputError) {
        const e = error as GraphQLError
        return new GraphQLError(original.message, { nodes: e.nodes, path: e.path, extensions: { code: original.code } })
      }
      const masked = maskError(error, message, options.isDev ?? false)
      if (masked !== error) options.log.error({ err: original ?? error, path: (error as GraphQLError).path }, 'graphql resolver error')
      return masked
    },
  })
}
