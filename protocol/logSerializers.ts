import pino from 'pino'

/** The longest string an error's logged fields keep (a viem error quotes whole request bodies). */
const maxLoggedString = 2000

/** `value` with every string past {@link maxLoggedString} clipped and every `abi` dropped, down to its causes. */
function trimmed(value: unknown, depth = 0): unknown {
  if (typeof value === 'string')
    return value.length > maxLoggedString
      ? `${value.slice(0, maxLoggedString)}… (${value.length - maxLoggedString} more characters)`
      : value
  if (typeof value !== 'object' || value === null || depth > 6) return value
  if (Array.isArray(value)) return value.map((v) => trimmed(v, depth + 1))
  const kept: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) if (key !== 'abi') kept[key] = trimmed(v, depth + 1)
  return kept
}

/**
 * pino's `err` serializer (type, message, stack, cause and own fields) without the bulk viem errors carry: a contract
 * error's whole `abi`, and request bodies and stacks past {@link maxLoggedString} characters, its causes' too. Logged
 * as they were, an agent's failing steps wrote 400 MB of logs in a minute.
 */
export function serializeError(error: Error): Record<string, unknown> {
  return trimmed(pino.stdSerializers.err(error)) as Record<string, unknown>
}

/** The serializers every Tessera logger uses. */
export const logSerializers = { err: serializeError }
