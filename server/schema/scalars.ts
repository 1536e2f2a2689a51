import { GraphQLError, Kind } from 'graphql'
import { getAddress, isAddress } from 'viem'
import { builder } from '../builder.ts'

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

export const OrderDirection = builder.enumType('OrderDirection', { values: { asc: {}, desc: {} } as const })
