import { type Address, concat, type Hex, keccak256 } from 'viem'
import { sleep } from './retry.ts'

/** How far behind server time a heartbeat's signed timestamp may be, in seconds. */
export const heartbeatMaxAgeSeconds = 60

/**
 * How far ahead of server time a heartbeat's signed timestamp may be, in seconds: clock drift only. Kept small because
 * the server refuses timestamps not after the last it accepted, so one from the future holds off the provider's own
 * heartbeats until its clock catches up.
 */
export const heartbeatMaxAheadSeconds = 5

/** How recent a heartbeat must be for the matcher to count the provider live, in seconds. */
export const heartbeatLivenessSeconds = 30

/** The most model hashes one heartbeat may report warm; the server refuses more. */
export const heartbeatMaxModels = 64

/** Model hashes as a heartbeat signs and the server stores them: lower-case, sorted, each once. */
export function heartbeatModels(models: readonly Hex[]): Hex[] {
  return [...new Set(models.map((m) => m.toLowerCase() as Hex))].sort()
}

/**
 * The domain a heartbeat sent to `serverUrl` is signed for: the URL's host (lower-case host name or `[IPv6]`, and
 * `:port` unless it is the scheme's default), e.g. `api.tessera.example` or `127.0.0.1:4000`. Agents sign the host they
 * connect to, not one a server names, so a server cannot collect heartbeats that another server would accept.
 */
export function heartbeatDomain(serverUrl: string | URL): string {
  return new URL(serverUrl).host
}

/** What a heartbeat signs: the provider's claim to be up at `timestamp`, for one server of one chain. */
export type HeartbeatMessageParameters = {
  /** The deployment's chain id. */
  chainId: number
  /** The server's {@link heartbeatDomain}. */
  domain: string
  provider: Address
  /** Unix seconds, the provider's clock; each must be greater than the last the server accepted. */
  timestamp: number | bigint
  /** Model hashes held warm, any case and order; see {@link heartbeatModels}. */
  models?: readonly Hex[]
}

/**
 * The EIP-191 message a provider signs to heartbeat:
 * `tessera-heartbeat:<chainId>:<domain>:<provider lower-case>:<timestamp>`, and when it reports warm models
 * `…:<timestamp>:<keccak256 of the concatenated heartbeatModels(models)>`, so the list is covered by the signature.
 * The chain id and domain stop a heartbeat being replayed to another chain's or another server's API. The fields split
 * unambiguously although a domain may hold a `:port`: a port is digits, a provider starts `0x`.
 */
export function heartbeatMessage(parameters: HeartbeatMessageParameters): string {
  const { chainId, domain, provider, timestamp, models = [] } = parameters
  const message = `tessera-heartbeat:${chainId}:${domain}:${provider.toLowerCase()}:${timestamp}`
  return models.length ? `${message}:${keccak256(concat(heartbeatModels(models)))}` : message
}

/**
 * The first whole second of the wall clock after `last` (unix s), once the clock has reached it: the server refuses a
 * timestamp not after the last it accepted, so one provider's heartbeats go out in distinct seconds. A timer may fire
 * a little before the clock turns, so this checks the clock rather than trusting one sleep. Returns early, with the
 * current second, when `signal` aborts.
 */
export async function nextHeartbeatSecond(last: number, signal?: AbortSignal): Promise<number> {
  while (!signal?.aborted && Math.floor(Date.now() / 1000) <= last) await sleep((last + 1) * 1000 - Date.now() + 1, signal)
  return Math.floor(Date.now() / 1000)
}
