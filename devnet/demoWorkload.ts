import type { Logger } from 'pino'
import { type Hex, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import type { BlobCredentials } from '../client/blobAuth.ts'
import {
  depositToGateway,
  GatewayRejectedError,
  readGatewayAccount,
  type SubmitViaGatewayParameters,
  submitViaGateway,
  waitForGatewayDeposit,
  waitForGatewayJob,
} from '../client/gateway.ts'
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
  /** Submit through the server's job gateway (default), paid from a deposit; false: from the requester's own address. */
  viaGateway?: boolean
  /** TSR wei deposited to the gateway at the start and again whenever it refuses a job for the balance; default 100 TSR. */
  gatewayDeposit?: bigint
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

/** What the demo deposits to the gateway at a time: some 400 of its largest escrows (8 units × 0.01 TSR × k = 3, plus the take). */
export const defaultDemoGatewayDeposit = parseEther('100')

/**
 * Builds a few seeded MLPs, uploads them, then submits a job every `intervalMs` with a fresh seeded input, a share of
 * them Optimistic and the rest Redundant (`demoJobModes`), until `signal` aborts. By default the jobs go through the
 * server's job gateway: it deposits `gatewayDeposit` first (and throws if the gateway doesn't count it in time), then
 * deposits again whenever the gateway refuses a job for the balance. Failures are logged and the loop goes on.
 */
export async function runDemoWorkload(parameters: DemoWorkloadParameters): Promise<void> {
  const { serverUrl, rpcUrl, deployment, requesterKey, log, signal } = parameters
  const intervalMs = parameters.intervalMs ?? 4000
  const redundancies = parameters.redundancies ?? [2]
  const viaGateway = parameters.viaGateway ?? true
  const modes = demoJobModes({ optimisticShare: parameters.optimisticShare ?? 0.5, redundancies })
  // The requester signs its uploads; its models are public (anyone may read them), its inputs only the jobs' parties.
  const credentials: BlobCredentials = { account: privateKeyToAccount(requesterKey), chainId: deployment.chainId }
  const modelHashes: Hex[] = []
  for (let seed = 1; seed <= (parameters.models ?? 3); seed++) {
    const bytes = buildMlp({ seed, inputSize, hiddenSize: 32, outputSize: 8 })
    const { sha256 } = await uploadBlob({ serverUrl, bytes, credentials, public: true })
    modelHashes.push(sha256)
  }
  log.info({ models: modelHashes.length, viaGateway }, 'demo workload: models uploaded')
  const deposit = () => depositForDemo({ ...parameters, amount: parameters.gatewayDeposit ?? defaultDemoGatewayDeposit })
  if (viaGateway)
    try {
      await deposit()
    } catch (error) {
      if (signal.aborted) return
      throw error
    }
  for (let n = 0; !signal.aborted; n++) {
    try {
      const rows = 4 + (n % 5)
      const { verification, redundancy } = modes.next().value
      const input = makeInput({ seed: 1000 + n, rows, inputSize })
      const { sha256: inputHash } = await uploadBlob({
        serverUrl,
        bytes: encodeTensorBlob({ dims: [rows, inputSize], data: input }),
        credentials,
      })
      const spec = {
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
      }
      const jobId = viaGateway ? await submitDemoJobViaGateway({ ...spec, signal }) : (await submitJob(spec)).jobId
      log.info(
        { jobId: jobId.toString(), units: rows, verification: verificationNames[verification], redundancy },
        'demo workload: job submitted',
      )
    } catch (error) {
      if (signal.aborted) break
      if (viaGateway && error instanceof GatewayRejectedError && /balance/i.test(error.reason)) {
        log.info({ reason: error.reason }, 'demo workload: gateway balance too low, depositing again')
        await deposit().catch((depositError) => {
          if (!signal.aborted) log.warn({ err: depositError }, 'demo workload: gateway deposit failed')
        })
      } else log.warn({ err: error }, 'demo workload: submission failed')
    }
    await sleep(intervalMs, signal)
  }
}

/** Submits one job through the gateway and waits until the gateway's transaction has created it. */
async function submitDemoJobViaGateway(parameters: SubmitViaGatewayParameters): Promise<bigint> {
  const request = await submitViaGateway(parameters)
  const { jobId } = await waitForGatewayJob({ serverUrl: parameters.serverUrl, id: request.id, signal: parameters.signal })
  return jobId
}

/** Deposits `amount` to the gateway and waits until the gateway counts it (indexed, 2 blocks deep). */
async function depositForDemo(
  parameters: Pick<DemoWorkloadParameters, 'serverUrl' | 'rpcUrl' | 'deployment' | 'requesterKey' | 'log' | 'signal'> & { amount: bigint },
): Promise<void> {
  const { serverUrl, rpcUrl, deployment, requesterKey: privateKey, amount, signal } = parameters
  const before = await readGatewayAccount({ serverUrl, deployment, privateKey, first: 1, signal })
  const { txHash } = await depositToGateway({ rpcUrl, deployment, privateKey, amount })
  const after = await waitForGatewayDeposit({ serverUrl, deployment, privateKey, deposited: before.deposited + amount, signal })
  parameters.log.info({ amount: amount.toString(), txHash, balance: after.balance.toString() }, 'demo workload: deposited to the gateway')
}
