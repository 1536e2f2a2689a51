import type { FieldRef } from '@pothos/core'
import { GraphQLError, Kind } from 'graphql'
import { getAddress, isAddress } from 'viem'
import { builder } from '../builder.ts'

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never

const int = /^-?(0|[1-9]\d{0,77})$/
const bytes32 = /^0x[0-9a-fA-F]{64}$/

function parseBigInt(value: unknown): bigint {
  if (typeof value === 'string' && int.test(value)) return BigInt(value)
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value)
  throw new GraphQLError(`BigInt must be a decimal integer string, got ${JSON.stringify(value)}`)
}

function parseAddress(value: unknown) {
  if (typeof value === 'string' && isAddress(value, { strict: false })) return getAddress(value)
  throw new GraphQLError(`Address must be a 20-byte 0x-prefixed hex string, got ${JSON.stringify(value)}`)
}

function parseBytes32(value: unknown) {
  if (typeof value === 'string' && bytes32.test(value)) return value.toLowerCase() as `0x${string}`
  throw new GraphQLError(`Bytes32 must be a 32-byte 0x-prefixed hex string, got ${JSON.stringify(value)}`)
}

builder.scalarType('BigInt', {
  description: 'An integer of any size as a decimal string (token amounts are wei, 18 decimals).',
  serialize: (value) => {
    if (typeof value === 'bigint') return value.toString()
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
    if (typeof value === 'string' && int.test(value)) return value
    throw new GraphQLError(`cannot serialize ${String(value)} as BigInt`)
  },
  parseValue: parseBigInt,
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT) return parseBigInt(ast.value)
    throw new GraphQLError('BigInt must be a decimal integer string')
  },
})

builder.scalarType('Address', {
  description: 'A 20-byte account address; EIP-55 checksummed on output, any case accepted on input.',
  serialize: (value) => getAddress(String(value)),
  parseValue: parseAddress,
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING) return parseAddress(ast.value)
    throw new GraphQLError('Address must be a string')
  },
})

builder.scalarType('Bytes32', {
  description: 'A 32-byte value as 0x-prefixed lower-case hex (hashes, fingerprints, regions).',
  serialize: (value) => String(value).toLowerCase(),
  parseValue: parseBytes32,
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING) return parseBytes32(ast.value)
    throw new GraphQLError('Bytes32 must be a string')
  },
})

/** Which way a list runs. */
export const OrderDirection = builder.enumType('OrderDirection', { values: { asc: {}, desc: {} } as const })

/** The fields of `Parent` that hold a bigint (or, with `nullable`, a bigint or null). */
type BigIntKeys<Parent, Nullable extends boolean> = {
  [K in keyof Parent & string]: Parent[K] extends (Nullable extends true ? bigint | null : bigint) ? K : never
}[keyof Parent & string]

/**
 * Exposes each of `names` under its own name as a `BigInt` field (non-null unless `nullable`): the amounts, block
 * numbers and timestamps most objects carry. Spread the result into `fields`.
 */
export function exposeBigInts<Parent, K extends BigIntKeys<Parent, Nullable>, Nullable extends boolean = false>(
  t: PothosSchemaTypes.ObjectFieldBuilder<Types, Parent>,
  names: readonly K[],
  options: { nullable?: Nullable } = {},
): Record<K, FieldRef<Types, bigint | null, 'Object'>> {
  // Pothos can't check a name chosen at run time; BigIntKeys checked it for every caller.
  const fields = t as unknown as {
    expose: (name: string, options: { type: 'BigInt'; nullable: boolean }) => FieldRef<Types, bigint | null, 'Object'>
  }
  const nullable = options.nullable ?? false
  return Object.fromEntries(names.map((name) => [name, fields.expose(name, { type: 'BigInt', nullable })])) as Record<
    K,
    FieldRef<Types, bigint | null, 'Object'>
  >
}
