/** `value`, narrowed: throws an Error naming `what` when it is undefined or null (for tests, instead of `!`). */
export function defined<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}, got ${value}`)
  return value
}
