import { createRequire } from 'node:module'

/**
 * graphql-js loaded the way Node loads it for Pothos and Yoga (CommonJS `index.js`). A bundler
 * resolving the `module` field (vitest) would otherwise hand our files `index.mjs`, a second
 * instance whose `GraphQLError`/scalar classes fail graphql's realm checks.
 */
const graphql: typeof import('graphql') = createRequire(import.meta.url)('graphql')

export const { GraphQLError, Kind, getNullableType, isListType, lexicographicSortSchema, printSchema } = graphql
export type { GraphQLSchema } from 'graphql'
export type GraphQLError = import('graphql').GraphQLError
