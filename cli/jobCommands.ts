import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { privateKeyToAccount } from 'viem/accounts'
import type { JobView } from '../client/fetchJob.ts'
import type { JobStatusName } from '../protocol/enums.ts'
import { CommandExit, ConfigError, printJson, progress, requiredAccountKey, resolveSettings, settingsCommand } from './config.ts'
import { requesterSettings } from './jobSubmitOptions.ts'
import { jobId as parseJobId } from './settings.ts'

/** Exit codes of `job wait` besides 0 (COMPLETED) and 1 (an error). */
export const jobExitCodes = { endedWithoutResult: 2, timedOut: 3 } as const

/** A job as one JSON object: amounts in wei and times as decimal strings. */
function jobJson(job: JobView) {
  return {
    id: job.id,
    status: job.status,
    verification: job.verification,
    redundancy: job.redundancy,
    requester: job.requester,
    units: job.units,
    maxPricePerUnit: job.maxPricePerUnit,
    outputTolerance: job.outputTolerance,
    escrow: job.escrow,
    fees: job.fees,
    refunded: job.refunded,
    burned: job.burned,
    deadline: job.deadline,
    submittedAt: job.submittedAt,
    finalizedAt: job.finalizedAt,
    modelHash: job.modelHash,
    inputHash: job.inputHash,
    fingerprint: job.fingerprint,
    providers: job.assignments.map((a) => ({
      provider: a.provider,
      round: a.round,
      outcome: a.outcome,
      outputHash: a.outputHash,
      paid: a.paid,
    })),
  }
}

/** Why a job that finished has no result, for a person. */
const endings: Partial<Record<JobStatusName, string>> = {
  FAILED: 'its providers neither agreed on a result nor on a failure (no majority), or could not run it',
  FAILED_INVALID: "a majority of its providers found the job can't run (the model or the input is wrong); a small fee was kept",
  EXPIRED: 'no provider took it before its deadline; the escrow was refunded',
  CANCELLED: 'it was cancelled; the escrow was refunded',
}

/** What a status means while a job runs, for `job wait`'s progress. */
function statusLine(job: JobView | null): string {
  if (!job) return 'not indexed yet'
  const providers = new Set(job.assignments.filter((a) => a.round === job.round).map((a) => a.provider)).size
  switch (job.status) {
    case 'OPEN':
      return 'OPEN: waiting for providers'
    case 'ASSIGNED':
      return `ASSIGNED to ${providers} provider${providers === 1 ? '' : 's'}: running`
    case 'COMMITTED':
      return 'COMMITTED: every provider has committed its result'
    case 'REVEALED':
      return 'REVEALED: results revealed, settling'
    case 'DISPUTED':
      return 'DISPUTED: results differ, going to a tie-break'
    default:
      return job.status
  }
}

/** The job of a command, or a CommandExit saying the server doesn't know it. */
async function jobOf(serverUrl: string, jobId: bigint): Promise<JobView> {
  const { fetchJob } = await import('../client/fetchJob.ts')
  const job = await fetchJob({ serverUrl, jobId })
  if (!job)
    throw new CommandExit(`job ${jobId} is not on the server at ${serverUrl}`, {
      exitCode: 1,
      metaMessages: ['It was never submitted there, or the indexer has not seen it yet (a second or two after submitting).'],
    })
  return job
}

/** Where `job result` writes and in what format, from `--out`'s extension; checked before anything is fetched. */
function outputTarget(out: string | undefined): { file?: string; format: 'json' | 'npy' } {
  if (out === undefined) return { format: 'json' }
  const extension = path.extname(out).toLowerCase()
  if (extension === '.npy') return { file: out, format: 'npy' }
  if (extension === '.json') return { file: out, format: 'json' }
  throw new ConfigError(`--out must name a .json file (the tensor blob) or a .npy file (NumPy), got ${JSON.stringify(out)}`)
}

const statusSettings = ['server'] as const
const waitSettings = ['server', 'timeout', 'pollInterval'] as const
const resultSettings = [...requesterSettings, 'resultOut'] as const
const cancelSettings = requesterSettings
const listSettings = [...requesterSettings, 'status', 'first', 'requester'] as const

/** Adds `status`, `wait`, `result`, `cancel` and `list` to `tessera job`. */
export function addJobCommands(job: Command): void {
  settingsCommand(job, 'status', "a job's status, escrow, fees and providers, as the server indexed it", statusSettings)
    .argument('<job-id>', 'job id')
    .action(async (id: string, _options, command: Command) => {
      const config = resolveSettings(command, statusSettings)
      printJson(jobJson(await jobOf(config.server, parseJobId(id, 'the <job-id> argument'))))
    })

  settingsCommand(
    job,
    'wait',
    'wait for a job to finish, showing each status it goes through; exit 0 when COMPLETED, 2 when it ended without a result (FAILED, FAILED_INVALID, EXPIRED, CANCELLED), 3 on --timeout',
    waitSettings,
  )
    .argument('<job-id>', 'job id')
    .action(async (id: string, _options, command: Command) => {
      const config = resolveSettings(command, waitSettings)
      const jobId = parseJobId(id, 'the <job-id> argument')
      const { waitForJob } = await import('../client/waitForJob.ts')
      const started = Date.now()
      const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`
      const result = await waitForJob({
        serverUrl: config.server,
        jobId,
        timeoutMs: config.timeout * 1000,
        pollIntervalMs: config.pollInterval * 1000,
        onStatus: (seen) => progress(`${elapsed()}  job ${jobId} ${statusLine(seen)}`),
      })
      if (!result.finished)
        throw new CommandExit(
          `job ${jobId} did not finish within ${config.timeout} s: it is ${result.job ? result.job.status : 'not even indexed'}`,
          {
            exitCode: jobExitCodes.timedOut,
            metaMessages: ['Wait longer with --timeout <seconds>, or look later with `tessera job status`.'],
          },
        )
      printJson(jobJson(result.job))
      if (result.job.status !== 'COMPLETED')
        throw new CommandExit(`job ${jobId} ended ${result.job.status}: ${endings[result.job.status] ?? 'without a result'}`, {
          exitCode: jobExitCodes.endedWithoutResult,
        })
    })

  settingsCommand(
    job,
    'result',
    "a COMPLETED job's output, checked against what its majority revealed on chain: to stdout as the tensor blob, or --out <file>.json / <file>.npy",
    resultSettings,
  )
    .argument('<job-id>', 'job id')
    .action(async (id: string, _options, command: Command) => {
      const config = resolveSettings(command, resultSettings)
      const jobId = parseJobId(id, 'the <job-id> argument')
      const target = outputTarget(config.resultOut)
      const privateKey = requiredAccountKey(config, 'job result')
      const job = await jobOf(config.server, jobId)
      const { fetchDeployment } = await import('../client/serverClient.ts')
      const { fetchJobOutput } = await import('../client/fetchJobOutput.ts')
      // Outputs are served to the job's parties only: the reads are signed with the requester's key.
      const { chainId } = await fetchDeployment({ serverUrl: config.server })
      const credentials = { account: privateKeyToAccount(privateKey), chainId }
      const output = await fetchJobOutput({ serverUrl: config.server, job, credentials })
      if (!target.file) return void process.stdout.write(`${new TextDecoder().decode(output.blob)}\n`)
      const { encodeNpy } = await import('../protocol/npy.ts')
      const bytes = target.format === 'npy' ? encodeNpy(output.tensor) : output.blob
      await writeFile(target.file, bytes)
      printJson({
        jobId,
        out: target.file,
        format: target.format,
        dims: output.tensor.dims,
        bytes: bytes.length,
        outputHash: output.outputHash,
        provider: output.provider,
      })
    })

  settingsCommand(
    job,
    'cancel',
    'cancel one of your jobs while it is still OPEN (no provider assigned); its escrow comes back (gateway jobs: to your gateway balance)',
    cancelSettings,
  )
    .argument('<job-id>', 'job id')
    .action(async (id: string, _options, command: Command) => {
      const config = resolveSettings(command, cancelSettings)
      const jobId = parseJobId(id, 'the <job-id> argument')
      const privateKey = requiredAccountKey(config, 'job cancel')
      const me = privateKeyToAccount(privateKey).address
      const job = await jobOf(config.server, jobId)
      if (job.status !== 'OPEN')
        throw new CommandExit(`job ${jobId} is ${job.status}: only an OPEN job (no provider assigned yet) can be cancelled`, {
          exitCode: 1,
        })
      const { fetchDeployment } = await import('../client/serverClient.ts')
      const { gatewayAddressOf } = await import('../protocol/gateway.ts')
      const deployment = await fetchDeployment({ serverUrl: config.server })
      if (job.requester.toLowerCase() === me.toLowerCase()) {
        const { cancelJob } = await import('../client/cancelJob.ts')
        const { txHash, refunded } = await cancelJob({ rpcUrl: config.rpc, deployment, privateKey, jobId })
        progress(`cancelled; ${refunded} wei credited to ${me} in JobMarket (\`tessera provider withdraw\` pays it out)`)
        return printJson({ jobId, via: 'direct', txHash, refunded })
      }
      if (job.requester.toLowerCase() !== gatewayAddressOf(deployment).toLowerCase())
        throw new CommandExit(`job ${jobId} was submitted by ${job.requester}, not by your address ${me} nor through the gateway`, {
          exitCode: 1,
        })
      const { cancelViaGateway, waitForGatewayRequest } = await import('../client/gateway.ts')
      const request = await cancelViaGateway({ serverUrl: config.server, deployment, privateKey, jobId })
      progress(`gateway request ${request.id} ${request.status.toLowerCase()}; waiting for the cancel…`)
      const done = await waitForGatewayRequest({ serverUrl: config.server, id: request.id })
      printJson({ jobId, via: 'gateway', txHash: done.txHash, gatewayRequest: request.id })
    })

  settingsCommand(
    job,
    'list',
    'your jobs, newest first: those you submitted yourself and through the gateway (or --requester <address>: that address’s own)',
    listSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, listSettings)
    const { fetchJobs } = await import('../client/fetchJobs.ts')
    const filter = { serverUrl: config.server, status: config.status, first: config.first }
    if (config.requester) {
      const jobs = await fetchJobs({ ...filter, requester: config.requester })
      return printJson({ requester: config.requester, jobs: jobs.map((j) => ({ ...jobJson(j), via: 'direct' })) })
    }
    const privateKey = requiredAccountKey(config, 'job list')
    const me = privateKeyToAccount(privateKey).address
    const { fetchDeployment } = await import('../client/serverClient.ts')
    const { readGatewayAccount } = await import('../client/gateway.ts')
    const deployment = await fetchDeployment({ serverUrl: config.server })
    const [direct, account] = await Promise.all([
      fetchJobs({ ...filter, requester: me }),
      readGatewayAccount({ serverUrl: config.server, deployment, privateKey, first: config.first }),
    ])
    const ids = account.requests.flatMap((r) => (r.kind === 'SUBMIT' && r.jobId !== null ? [r.jobId] : []))
    const viaGateway = ids.length ? await fetchJobs({ ...filter, ids }) : []
    const jobs = [...direct.map((j) => ({ ...jobJson(j), via: 'direct' })), ...viaGateway.map((j) => ({ ...jobJson(j), via: 'gateway' }))]
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, config.first)
    printJson({ account: me, jobs })
  })
}
