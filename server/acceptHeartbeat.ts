import type { Kysely } from 'kysely'
import { type Address, type Hex, isHex, verifyMessage } from 'viem'
import { heartbeatMaxModels, heartbeatMaxSkewSeconds, heartbeatMessage, heartbeatModels } from '../protocol/heartbeat.ts'
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

const modelHashPattern = /^0x[0-9a-fA-F]{64}$/

/** The reported models as hashes, or a {@link HeartbeatRejectedError} naming the first that isn't one. */
function modelHashes(models: readonly string[]): Hex[] {
  if (models.length > heartbeatMaxModels)
    throw new HeartbeatRejectedError(`${models.length} models reported, at most ${heartbeatMaxModels} may be`)
  const bad = models.findIndex((m) => !modelHashPattern.test(m))
  if (bad >= 0) throw new HeartbeatRejectedError(`models[${bad}] "${models[bad].slice(0, 80)}" is not a model hash (0x and 64 hex digits)`)
  return models as Hex[]
}

/**
 * Records a provider's heartbeat (it is live for the matcher from `now`, and holds `models` warm) when `signature` is
 * the provider's EIP-191 signature of {@link heartbeatMessage} over `timestamp` and `models`, and `timestamp` is within
 * {@link heartbeatMaxSkewSeconds} of `now` (unix s, server time). `models`: at most {@link heartbeatMaxModels} sha256
 * model hashes, any case and order; none (or absent) keeps the original message. Throws
 * {@link HeartbeatRejectedError} otherwise.
 */
export async function acceptHeartbeat(
  db: Kysely<Database>,
  heartbeat: { provider: Address; timestamp: number; signature: string; models?: readonly string[] | null; now: number },
): Promise<void> {
  const { provider, timestamp, signature, now } = heartbeat
  if (Math.abs(now - timestamp) > heartbeatMaxSkewSeconds)
    throw new HeartbeatRejectedError(`timestamp ${timestamp} is more than ${heartbeatMaxSkewSeconds} s from server time ${Math.floor(now)}`)
  if (!isHex(signature) || signature.length !== 132) throw new HeartbeatRejectedError('signature must be a 65-byte 0x-prefixed hex string')
  const models = modelHashes(heartbeat.models ?? [])
  const message = heartbeatMessage(provider, timestamp, models)
  const valid = await verifyMessage({ address: provider, message, signature }).catch(() => false)
  if (!valid) throw new HeartbeatRejectedError(`signature was not made by ${provider}`)
  await upsertHeartbeat(db, {
    provider: provider.toLowerCase(),
    timestamp: BigInt(timestamp),
    signature,
    lastSeen: new Date(now * 1000),
    models: heartbeatModels(models),
  })
}
