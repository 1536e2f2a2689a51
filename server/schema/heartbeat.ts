import { GraphQLError } from 'graphql'
import { type Address, type Hex, isHex, verifyMessage } from 'viem'
import { builder } from '../builder.ts'
import { upsertHeartbeat } from '../db/heartbeats.ts'

/** How far a heartbeat's signed timestamp may be from server time. */
export const heartbeatMaxSkewSeconds = 60
/** How recent a heartbeat must be for the matcher to consider the provider live. */
export const heartbeatLivenessSeconds = 30

/** The EIP-191 message a provider signs: `tessera-heartbeat:<provider lower-case>:<timestamp>`. */
export function heartbeatMessage(provider: Address, timestamp: number | bigint): string {
  return `tessera-heartbeat:${provider.toLowerCase()}:${timestamp}`
}

/** A heartbeat the server refused; the message says why. Not retryable as-is (re-sign with a fresh timestamp). */
export class HeartbeatRejectedError extends GraphQLError {
  constructor(reason: string) {
    super(`heartbeat rejected: ${reason}`, { extensions: { code: 'HEARTBEAT_REJECTED' } })
    this.name = 'HeartbeatRejectedError'
  }
}

builder.mutationFields((t) => ({
  heartbeat: t.boolean({
    description:
      'Marks a provider live. `signature` is the EIP-191 personal_sign of `tessera-heartbeat:<provider lower-case>:<timestamp>` by the provider key; `timestamp` (unix s) must be within 60 s of server time.',
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      timestamp: t.arg.int({ required: true }),
      signature: t.arg.string({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const now = ctx.now()
      if (Math.abs(now - args.timestamp) > heartbeatMaxSkewSeconds)
        throw new HeartbeatRejectedError(
          `timestamp ${args.timestamp} is more than ${heartbeatMaxSkewSeconds} s from server time ${Math.floor(now)}`,
        )
      if (!isHex(args.signature) || args.signature.length !== 132)
        throw new HeartbeatRejectedError('signature must be a 65-byte 0x-prefixed hex string')
      const valid = await verifyMessage({
        address: args.provider,
        message: heartbeatMessage(args.provider, args.timestamp),
        signature: args.signature as Hex,
      }).catch(() => false)
      if (!valid) throw new HeartbeatRejectedError(`signature was not made by ${args.provider}`)
      await upsertHeartbeat(ctx.db, {
        provider: args.provider.toLowerCase(),
        timestamp: BigInt(args.timestamp),
        signature: args.signature,
        lastSeen: new Date(now * 1000),
      })
      return true
    },
  }),
}))
