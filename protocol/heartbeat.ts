import type { Address } from 'viem'

/** How far a heartbeat's signed timestamp may be from server time, in seconds. */
export const heartbeatMaxSkewSeconds = 60

/** How recent a heartbeat must be for the matcher to count the provider live, in seconds. */
export const heartbeatLivenessSeconds = 30

/** The EIP-191 message a provider signs to heartbeat: `tessera-heartbeat:<provider lower-case>:<timestamp>`. */
export function heartbeatMessage(provider: Address, timestamp: number | bigint): string {
  return `tessera-heartbeat:${provider.toLowerCase()}:${timestamp}`
}
