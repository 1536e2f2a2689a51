import { type RawBuilder, sql } from 'kysely'

/**
 * `column = any(values)`: true when the column equals one of `values`, false for an empty list (where SQL's `in ()`
 * is a syntax error). `type` is the array's element type: `numeric` for ids passed as decimal strings.
 */
export function anyOf(column: string, values: readonly (string | bigint)[], type: 'text' | 'numeric' = 'text'): RawBuilder<boolean> {
  return sql<boolean>`${sql.ref(column)} = any(${values.map(String)}::${sql.raw(type)}[])`
}

/** Addresses (or other hex) as the indexer stores them: lower-case. */
export function lowerCase<T extends string>(values: readonly T[]): T[] {
  return values.map((v) => v.toLowerCase() as T)
}
