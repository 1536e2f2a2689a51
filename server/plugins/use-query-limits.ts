import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth'
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives'
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens'
import { envelop, type Plugin, useEnvelop } from 'graphql-yoga'

export type QueryLimitsOptions = { maxDepth?: number; maxAliases?: number; maxTokens?: number; maxDirectives?: number }

/**
 * Rejects oversized documents before execution: depth, aliases, tokens and directives
 * (graphql-armor), each with a validation error naming the limit. Cost is limited separately by
 * the Pothos complexity plugin, which knows each connection's `first`.
 */
export function useQueryLimits(options: QueryLimitsOptions = {}): Plugin {
  // Armor's default `propagateOnRejection` surfaces the limit in the error message.
  const plugins = [
    maxDepthPlugin({ n: options.maxDepth ?? 12, flattenFragments: true }),
    maxAliasesPlugin({ n: options.maxAliases ?? 30 }),
    maxTokensPlugin({ n: options.maxTokens ?? 2000 }),
    maxDirectivesPlugin({ n: options.maxDirectives ?? 20 }),
  ]
  return useEnvelop(envelop({ plugins })) as Plugin
}
