import { Verification, type VerificationName } from '../protocol/enums.ts'
import { ConfigError } from './config.ts'

/** How `tessera job submit` has its job verified: the mode and how many providers run it. */
export type JobVerification = { verification: Verification; redundancy: number; name: VerificationName }

/** JobMarket's `MIN_REDUNDANCY` and `MAX_REDUNDANCY`: a Redundant job's k. Checked here so a typo fails before any approve. */
const redundantK = { min: 2, max: 16 } as const
const defaultRedundantK = 2

/**
 * `--verification redundant|optimistic` and `--redundancy <k>` of `tessera job submit`, checked before anything is
 * uploaded or approved. Redundant (the default) runs the job on k providers (default 2) that must agree; Optimistic
 * runs it once and spot-checks it, so it implies k = 1, and any other `--redundancy` is a {@link ConfigError} naming
 * the flag rather than a revert after the escrow was approved.
 */
export function jobVerificationOf(flags: { verification?: string; redundancy?: string }): JobVerification {
  const mode = (flags.verification ?? 'redundant').trim().toLowerCase()
  if (mode !== 'redundant' && mode !== 'optimistic')
    throw new ConfigError(`--verification must be redundant or optimistic, got ${JSON.stringify(flags.verification)}`)
  const k = flags.redundancy === undefined ? undefined : Number(flags.redundancy)
  if (k !== undefined && !Number.isInteger(k))
    throw new ConfigError(`--redundancy must be a whole number of providers, got ${JSON.stringify(flags.redundancy)}`)
  if (mode === 'optimistic') {
    if (k !== undefined && k !== 1)
      throw new ConfigError(
        `--redundancy must be 1 with --verification optimistic (the job runs once and is spot-checked), got ${flags.redundancy}`,
        { metaMessages: ['Leave --redundancy out, or use --verification redundant to have k providers agree.'] },
      )
    return { verification: Verification.Optimistic, redundancy: 1, name: 'OPTIMISTIC' }
  }
  const redundancy = k ?? defaultRedundantK
  if (redundancy < redundantK.min || redundancy > redundantK.max)
    throw new ConfigError(
      `--redundancy must be ${redundantK.min} to ${redundantK.max} with --verification redundant, got ${flags.redundancy}`,
      { metaMessages: redundancy === 1 ? ['One provider alone: use --verification optimistic.'] : undefined },
    )
  return { verification: Verification.Redundant, redundancy, name: 'REDUNDANT' }
}
