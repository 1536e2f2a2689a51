import type { Address, Hex } from 'viem'
import { TesseraError } from '../protocol/errors.ts'
import { fingerprintOutput } from '../protocol/fingerprint.ts'
import { decodeTensorBlob, type Tensor } from '../protocol/tensorBlob.ts'
import type { BlobCredentials } from './blobAuth.ts'
import type { JobView } from './fetchJob.ts'
import { getBlob } from './serverClient.ts'

/** A job has no output to fetch: not COMPLETED, or no output the server holds matches what its providers revealed. */
export class JobOutputError extends TesseraError {
  override name = 'JobOutputError'
}

export type FetchJobOutputParameters = {
  serverUrl: string
  job: JobView
  /** The requester's (its key, or a session): outputs are served only to a job's requester and providers. */
  credentials?: BlobCredentials
  signal?: AbortSignal
}

export type FetchJobOutputReturnType = {
  tensor: Tensor
  /** The tensor blob as stored (JSON: dims, dtype, base64 data). */
  blob: Uint8Array
  outputHash: Hex
  /** The provider whose output it is (one of the majority). */
  provider: Address
}

const zeroHash = `0x${'0'.repeat(64)}`

/**
 * Downloads the output of a COMPLETED job: a majority provider's (its outcome AGREED, the job's winning fingerprint
 * first), checked twice before it is returned: its bytes hash to the output hash the provider revealed on chain, and
 * its values fingerprint, at the job's tolerance, to the fingerprint it revealed. Throws {@link JobOutputError} when the
 * job isn't COMPLETED or no majority output passes both checks.
 */
export async function fetchJobOutput(parameters: FetchJobOutputParameters): Promise<FetchJobOutputReturnType> {
  const { serverUrl, job, signal } = parameters
  if (job.status !== 'COMPLETED')
    throw new JobOutputError(`job ${job.id} is ${job.status}: only a COMPLETED job has an output`, {
      metaMessages:
        job.status === 'FAILED' || job.status === 'EXPIRED' || job.status === 'CANCELLED' || job.status === 'FAILED_INVALID'
          ? []
          : ['Wait for it: `tessera job wait <id>`.'],
    })
  const agreed = job.assignments
    .filter((a) => a.outcome === 'AGREED' && a.outputHash && a.outputHash !== zeroHash && a.fingerprint)
    .sort((a, b) => Number(b.fingerprint === job.fingerprint) - Number(a.fingerprint === job.fingerprint))
  const problems: string[] = []
  for (const assignment of agreed) {
    const outputHash = assignment.outputHash as Hex
    try {
      const blob = await getBlob({ serverUrl, hash: outputHash, credentials: parameters.credentials, signal })
      const tensor = decodeTensorBlob(blob)
      const fingerprint = fingerprintOutput(tensor.data, job.outputTolerance)
      if (fingerprint !== assignment.fingerprint) {
        problems.push(
          `${assignment.provider}: the output ${outputHash} fingerprints to ${fingerprint}, not the revealed ${assignment.fingerprint}`,
        )
        continue
      }
      return { tensor, blob, outputHash, provider: assignment.provider }
    } catch (error) {
      if (signal?.aborted) throw error
      problems.push(`${assignment.provider}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  throw new JobOutputError(`no output of job ${job.id} could be fetched and checked from ${serverUrl}`, {
    details: problems.join('\n') || 'no provider of the majority revealed an output',
  })
}
