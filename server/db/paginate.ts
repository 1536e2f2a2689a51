import { type SelectQueryBuilder, sql } from 'kysely'
import { UserInputError } from '../errors.ts'

/** Largest page a connection serves (`first ≤ 1000`). */
export const maxPageSize = 1000
export const defaultPageSize = 100

/** An opaque keyset cursor: the order column's value and the row's id, both as decimal strings. */
type CursorKey = { v: string; id: string }

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.v, key.id])).toString('base64url')
}

/** Decodes a cursor from `encodeCursor`; throws `InvalidCursorError` for anything else. */
export function decodeCursor(cursor: string): CursorKey {
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
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return defaultPageSize
  if (!Number.isInteger(first) || first < 0 || first > maxPageSize)
    throw new UserInputError(`first must be between 0 and ${maxPageSize}, got ${first}`)
  return first
}

export type Page<Row> = { rows: Row[]; hasNextPage: boolean; cursorOf: (row: Row) => string; totalCount: () => Promise<number> }

/**
 * Keyset pagination over `query` ordered by `(orderColumn, idColumn)`. Both columns must be
 * numeric (or text for `idColumn` with `idIsText`), so the cursor compares as a row value.
 */
export async function paginate<DB, TB extends keyof DB, Row extends Record<string, unknown>>(parameters: {
  query: SelectQueryBuilder<DB, TB, Row>
  orderColumn: string
  idColumn: string
  /** Property names of the order and id columns on the selected row. */
  orderKey: keyof Row
  idKey: keyof Row
  idIsText?: boolean
  direction: 'asc' | 'desc'
  first: number | null | undefined
  after: string | null | undefined
}): Promise<Page<Row>> {
  const { query, orderColumn, idColumn, direction } = parameters
  const limit = pageSize(parameters.first)
  let q = query
  if (parameters.after) {
    const key = decodeCursor(parameters.after)
    const idValue = parameters.idIsText ? sql`${key.id}` : sql`${key.id}::numeric`
    const op = direction === 'asc' ? sql`>` : sql`<`
    q = q.where(sql<boolean>`(${sql.ref(orderColumn)}, ${sql.ref(idColumn)}) ${op} (${key.v}::numeric, ${idValue})`) as typeof q
  }
  const rows = (await q
    .orderBy(sql.ref(orderColumn), direction)
    .orderBy(sql.ref(idColumn), direction)
    .limit(limit + 1)
    .execute()) as Row[]
  const hasNextPage = rows.length > limit
  if (hasNextPage) rows.pop()
  return {
    rows,
    hasNextPage,
    cursorOf: (row) => encodeCursor({ v: String(row[parameters.orderKey]), id: String(row[parameters.idKey]) }),
    totalCount: async () => {
      const r = await query.clearSelect().select(sql<string>`count(*)`.as('n')).executeTakeFirst()
      return Number((r as { n?: string } | undefined)?.n ?? 0)
    },
  }
}
