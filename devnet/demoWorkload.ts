import type { Logger } from 'pino'
import { type Hex, parseEther } from 'viem'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { submitJob } from '../client/submitJob.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { Verification, verificationNames } from '../protocol/enums.ts'
import { sleep } from '../protocol/retry.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { DevnetError } from './devnetError.ts'

export type DemoWorkloadParameters = {
  serverUrl: string
  rpcUrl: string
  deployment: Deployment
  requesterKey: Hex
  /** Milliseconds between submissions. */
  intervalMs?: number
  /** How many distinct models to rotate through. */
  models?: number
  /** Redundancies the Redundant jobs rotate through; default [2]. */
  redundancies?: readonly number[]
  /** Fraction of the jobs submitted Optimistic (k = 1, spot-checked), spread evenly; default 0.5, every other job. */
  optimisticShare?: number
  log: Logger
  signal: AbortSignal
}

const inputSize = 16

/** How the demo's `n`-th job is verified: Optimistic with k = 1, or Redundant with the next k of the rotation. */
export type DemoJobMode = { verification: Verification; redundancy: number }

/**
 * The verification of the demo's jobs, one after another, forever: a fraction `optimisticShare` of them Optimistic,
 * spread evenly (job n is when ⌊(n + 1)·share⌋ > ⌊n·share⌋; 0.5: every other job, starting with the second), the
 * Redundant ones taking `redundancies` in turn among themselves, so every k still comes round whatever the share.
 * Checks its parameters at the call, before the first job.
 */
export function demoJobModes(parameters: { optimisticShare: number; redundancies: readonly number[] }): Generator<DemoJobMode, never> {
  const { optimisticShare: share, redundancies } = parameters
  if (!(share >= 0 && share <= 1)) throw new DevnetError(`the demo's optimistic share must be a fraction from 0 to 1, got ${share}`)
  if (share < 1 && redundancies.length === 0) throw new DevnetError('the demo needs a redundancy for its Redundant jobs')
  return (function* () {
    let redundant = 0
    for (let n = 0; ; n++) {
      const optimistic = Math.floor((n + 1) * share) > Math.floor(n * share)
      yield optimistic
        ? { verification: Verification.Optimistic, redundancy: 1 }
        : { verification: Verification.Redundant, redundancy: redundancies[redundant++ % redundancies.length] }
    }
  })()
}

/**
 * Builds a few seeded MLPs, uploads them, then submits a job every `intervalMs` with a fresh seeded input, a share of
 * them Optimistic and the rest Redundant (`demoJobModes`), until `signal` aborts. Failures are logged and the loop
 * goes on.
 */
export async function runDemoWorkload(parameters: DemoWorkloadParameters): Promise<void> {
  const { serverUrl, rpcUrl, deployment, requesterKey, log, signal } = parameters
  const intervalMs = parameters.intervalMs ?? 4000
  const redundancies = parameters.redundancies ?? [2]
  const modes = demoJobModes({ optimisticShare: parameters.optimisticShare ?? 0.5, redundancies })
  const modelHashes: Hex[] = []
  for (let seed = 1; seed <= (parameters.models ?? 3); seed++) {
    const bytes = buildMlp({ seed, inputSize, hiddenSize: 32, outputSize: 8 })
    const { sha256 } = await uploadBlob({ serverUrl, bytes })
    modelHashes.push(sha256)
  }
  log.info({ models: modelHashes.length }, 'demo workload: models uploaded')
  for (let n = 0; !signal.aborted; n++) {
    try {
      const rows = 4 + (n % 5)
      const { verification, redundancy } = modes.next().value
      const input = makeInput({ seed: 1000 + n, rows, inputSize })
      const { sha256: inputHash } = await uploadBlob({ serverUrl, bytes: encodeTensorBlob({ dims: [rows, inputSize], data: input }) })
      const { jobId } = await submitJob({
        rpcUrl,
        deployment,
        privateKey: requesterKey,
        modelHash: modelHashes[n % modelHashes.length],
        inputHash,
        units: BigInt(rows),
        maxPricePerUnit: parseEther('0.01'),
        redundancy,
        verification,
        deadlineIn: 600,
        serverUrl,
      })
      log.info(
        { jobId: jobId.toString(), units: rows, verification: verificationNames[verification], redundancy },
        'demo workload: job submitted',
      )
    } catch (error) {
      if (signal.aborted) break
      log.warn({ err: error }, 'demo workload: submission failed')
    }
    await sleep(intervalMs, signal)
  }
}
