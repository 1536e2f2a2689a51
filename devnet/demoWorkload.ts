import type { Logger } from 'pino'
import { type Hex, parseEther } from 'viem'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { submitJob } from '../client/submitJob.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { sleep } from '../protocol/retry.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'

export type DemoWorkloadParameters = {
  serverUrl: string
  rpcUrl: string
  deployment: Deployment
  requesterKey: Hex
  /** Milliseconds between submissions. */
  intervalMs?: number
  /** How many distinct models to rotate through. */
  models?: number
  /** Redundancies to rotate through; default [2]. */
  redundancies?: readonly number[]
  log: Logger
  signal: AbortSignal
}

const inputSize = 16

/**
 * Builds a few seeded MLPs, uploads them, then submits a Redundant job (k in rotation) every `intervalMs`
 * with a fresh seeded input, until `signal` aborts. Failures are logged and the loop goes on.
 */
export async function runDemoWorkload(parameters: DemoWorkloadParameters): Promise<void> {
  const { serverUrl, rpcUrl, deployment, requesterKey, log, signal } = parameters
  const intervalMs = parameters.intervalMs ?? 4000
  const redundancies = parameters.redundancies ?? [2]
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
        redundancy: redundancies[n % redundancies.length],
        deadlineIn: 600,
        serverUrl,
      })
      log.info({ jobId: jobId.toString(), units: rows }, 'demo workload: job submitted')
    } catch (error) {
      if (signal.aborted) break
      log.warn({ err: error }, 'demo workload: submission failed')
    }
    await sleep(intervalMs, signal)
  }
}
