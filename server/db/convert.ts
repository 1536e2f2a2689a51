import { type Address, getAddress } from 'viem'

/** `numeric`/`bigint` columns arrive as strings (or numbers for small ints); money stays bigint. */
export function toBigInt(value: string | number | bigint): bigint
export function toBigInt(value: string | number | bigint | null | undefined): bigint | null
export function toBigInt(value: string | number | bigint | null | undefined): bigint | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint') return value
  if (typeof value === 'number') return BigInt(value)
  return BigInt(value.includes('.') ? value.split('.')[0]! : value)
}

/** Small integer columns (counts, slots, ids of enums) as a JS number. */
export function toInt(value: string | number | bigint | null | undefined): number | null {
  if (value === null || value === undefined) return null
  return Number(value)
}

/** Lower-case hex as stored by the indexer → EIP-55 checksummed. */
export function toAddress(value: string): Address {
  return getAddress(value)
}
