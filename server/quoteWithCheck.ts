import type { Kysely } from 'kysely'
import type { Hex } from 'viem'
import type { DeploymentParams } from '../protocol/deployment.ts'
import type { BlobStore } from './blobs/blobStore.ts'
import { checkJob, type JobCheck, JobCheckUnavailableError, type ModelInspector } from './checkJob.ts'
import type { Database, Views } from './db/database.ts'
import { findJobQueue } from './db/jobs.ts'
import { findCandidateProviders } from './db/providers.ts'
import { type JobQueue, type QuoteJobParameters, type QuoteJobReturnType, quoteJob, validateSpec } from './leader/quoteJob.ts'

/**
 * A quote, with the queue its ETA was judged by and the door check of the job's model and input when the spec names
 * them (null otherwise).
 */
export type QuoteWithCheck = QuoteJobReturnType & { queue: JobQueue; check: JobCheck | null }

/**
 * Prices a job against the live providers and the jobs waiting (`quoteJob`, `findJobQueue`) and, when the spec names its
 * model and input, checks them as `checkJob` does, so a requester learns what a job would cost, when it would be done
 * and whether it can run before any escrow moves. A spec JobMarket would refuse is refused first (`UserInputError`).
 */
export async function quoteWithCheck(parameters: {
  db: Kysely<Database>
  views: Views
  now: number
  params: DeploymentParams
  blobs?: BlobStore
  inspector?: ModelInspector
  spec: QuoteJobParameters['spec'] & { modelHash?: Hex | null; inputHash?: Hex | null }
}): Promise<QuoteWithCheck> {
  const { spec } = parameters
  const { modelHash, inputHash } = spec
  const check = async (): Promise<JobCheck | null> => {
    if (!modelHash || !inputHash) return null
    if (!parameters.blobs || !parameters.inspector)
      throw new JobCheckUnavailableError('this server does not check jobs (no model inspector): quote without modelHash and inputHash')
    return checkJob({ blobs: parameters.blobs, inspector: parameters.inspector, spec: { modelHash, inputHash, units: spec.units } })
  }
  validateSpec(spec)
  const [providers, queue, checked] = await Promise.all([
    findCandidateProviders(parameters.db, parameters.views, parameters.now),
    findJobQueue(parameters.views, BigInt(Math.floor(parameters.now))),
    check(),
  ])
  return { ...quoteJob({ spec, providers, params: parameters.params, queue }), queue, check: checked }
}
