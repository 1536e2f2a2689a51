import { type Address, type Hex, hexToBigInt, isHex, parseSignature, verifyMessage } from 'viem'
import {
  heartbeatMaxAgeSeconds,
  heartbeatMaxAheadSeconds,
  heartbeatMaxModels,
  heartbeatMessage,
  heartbeatModels,
} from '../protocol/heartbeat.ts'
import type { ServerContext } from './context.ts'
import { upsertHeartbeat } from './db/heartbeats.ts'
import { findProvidersByAddresses } from './db/providers.ts'
import { UserInputError } from './errors.ts'

/**
 * A heartbeat the server refused, and nothing of it written; the message says why, and clients see the code
 * `HEARTBEAT_REJECTED`. Not retryable as-is: re-sign with a fresh timestamp (and the right chain id and domain).
 */
export class HeartbeatRejectedError extends UserInputError {
  override name = 'HeartbeatRejectedError'
  constructor(reason: string) {
    super(`heartbeat rejected: ${reason}`, { code: 'HEARTBEAT_REJECTED' })
  }
}

/** Half the order of secp256k1: a signature's `s` above it is the malleable twin of a low-s one (EIP-2). */
const secp256k1HalfOrder = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

const modelHashPattern = /^0x[0-9a-fA-F]{64}$/

/** The reported models as hashes, or a {@link HeartbeatRejectedError} naming the first that isn't one. */
function modelHashes(models: readonly string[]): Hex[] {
  if (models.length > heartbeatMaxModels)
    throw new HeartbeatRejectedError(`${models.length} models reported, at most ${heartbeatMaxModels} may be`)
  const bad = models.findIndex((m) => !modelHashPattern.test(m))
  if (bad >= 0) throw new HeartbeatRejectedError(`models[${bad}] "${models[bad].slice(0, 80)}" is not a model hash (0x and 64 hex digits)`)
  return models as Hex[]
}

/** `signature` as 65 bytes of hex with a low `s`, or a {@link HeartbeatRejectedError} saying what it isn't. */
function lowSSignature(signature: string): Hex {
  if (!isHex(signature) || signature.length !== 132) throw new HeartbeatRejectedError('signature must be a 65-byte 0x-prefixed hex string')
  let s: bigint
  try {
    s = hexToBigInt(parseSignature(signature).s)
  } catch {
    throw new HeartbeatRejectedError('signature is not an r, s, v signature (r and s in 1..n-1, v 27, 28, 0 or 1)')
  }
  if (s > secp256k1HalfOrder) throw new HeartbeatRejectedError('signature has a high s (over secp256k1n/2): sign with low s (EIP-2)')
  return signature
}

export type AcceptHeartbeatParameters = {
  provider: Address
  /** Unix seconds, as signed. */
  timestamp: number
  signature: string
  models?: readonly string[] | null
}

/**
 * Records a provider's heartbeat (live for the matcher from `now`, holding `models` warm) when all of these hold, and
 * otherwise throws a {@link HeartbeatRejectedError} naming the first that doesn't, writing nothing:
 * - `timestamp` is at most {@link heartbeatMaxAgeSeconds} behind server time and {@link heartbeatMaxAheadSeconds}
 *   ahead of it;
 * - `models` are at most {@link heartbeatMaxModels} sha256 model hashes (any case and order);
 * - `signature` is the provider's low-s EIP-191 signature of {@link heartbeatMessage} for this deployment's chain id
 *   and this server's `domain`;
 * - the provider is registered and not paused in the indexed data;
 * - `timestamp` is greater than the provider's last accepted one (so a replay, even of the latest, is refused),
 *   decided by the write itself.
 *
 * `domain`: the context's (the configured one, else the host the request was addressed to); without one nothing is
 * accepted.
 */
export async function acceptHeartbeat(
  ctx: Pick<ServerContext, 'db' | 'views' | 'deployment' | 'domain' | 'now'>,
  heartbeat: AcceptHeartbeatParameters,
): Promise<void> {
  const { provider, timestamp } = heartbeat
  const now = ctx.now()
  if (timestamp < now - heartbeatMaxAgeSeconds)
    throw new HeartbeatRejectedError(
      `timestamp ${timestamp} is more than ${heartbeatMaxAgeSeconds} s behind server time ${Math.floor(now)}`,
    )
  if (timestamp > now + heartbeatMaxAheadSeconds)
    throw new HeartbeatRejectedError(
      `timestamp ${timestamp} is more than ${heartbeatMaxAheadSeconds} s ahead of server time ${Math.floor(now)}`,
    )
  const signature = lowSSignature(heartbeat.signature)
  const models = modelHashes(heartbeat.models ?? [])
  const { chainId } = ctx.deployment
  const { domain } = ctx
  if (!domain) throw new HeartbeatRejectedError('this server does not know the domain it serves (its operator must configure one)')
  const message = heartbeatMessage({ chainId, domain, provider, timestamp, models })
  const valid = await verifyMessage({ address: provider, message, signature }).catch(() => false)
  if (!valid)
    throw new HeartbeatRejectedError(
      `signature was not made by ${provider} over "${message}" (this server's chain id is ${chainId}, its domain ${domain})`,
    )
  const [indexed] = await findProvidersByAddresses(ctx.views, [provider])
  if (!indexed?.registered)
    throw new HeartbeatRejectedError(`${provider} is not a registered provider (or its registration is not indexed yet)`)
  if (indexed.paused) throw new HeartbeatRejectedError(`provider ${provider} is paused: unpause it to heartbeat`)
  const stored = await upsertHeartbeat(ctx.db, {
    provider,
    timestamp: BigInt(timestamp),
    signature,
    lastSeen: new Date(now * 1000),
    models: heartbeatModels(models),
  })
  if (!stored.written)
    throw new HeartbeatRejectedError(
      `timestamp ${timestamp} is not after ${stored.storedTimestamp}, the last accepted from ${provider} (a replay, or sent too soon)`,
    )
}
