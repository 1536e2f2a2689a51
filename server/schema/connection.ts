import type { ArgBuilder, EnumRef, InputObjectRef } from '@pothos/core'
import type { builder } from '../builder.ts'
import type { OrderDirection as Direction, Page } from '../db/paginate.ts'
import { UserInputError } from '../errors.ts'
import { OrderDirection } from './scalars.ts'

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never

/** Relay connection arguments this API honours; `last`/`before` are refused with a clear message. */
function checkForwardOnly(args: { last?: number | null; before?: string | null }): void {
  if (args.last != null || args.before != null) throw new UserInputError('only forward pagination is supported: use first and after')
}

/** A keyset page as a Relay connection (opaque cursors, lazy totalCount). */
function toConnection<T>(page: Page<T>) {
  return {
    edges: page.edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: false,
      startCursor: page.edges[0]?.cursor ?? null,
      endCursor: page.edges.at(-1)?.cursor ?? null,
    },
    totalCount: page.totalCount,
  }
}

/** A connection field's resolver: refuses backward paging, then serves the page `find` reads. */
export async function resolveConnection<T>(args: { last?: number | null; before?: string | null }, find: () => Promise<Page<T>>) {
  checkForwardOnly(args)
  return toConnection(await find())
}

/** The elements of a `where`'s `…_in` lists, all together. */
const inListLength = (where: object | null | undefined) =>
  Object.entries(where ?? {}).reduce((n, [key, value]) => n + (key.endsWith('_in') && Array.isArray(value) ? value.length : 0), 0)

/**
 * Complexity of a connection field: its page size multiplies the cost of the selection, and each element of its
 * `where`'s `…_in` lists costs one, so a list argument is bounded by the complexity limit like everything else (a
 * 50,000-address list, sent as a variable under every token limit, would otherwise hold a database connection and the
 * event loop for seconds).
 */
export const connectionComplexity = (args: { first?: number | null; where?: object | null }) => ({
  field: 1 + inListLength(args.where),
  multiplier: Math.max(1, Math.min(args.first ?? 100, 1000)),
})

/** How many items a plain list field's `first` asks for: 50 when absent, clamped to [0, 1000]. */
export const recentCountOf = (args: { first?: number | null }) => Math.max(0, Math.min(args.first ?? 50, 1000))

/** A plain (unpaged) list field's `first` argument, read by {@link recentCountOf}. */
export function recentListArgs(arg: ArgBuilder<Types>) {
  return { first: arg.int({ defaultValue: 50 }) }
}

/** Complexity of a plain list field: `first` multiplies the cost of the selection. */
export const recentListComplexity = (args: { first?: number | null }) => ({ field: 1, multiplier: Math.min(args.first ?? 50, 1000) })

/**
 * The arguments of a filtered, sorted list: `where`, `orderBy` (default `orderBy`) and `orderDirection` (default
 * `direction`). The repository's `find…(views, args)` takes them as they are.
 */
export function listArgs<Where, Order extends string>(
  arg: ArgBuilder<Types>,
  options: { where: InputObjectRef<Types, Where>; orderBy: EnumRef<Types, Order>; defaults: [orderBy: Order, direction: Direction] },
) {
  const [orderBy, direction] = options.defaults
  return {
    where: arg({ type: options.where }),
    orderBy: arg({ type: options.orderBy, defaultValue: orderBy }),
    orderDirection: arg({ type: OrderDirection, defaultValue: direction }),
  }
}
