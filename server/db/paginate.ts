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

/**
 * Longest cursor this server issues, with room to spare: two 78-digit numbers (uint256) as JSON, in base64url, are
 * 220 characters. Longer input is refused before it is decoded.
 */
const maxCursorLength = 256
/** An unsigned integer as Postgres prints a `numeric` (uint256 at most): what every order column and numeric id holds. */
const uintPattern = /^(0|[1-9]\d{0,77})$/
/** A text id: the lower-case address that keys providers. */
const addressPattern = /^0x[0-9a-f]{40}$/

/** The opaque cursor of a row. */
function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.v, key.id])).toString('base64url')
}

/**
 * Decodes the `after` of a list keyed as `keyset` says, before any SQL: a cursor this server issued for such a list
 * (re-encoding it gives it back), holding an unsigned integer and an id of the keyset's kind. Anything else, letters
 * where numbers go, a negative, overlong or non-canonical value, a cursor of another list, throws `InvalidCursorError`.
 */
function decodeCursor(cursor: string, keyset: Pick<Keyset, 'idIsText'>): CursorKey {
  if (cursor.length <= maxCursorLength && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const [v, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
      const idPattern = keyset.idIsText ? addressPattern : uintPattern
      if (
        typeof v === 'string' &&
        typeof id === 'string' &&
        uintPattern.test(v) &&
        idPattern.test(id) &&
        encodeCursor({ v, id }) === cursor
      )
        return { v, id }
    } catch {}
  }
  throw new InvalidCursorError(cursor, {
    argument: 'after',
    hint: "pass the endCursor (or an edge's cursor) of a previous page of this list",
  })
}

/** A client passed, as `argument`, a cursor this server did not issue (for that list). Not retryable. */
export class InvalidCursorError extends UserInputError {
  override name = 'InvalidCursorError'
  constructor(cursor: string, parameters: { argument: string; hint: string; kind?: string }) {
    const shown = cursor.length > 64 ? `${cursor.slice(0, 64)}…` : cursor
    const kind = parameters.kind ? `${parameters.kind} ` : ''
    super(`argument "${parameters.argument}": invalid ${kind}cursor ${JSON.stringify(shown)}: ${parameters.hint}`)
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
    const key = decodeCursor(page.after, keyset)
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
