import type { Page } from '../db/paginate.ts'
import { UserInputError } from '../errors.ts'

/** Relay connection arguments this API honours; `last`/`before` are refused with a clear message. */
export function checkForwardOnly(args: { last?: number | null; before?: string | null }): void {
  if (args.last != null || args.before != null) throw new UserInputError('only forward pagination is supported: use first and after')
}

/** A keyset page as a Relay connection (opaque cursors, lazy totalCount). */
export function toConnection<Row, Node = Row>(page: Page<Row>, map: (row: Row) => Node = (row) => row as unknown as Node) {
  const edges = page.rows.map((row) => ({ cursor: page.cursorOf(row), node: map(row) }))
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: page.totalCount,
  }
}

/** Complexity of a connection field: its page size multiplies the cost of the selection. */
export const connectionComplexity = (args: { first?: number | null }) => ({
  field: 1,
  multiplier: Math.max(1, Math.min(args.first ?? 100, 1000)),
})
