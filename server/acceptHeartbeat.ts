import type { Kysely } from 'kysely'
import { type Address, isHex, verifyMessage } from 'viem'
import { heartbeatMaxSkewSeconds, heartbeatMessage } from '../protocol/heartbeat.ts'
import type { Database } from './db/database.ts'
import { upsertHeartbeat } from './db/heartbeats.ts'
import { UserInputError } from './errors.ts'

/**
 * A heartbeat the server refused; the message says why, and clients see the code `HEARTBEAT_REJECTED`. Not
 * retryable as-is: re-sign with a fresh timestamp.
 */
export class HeartbeatRejectedError extends UserInputError {
  override name = 'HeartbeatRejectedError'
  constructor(reason: string) {
    super(`heartbeat rejected: ${reason}`, { code: 'HEARTBEAT_REJECTED' })
  }
}

/**
 * Records a provider's heartbeat (it is live for the matcher from `now`) when `signature` is the provider's EIP-191
 * signature of {@link heartbeatMessage} and `timestamp` is within {@link heartbeatMaxSkewSeconds} of `now` (unix s,
 * server time). Throws {@link HeartbeatRejectedError} otherwise.
 */
export async function acceptHeartbeat(
  db: Kysely<Database>,
  heartbeat: { provider: Address; timestamp: number; signature: string; now: number },
): Promise<void> {
  const { provider, timestamp, signature, now } = heartbeat
  if (Math.abs(now - timestamp) > heartbeatMaxSkewSeconds)
    throw new HeartbeatRejectedError(`timestamp ${timestamp} is more than ${heartbeatMaxSkewSeconds} s from server time ${Math.floor(now)}`)
  if (!isHex(signature) || signature.length !== 132) throw new HeartbeatRejectedError('signature must be a 65-byte 0x-prefixed hex string')
  const valid = await verifyMessage({ address: provider, message: heartbeatMessage(provider, timestamp), signature }).catch(() => false)
  if (!valid) throw new HeartbeatRejectedError(`signature was not made by ${provider}`)
  await upsertHeartbeat(db, { provider: provider.toLowerCase(), timestamp: BigInt(timestamp), signature, lastSeen: new Date(now * 1000) })
}
