import { initGraphQLTada } from 'gql.tada'
import type { introspection } from './graphql-env.d.ts'

/**
 * `graphql(...)`: a document typed from `schema.graphql` (through `graphql-env.d.ts`, which `npm run web:build`
 * regenerates from it). The scalars come as the API sends them: amounts as decimal strings, addresses checksummed.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection
  scalars: { BigInt: string; Address: `0x${string}`; Bytes32: `0x${string}` }
  // A fragment's fields are read where it is spread, like any other field: fragments here share selections, not hide them.
  disableMasking: true
}>()

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada'
export { readFragment } from 'gql.tada'
