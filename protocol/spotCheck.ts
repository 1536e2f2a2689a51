import { encodeAbiParameters, type Hex, keccak256, zeroHash } from 'viem'
import { BPS } from './units.ts'

/** Why an optimistic job is audited (JobMarket `AuditKind`). */
export enum AuditKind {
  None = 0,
  Spot = 1,
  Threshold = 2,
  Challenge = 3,
}

/** The names GraphQL and the CLI use for {@link AuditKind}, by its value. */
export const auditKindNames = ['NONE', 'SPOT', 'THRESHOLD', 'CHALLENGE'] as const
export type AuditKindName = (typeof auditKindNames)[number]

/**
 * JobMarket `spotCheckOf` for a job below the audit threshold: selected (Spot) when
 * `keccak256(abi.encode(seed, jobId)) mod BPS < spotCheckBps`, `seed` the hash of the block after the reveal. A zero
 * seed (the block not mined yet, or more than 256 blocks old) counts as selected, as on chain.
 */
export function spotCheckOf(parameters: { seed: Hex; jobId: bigint; spotCheckBps: bigint }): AuditKind {
  const { seed, jobId, spotCheckBps } = parameters
  if (seed === zeroHash) return AuditKind.Spot
  const draw = BigInt(keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [seed, jobId]))) % BPS
  return draw < spotCheckBps ? AuditKind.Spot : AuditKind.None
}

/**
 * The chance that a provider faking a fraction `r` of its optimistic jobs is caught at least once within `n` of them,
 * each spot-checked with probability `p`: `1 − (1 − p·r)^n` (docs/PROTOCOL.md).
 */
export function catchProbability(parameters: { p: number; r: number; n: number }): number {
  return 1 - (1 - parameters.p * parameters.r) ** parameters.n
}
