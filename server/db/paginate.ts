import { type SelectQueryBuilder, sql } from 'kysely'
import { UserInputError } from '../errors.ts'

/** Largest page a connection serves (`first ≤ 1000`). */
const maxPageSize = 1000
/** Page size when a connection asks for none. */
const defaultPageSize = 100

/** Which way a list runs. */
export type OrderDirection = 'asc' | 'desc'

/** What a connection asks for: a page size, the cursor to start after and, where it may choose, a direction. */
export type PageParameters = { first?: number | null; after?: string | null; orderDirection?: OrderDirection | null }

/** One page of domain values, each with its opaque cursor; `totalCount` counts every match, lazily. */
export type Page<T> = { edges: { cursor: string; node: T }[]; hasNextPage: boolean; totalCount: () => Promise<number> }

/** An opaque keyset cursor: the order column's value and the row's id, both as strings. */
type CursorKey = { v: string; id: string }

/** The opaque cursor of a row. */
function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.v, key.id])).toString('base64url')
}

/** Decodes a cursor from `encodeCursor`; throws `InvalidCursorError` for anything else. */
function decodeCursor(cursor: string): CursorKey {
  try {
    const [v, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
    if (typeof v === 'string' && typeof id === 'string' && /^-?\d+$/.test(v) && /^[0-9a-zA-Z:x]+$/.test(id)) return { v, id }
  } catch {}
  throw new InvalidCursorError(cursor)
}

/** A client passed a cursor this server did not issue. Not retryable. */
export class InvalidCursorError extends UserInputError {
  override name = 'InvalidCursorError'
  constructor(cursor: string) {
    super(`invalid cursor "${cursor.slice(0, 64)}": pass an endCursor or cursor from a previous page`)
  }
}

/** Checks `first` against the page limit and applies the default. */
function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return defaultPageSize
  if (!Number.isInteger(first) || first < 0 || first > maxPageSize)
    throw new UserInputError(`first must be between 0 and ${maxPageSize}, got ${first}`)
  return first
}

/**
 * How a table pages: rows order by `(orderKey, idKey)` of `table`, both numeric (or text for the id with
 * `idIsText`), so a cursor compares as a row value; `direction` applies when the page asks for none.
 */
export type Keyset = { table: string; orderKey: string; idKey: string; idIsText?: boolean; direction: OrderDirection }

type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S
/** A column's `orderBy` name, as the API spells it: `maxPricePerUnit` → `MAX_PRICE_PER_UNIT`. */
export type OrderName<Column extends string> = Uppercase<SnakeCase<Column>>

/** The (numeric) columns a list may sort on, by their `orderBy` names. */
export function orderColumns<const Column extends string>(columns: readonly Column[]): { [C in Column as OrderName<C>]: C } {
  const named = columns.map((column) => [column.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase(), column])
  return Object.fromEntries(named) as { [C in Column as OrderName<C>]: C }
}

/** Keyset pagination over `query`: one page of `toNode(row)`, ordered and resumed as `keyset` says. */
export async function paginate<DB, TB extends keyof DB, Row, T>(
  query: SelectQueryBuilder<DB, TB, Row>,
  keyset: Keyset,
  page: PageParameters,
  toNode: (row: Row) => T,
): Promise<Page<T>> {
  const orderColumn = sql.ref(`${keyset.table}.${keyset.orderKey}`)
  const idColumn = sql.ref(`${keyset.table}.${keyset.idKey}`)
  const direction = page.orderDirection ?? keyset.direction
  const limit = pageSize(page.first)
  let q = query
  if (page.after) {
    const key = decodeCursor(page.after)
    const idValue = keyset.idIsText ? sql`${key.id}` : sql`${key.id}::numeric`
    const op = direction === 'asc' ? sql`>` : sql`<`
    q = q.where(sql<boolean>`(${orderColumn}, ${idColumn}) ${op} (${key.v}::numeric, ${idValue})`) as typeof q
  }
  const rows = (await q
    .orderBy(orderColumn, direction)
    .orderBy(idColumn, direction)
    .limit(limit + 1)
    .execute()) as Row[]
  const hasNextPage = rows.length > limit
  if (hasNextPage) rows.pop()
  const keyOf = (row: Row): CursorKey => {
    const values = row as Record<string, unknown>
    return { v: String(values[keyset.orderKey]), id: String(values[keyset.idKey]) }
  }
  return {
    edges: rows.map((row) => ({ cursor: encodeCursor(keyOf(row)), node: toNode(row) })),
    hasNextPage,
    totalCount: async () => {
      const r = await query.clearSelect().select(sql<string>`count(*)`.as('n')).executeTakeFirst()
      return Number((r as { n?: string } | undefined)?.n ?? 0)
    },
  }
}
