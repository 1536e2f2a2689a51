import type { Address, Hex } from 'viem'
import type { AssignmentOutcome, JobStatusName, VerificationName } from '../protocol/enums.ts'
import { graphqlRequest } from './serverClient.ts'

/** One provider's part in a job, as the server indexed it. */
export type JobAssignmentView = {
  provider: Address
  round: number
  slot: number
  outcome: AssignmentOutcome
  /** The ask it is paid per unit. */
  price: bigint
  /** Revealed result: its fingerprint and the sha256 of the output blob it uploaded; null until revealed. */
  fingerprint: Hex | null
  outputHash: Hex | null
  paid: bigint
}

/** A job as the server's API shows it (GraphQL `Job`), amounts in wei. */
export type JobView = {
  id: bigint
  status: JobStatusName
  verification: VerificationName
  redundancy: number
  requester: Address
  modelHash: Hex
  inputHash: Hex
  units: bigint
  maxPricePerUnit: bigint
  outputTolerance: number
  escrow: bigint
  fees: bigint | null
  refunded: bigint | null
  burned: bigint | null
  /** Unix seconds, chain time. */
  deadline: bigint
  submittedAt: bigint
  finalizedAt: bigint | null
  /** The winning fingerprint once finalized. */
  fingerprint: Hex | null
  round: number
  txHash: Hex
  assignments: JobAssignmentView[]
}

/** The `Job` fields a {@link JobView} is made of, for queries that return jobs. */
export const jobViewFields = `id status verification redundancy requester modelHash inputHash units maxPricePerUnit outputTolerance
  escrow fees refunded burned deadline submittedAt finalizedAt fingerprint round txHash
  assignments { provider round slot outcome price fingerprint outputHash paid }`

type Raw<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] extends bigint | null ? string | null : T[K] }
/** A job as the API answers it: amounts and times as decimal strings. */
export type RawJob = Omit<Raw<JobView>, 'assignments'> & { assignments: Raw<JobAssignmentView>[] }

const big = (value: string | null) => (value === null ? null : BigInt(value))

/** A job from the API's answer, its decimal strings made bigints. */
export function jobViewOf(raw: RawJob): JobView {
  return {
    ...raw,
    id: BigInt(raw.id),
    units: BigInt(raw.units),
    maxPricePerUnit: BigInt(raw.maxPricePerUnit),
    escrow: BigInt(raw.escrow),
    fees: big(raw.fees),
    refunded: big(raw.refunded),
    burned: big(raw.burned),
    deadline: BigInt(raw.deadline),
    submittedAt: BigInt(raw.submittedAt),
    finalizedAt: big(raw.finalizedAt),
    assignments: raw.assignments.map((a) => ({ ...a, price: BigInt(a.price), paid: BigInt(a.paid) })),
  }
}

const jobQuery = /* GraphQL */ `
  query Job($id: BigInt!) {
    job(id: $id) { ${jobViewFields} }
  }`

/** Reads one job from the server's API; null when the server hasn't indexed it (yet). */
export async function fetchJob(parameters: { serverUrl: string; jobId: bigint; signal?: AbortSignal }): Promise<JobView | null> {
  const data = await graphqlRequest<{ job: RawJob | null }>({
    serverUrl: parameters.serverUrl,
    query: jobQuery,
    variables: { id: parameters.jobId.toString() },
    signal: parameters.signal,
  })
  return data.job ? jobViewOf(data.job) : null
}
