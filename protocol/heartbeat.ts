import { type Address, concat, type Hex, keccak256 } from 'viem'

/** How far a heartbeat's signed timestamp may be from server time, in seconds. */
export const heartbeatMaxSkewSeconds = 60

/** How recent a heartbeat must be for the matcher to count the provider live, in seconds. */
export const heartbeatLivenessSeconds = 30

/** The most model hashes one heartbeat may report warm; the server refuses more. */
export const heartbeatMaxModels = 64

/** Model hashes as a heartbeat signs and the server stores them: lower-case, sorted, each once. */
export function heartbeatModels(models: readonly Hex[]): Hex[] {
  return [...new Set(models.map((m) => m.toLowerCase() as Hex))].sort()
}

/**
 * The EIP-191 message a provider signs to heartbeat: `tessera-heartbeat:<provider lower-case>:<timestamp>`, and when it
 * reports warm models `…:<timestamp>:<keccak256 of the concatenated heartbeatModels(models)>`, so the list is covered by
 * the signature. With no models the message is the original one: agents that report none sign what they always did.
 */
export function heartbeatMessage(provider: Address, timestamp: number | bigint, models: readonly Hex[] = []): string {
  const message = `tessera-heartbeat:${provider.toLowerCase()}:${timestamp}`
  return models.length ? `${message}:${keccak256(concat(heartbeatModels(models)))}` : message
}
