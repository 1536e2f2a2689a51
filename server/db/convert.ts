/** A `numeric` column or an aggregate pg returns as a decimal string, as a bigint (a fractional part is dropped). */
export function toBigInt(value: string | number | bigint): bigint
export function toBigInt(value: string | number | bigint | null): bigint | null
export function toBigInt(value: string | number | bigint | null): bigint | null {
  if (value === null) return null
  if (typeof value === 'string') return BigInt(value.split('.', 1)[0])
  return BigInt(value)
}

/** `Row` with its `numeric` columns `K` as bigints; a nullable column stays nullable. */
export type WithBigInts<Row, K extends keyof Row> = Omit<Row, K> & { [P in K]: null extends Row[P] ? bigint | null : bigint }

/** A row with its `numeric` columns `keys` converted to bigints, every other column as it is. */
export function withBigInts<Row extends object, K extends keyof Row>(row: Row, keys: readonly K[]): WithBigInts<Row, K> {
  const converted = { ...row } as Record<PropertyKey, unknown>
  for (const key of keys) converted[key] = toBigInt(row[key] as string | null)
  return converted as WithBigInts<Row, K>
}
