import SchemaBuilder from '@pothos/core'
import ComplexityPlugin from '@pothos/plugin-complexity'
import DataloaderPlugin from '@pothos/plugin-dataloader'
import ErrorsPlugin from '@pothos/plugin-errors'
import RelayPlugin from '@pothos/plugin-relay'
import ScopeAuthPlugin from '@pothos/plugin-scope-auth'
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects'
import { getNullableType, isListType } from 'graphql'
import type { Address, Hex } from 'viem'
import type { ServerContext } from './context.ts'

/** Query cost ceiling: each field costs 1, list/connection selections multiply by their `first`. */
const maxComplexity = 50_000

/** The Pothos builder: setup and plugins only; types live in `schema/<domain>.ts`. */
export const builder = new SchemaBuilder<{
  Context: ServerContext
  Scalars: {
    BigInt: { Input: bigint; Output: bigint | string | number }
    Address: { Input: Address; Output: string }
    Bytes32: { Input: Hex; Output: string }
  }
  Connection: { totalCount: () => Promise<number> }
  DefaultEdgesNullability: false
  DefaultNodeNullability: false
  AuthScopes: { public: boolean }
  DefaultFieldNullability: false
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, RelayPlugin, DataloaderPlugin, ErrorsPlugin, SimpleObjectsPlugin, ComplexityPlugin],
  scopeAuth: { authScopes: async () => ({ public: true }) },
  relay: {
    cursorType: 'String',
    clientMutationId: 'omit',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
  errors: { defaultTypes: [] },
  complexity: {
    // Lists cost 10× their selection unless a field says otherwise; a connection's `edges` is
    // already paid for by the connection field's `first`.
    fieldComplexity: (_args, _ctx, field) => {
      if (!isListType(getNullableType(field.type))) return 1
      return field.name === 'edges' ? { field: 1, multiplier: 1 } : { field: 1, multiplier: 10 }
    },
    limit: { complexity: maxComplexity, depth: 12, breadth: 300 },
  },
})

builder.queryType({})
builder.mutationType({})
builder.subscriptionType({})

builder.globalConnectionField('totalCount', (t) =>
  t.int({ nullable: false, description: 'Rows matching `where`, ignoring paging.', resolve: (parent) => parent.totalCount() }),
)
