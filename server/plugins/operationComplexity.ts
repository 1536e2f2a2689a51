import { complexityFromQuery } from '@pothos/plugin-complexity'
import type { ExecutionArgs } from 'graphql'

const measured = new WeakMap<ExecutionArgs, number>()

/**
 * An operation's complexity, as the query limits measure it (Pothos' `complexityFromQuery`, which knows each
 * connection's `first`). Measured once per execution: the cost limit and the query threads both ask, with the same
 * arguments object.
 */
export function operationComplexity(args: ExecutionArgs): number {
  let complexity = measured.get(args)
  if (complexity === undefined) {
    complexity = complexityFromQuery(args.document, {
      schema: args.schema,
      ctx: (args.contextValue ?? {}) as object,
      variables: (args.variableValues ?? {}) as Record<string, unknown>,
    }).complexity
    measured.set(args, complexity)
  }
  return complexity
}
