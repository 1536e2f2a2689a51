/** JobMarket's `Status` enum: each status's on-chain value. */
export const JobStatus = {
  None: 0,
  Open: 1,
  Assigned: 2,
  Committed: 3,
  Revealed: 4,
  Completed: 5,
  Failed: 6,
  Cancelled: 7,
  Expired: 8,
  Disputed: 9,
  FailedInvalid: 10,
} as const
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus]

/** The statuses of an existing job as the indexer stores them and the API names them (`job.status`). */
export const jobStatusNames = [
  'OPEN',
  'ASSIGNED',
  'COMMITTED',
  'REVEALED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'DISPUTED',
  'FAILED_INVALID',
] as const
export type JobStatusName = (typeof jobStatusNames)[number]

/** The statuses a job never leaves: COMPLETED with a result, or ended without one (DISPUTED still goes to a tie-break). */
export const finishedJobStatuses = [
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'FAILED_INVALID',
] as const satisfies readonly JobStatusName[]

/** The name of an on-chain status value (`NONE` for a job that doesn't exist, `UNKNOWN_<n>` past the enum). */
export function jobStatusName(status: number): JobStatusName | 'NONE' | `UNKNOWN_${number}` {
  if (status === JobStatus.None) return 'NONE'
  return jobStatusNames[status - 1] ?? `UNKNOWN_${status}`
}

/** JobMarket's `Verification` enum: each mode's on-chain value. */
export const Verification = { Redundant: 0, Optimistic: 1 } as const
export type Verification = (typeof Verification)[keyof typeof Verification]

/** Verification modes as the API names them, index = on-chain value. */
export const verificationNames = ['REDUNDANT', 'OPTIMISTIC'] as const
export type VerificationName = (typeof verificationNames)[number]

/**
 * How one provider's part in a job ended, as the indexer records it: still `PENDING`; settled (JobMarket `SlotSettled`)
 * `AGREED` (revealed the winner: paid or credited), `DISSENTED` or `NO_REVEAL` (slashed), or `RELEASED` (no verdict,
 * or committed in an assignment that expired: unlocked without fault); at `expireAssignment` `NO_SHOW` (slashed).
 */
export const assignmentOutcomes = ['PENDING', 'AGREED', 'DISSENTED', 'NO_REVEAL', 'NO_SHOW', 'RELEASED'] as const
export type AssignmentOutcome = (typeof assignmentOutcomes)[number]

/** JobMarket's `Outcome` enum as `SlotSettled` carries it: each outcome's name, index = on-chain value. */
export const slotOutcomes = ['AGREED', 'DISSENTED', 'NO_REVEAL', 'RELEASED'] as const satisfies readonly AssignmentOutcome[]
export type SlotOutcome = (typeof slotOutcomes)[number]

/**
 * What a JobMarket credit or payout was: a provider's fee, its share of a slash, a requester's refund, a withdrawal,
 * an optimistic provider's half of the bond of a challenge it won (`BOND_SHARE`), a challenger's bond given back
 * (`BOND_RETURN`).
 */
export const paymentKinds = ['FEE', 'SLASH_SHARE', 'REFUND', 'WITHDRAWAL', 'BOND_SHARE', 'BOND_RETURN'] as const
export type PaymentKind = (typeof paymentKinds)[number]
