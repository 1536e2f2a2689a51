import type { Address } from 'viem'
import type { JobStatusName } from '../protocol/enums.ts'
import { type JobView, jobViewFields, jobViewOf, type RawJob } from './fetchJob.ts'
import { graphqlRequest } from './serverClient.ts'

export type FetchJobsParameters = {
  serverUrl: string
  /** Jobs this address submitted itself. */
  requester?: Address
  /** Only these jobs (a gateway account's, say). */
  ids?: readonly bigint[]
  status?: JobStatusName
  /** At most this many, newest first (the API allows up to 1000). */
  first: number
  signal?: AbortSignal
}

const jobsQuery = /* GraphQL */ `
  query Jobs($first: Int!, $where: JobWhere) {
    jobs(first: $first, where: $where) { edges { node { ${jobViewFields} } } }
  }`

/** Reads jobs from the server's API, newest first, filtered by requester, ids and status. */
export async function fetchJobs(parameters: FetchJobsParameters): Promise<JobView[]> {
  const where = {
    ...(parameters.requester ? { requester: parameters.requester } : {}),
    ...(parameters.ids ? { id_in: parameters.ids.map(String) } : {}),
    ...(parameters.status ? { status: parameters.status } : {}),
  }
  const data = await graphqlRequest<{ jobs: { edges: { node: RawJob }[] } }>({
    serverUrl: parameters.serverUrl,
    query: jobsQuery,
    variables: { first: parameters.first, where },
    signal: parameters.signal,
  })
  return data.jobs.edges.map((edge) => jobViewOf(edge.node))
}
