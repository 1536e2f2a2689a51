import type { Address } from 'viem'
import { graphqlRequest } from './serverClient.ts'

/** A job waiting for providers (OPEN, or DISPUTED for its tie-break), as a provider deciding to claim it needs it. */
export type WaitingJob = {
  id: bigint
  status: 'OPEN' | 'DISPUTED'
  maxPricePerUnit: bigint
  redundancy: number
  /** Unix seconds (chain time). */
  deadline: bigint
  /** Unix seconds the job last began waiting: it may be claimed from `openedAt + claimGrace`. */
  openedAt: bigint
  /** Lower-case, as the server serves them. */
  claimers: Address[]
  disputedProviders: Address[]
}

export type FetchWaitingJobsParameters = {
  serverUrl: string
  /** Only jobs waiting since this unix time or earlier. */
  openedBefore: bigint
  /** At most this many, oldest first. Default 50. */
  first?: number
  signal?: AbortSignal
}

const waitingJobsQuery = /* GraphQL */ `
  query WaitingJobs($openedBefore: BigInt!, $first: Int!) {
    jobs(where: { status_in: [OPEN, DISPUTED], openedBefore: $openedBefore }, orderBy: ID, orderDirection: asc, first: $first) {
      edges { node { id status maxPricePerUnit redundancy deadline openedAt claimers disputedProviders } }
    }
  }`

type WaitingJobNode = Omit<WaitingJob, 'id' | 'maxPricePerUnit' | 'deadline' | 'openedAt'> & {
  id: string
  maxPricePerUnit: string
  deadline: string
  openedAt: string
}

/**
 * The jobs that have waited for providers since `openedBefore` or longer, oldest first, as the server's index has them
 * (the chain may be a few blocks ahead: the claim itself is the judge).
 */
export async function fetchWaitingJobs(parameters: FetchWaitingJobsParameters): Promise<WaitingJob[]> {
  const data = await graphqlRequest<{ jobs: { edges: { node: WaitingJobNode }[] } }>({
    serverUrl: parameters.serverUrl,
    query: waitingJobsQuery,
    variables: { openedBefore: parameters.openedBefore.toString(), first: parameters.first ?? 50 },
    signal: parameters.signal,
  })
  return data.jobs.edges.map(({ node }) => ({
    ...node,
    id: BigInt(node.id),
    maxPricePerUnit: BigInt(node.maxPricePerUnit),
    deadline: BigInt(node.deadline),
    openedAt: BigInt(node.openedAt),
  }))
}
