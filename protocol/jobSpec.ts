import type { VerificationName } from './enums.ts'
import { BPS } from './units.ts'

/** JobMarket's bounds on a job spec: its `MIN_REDUNDANCY`, `MAX_REDUNDANCY`, `MAX_REGIONS` and `MAX_OUTPUT_TOLERANCE`. */
export const jobSpecBounds = { minRedundancy: 2, maxRedundancy: 16, maxRegions: 16, maxOutputTolerance: 23 } as const

/** One thing JobMarket would refuse in a spec: the field, and a message that starts with the field's name. */
export type JobSpecProblem = { field: string; message: string }

/**
 * What a job asks of its providers and pays them, as `quote` takes it: the spec but its blobs, deadline and tolerance.
 * `verification` is the contract's value (0 Redundant, 1 Optimistic) or the API's name.
 */
export type JobSpecTerms = {
  verification: number | VerificationName
  redundancy: number
  units: bigint
  maxPricePerUnit: bigint
  minVramMiB: number | bigint
  gpuModel: number | bigint
  regions: readonly string[]
}

/** JobMarket's `JobSpec` as `submitJob` takes it. */
export type SubmitJobSpec = JobSpecTerms & { modelHash: string; inputHash: string; deadline: bigint; outputTolerance: number }

const maxUint = (bits: number) => (1n << BigInt(bits)) - 1n
const zeroHash = `0x${'0'.repeat(64)}`

/**
 * What JobMarket's `submitJob` would refuse in a spec's terms, one problem per field, none when it would take them:
 * the verification mode and its redundancy (2..16 redundant, exactly 1 optimistic), units and price positive and
 * within their types, an escrow (`maxPricePerUnit × units × k` and its take) that can't overflow uint256, at most 16
 * regions, and uint32 requirements.
 */
export function jobSpecProblems(spec: JobSpecTerms): JobSpecProblem[] {
  const problems: JobSpecProblem[] = []
  const problem = (field: string, message: string) => problems.push({ field, message })
  const optimistic = spec.verification === 1 || spec.verification === 'OPTIMISTIC'
  const { minRedundancy, maxRedundancy, maxRegions } = jobSpecBounds
  if (!optimistic && spec.verification !== 0 && spec.verification !== 'REDUNDANT')
    problem('verification', `verification must be 0 (Redundant) or 1 (Optimistic), got ${spec.verification}`)
  else if (optimistic && spec.redundancy !== 1)
    problem(
      'redundancy',
      `redundancy must be 1 for an Optimistic job (one provider runs it, spot checks and challenges audit it), got ${spec.redundancy}`,
    )
  else if (!optimistic && !(spec.redundancy >= minRedundancy && spec.redundancy <= maxRedundancy))
    problem('redundancy', `redundancy must be ${minRedundancy} to ${maxRedundancy} for a Redundant job, got ${spec.redundancy}`)
  const unitsOk = spec.units > 0n && spec.units <= maxUint(64)
  if (!unitsOk) problem('units', `units must be 1 to 2^64 − 1, got ${spec.units}`)
  const priceOk = spec.maxPricePerUnit > 0n && spec.maxPricePerUnit <= maxUint(256)
  if (!priceOk) problem('maxPricePerUnit', `maxPricePerUnit must be positive (wei per unit), got ${spec.maxPricePerUnit}`)
  // submitJob multiplies price × units × k, then that by the take's bps: past this it reverts with an overflow panic.
  const k = optimistic ? 2n : BigInt(Math.max(0, Math.min(spec.redundancy, maxRedundancy)))
  if (unitsOk && priceOk && spec.maxPricePerUnit * spec.units * k * BPS > maxUint(256))
    problem('maxPricePerUnit', `maxPricePerUnit × units × ${k} overflows the escrow (uint256 with its take): lower the price or the units`)
  if (spec.regions.length > maxRegions) problem('regions', `regions must name at most ${maxRegions} regions, got ${spec.regions.length}`)
  for (const field of ['minVramMiB', 'gpuModel'] as const) {
    const value = BigInt(spec[field])
    if (value < 0n || value > maxUint(32)) problem(field, `${field} must fit a uint32 (0 to 2^32 − 1), got ${value}`)
  }
  return problems
}

/**
 * What JobMarket's `submitJob` would refuse in `spec` at chain time `now` (unix s), and a deadline under
 * `minLeadSeconds` away (too little time to run): {@link jobSpecProblems}, then the deadline, non-zero hashes and an
 * output tolerance of 1..23 bits. None when it would be accepted.
 */
export function submitJobProblems(spec: SubmitJobSpec, now: bigint, minLeadSeconds = 60n): JobSpecProblem[] {
  const problems = jobSpecProblems(spec)
  const problem = (field: string, message: string) => problems.push({ field, message })
  // The contract wants a deadline after the block's time; the lead leaves the job time to be matched and run.
  if (spec.deadline <= now || spec.deadline < now + minLeadSeconds || spec.deadline > maxUint(64)) {
    const after = minLeadSeconds > 0n ? `at least ${minLeadSeconds} s after` : 'after'
    problem('deadline', `deadline ${spec.deadline} must be ${after} the chain's time ${now}`)
  }
  if (spec.modelHash.toLowerCase() === zeroHash) problem('modelHash', 'modelHash must not be zero')
  if (spec.inputHash.toLowerCase() === zeroHash) problem('inputHash', 'inputHash must not be zero')
  const { maxOutputTolerance } = jobSpecBounds
  if (!(spec.outputTolerance >= 1 && spec.outputTolerance <= maxOutputTolerance))
    problem('outputTolerance', `outputTolerance must be 1 to ${maxOutputTolerance} mantissa bits, got ${spec.outputTolerance}`)
  return problems
}
