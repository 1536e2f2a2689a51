import type { Logger } from 'pino'
import type { Address, Hex, PublicClient } from 'viem'
import { jobMarketAbi } from '../../contracts/generated/index.ts'
import { firstDisagreementOf } from '../../protocol/agreement.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { buildOutputTree, type OutputTree, openingOf } from '../../protocol/outputTree.ts'
import { decodeTensorBlob } from '../../protocol/tensorBlob.ts'
import type { Views } from '../db/database.ts'
import { type ContestedJob, findContestedJobs } from '../db/jobs.ts'
import type { AssignMeta } from './matcher.ts'
import type { createTransactionSender } from './transactionSender.ts'

const jobsPerTick = 25

/** Reads a stored blob's bytes by sha256, undefined when the store doesn't hold it. */
export type ReadBlob = (sha256: Hex) => Promise<Uint8Array | undefined>

/**
 * The keeper's part in agreement under tolerance (PROTOCOL.md): for each job whose revealed results differ, while its
 * proof window is open, it rebuilds every result's output tree from the output blob the provider uploaded and
 * - proves every pair of results out of tolerance (`proveDisagreement`), so the liar is slashed at `finalize`;
 * - asks a provider whose output it can't open (no blob, or one that doesn't match the fingerprint) to open an element
 *   (`requestOpening`): a result nobody can check can't be paid;
 * - answers any opening request made of a provider whose output it holds (`openElement`), so an honest provider isn't
 *   slashed because someone asked while it was away.
 * Honest outputs a few ulps apart are never proven to disagree, so their providers are all paid.
 *
 * A job's earlier rounds stay in its results until the verdict: a tie-break judges the first round, an optimistic
 * job's audit judges the original result (then the tie-break judges both). A pair proven apart in an earlier round
 * isn't proven again (JobMarket keeps it for the job), nor is a provider asked twice to open (`OpeningAlreadyRequested`).
 */
export function createDisagreementProver(parameters: {
  views: Views
  publicClient: PublicClient
  deployment: Deployment
  sender: ReturnType<typeof createTransactionSender<AssignMeta>>
  readBlob: ReadBlob
  log: Logger
}) {
  const { views, publicClient, deployment, sender, readBlob, log } = parameters
  const jobMarket = deployment.contracts.JobMarket.address
  const { proofWindow } = deployment.params.market
  /** Trees by `jobId:provider` (null: not openable), for the jobs contested at the last tick. */
  const trees = new Map<string, OutputTree | null>()
  /** Keys of the calls already sent, so none is sent twice while its job stays contested. */
  const done = new Set<string>()

  const treeOf = async (job: ContestedJob, result: ContestedJob['results'][number]): Promise<OutputTree | null> => {
    const key = `${job.jobId}:${result.provider}`
    const cached = trees.get(key)
    if (cached !== undefined) return cached
    let tree: OutputTree | null = null
    try {
      const bytes = await readBlob(result.outputHash)
      if (bytes) {
        const built = buildOutputTree(decodeTensorBlob(bytes).data, job.outputTolerance)
        if (built.fingerprint.toLowerCase() === result.fingerprint.toLowerCase()) tree = built
      }
    } catch (error) {
      log.info({ jobId: job.jobId, provider: result.provider, err: error }, 'output blob unreadable: the result cannot be opened')
    }
    trees.set(key, tree)
    return tree
  }

  const send = async (key: string, functionName: string, args: readonly unknown[]): Promise<boolean> => {
    if (done.has(key)) return false
    const hash = await sender.send({
      key,
      action: functionName,
      address: jobMarket,
      abi: jobMarketAbi,
      functionName,
      args,
      meta: { kind: 'keeper' },
    })
    if (hash) done.add(key)
    return hash !== undefined
  }

  /** Opening requests made in any of `jobs`, from the chain's logs: one read per tick, however many jobs. */
  const requestsOf = async (jobs: ContestedJob[]): Promise<{ jobId: bigint; provider: Address; index: bigint }[]> => {
    const logs = await publicClient.getContractEvents({
      address: jobMarket,
      abi: jobMarketAbi,
      eventName: 'OpeningRequested',
      args: { jobId: jobs.map((j) => j.jobId) },
      // Contested jobs come oldest first: the first was submitted before every other.
      fromBlock: jobs[0].submittedBlock,
    })
    return logs.map((l) => ({ jobId: l.args.jobId as bigint, provider: l.args.provider as Address, index: l.args.index as bigint }))
  }

  return {
    /** Keys this prover sends under; the keeper keeps them blocked until they settle. */
    owns: (key: string) => key.startsWith('proveDisagreement:') || key.startsWith('requestOpening:') || key.startsWith('openElement:'),

    /** One pass over the contested jobs at chain time `now`; returns how many transactions it sent. */
    async tick(now: bigint): Promise<number> {
      const jobs = await findContestedJobs(views, now, proofWindow, jobsPerTick)
      if (jobs.length > 0)
        log.debug({ jobs: jobs.map((j) => j.jobId.toString()), now: now.toString() }, 'contested jobs in their proof window')
      const live = new Set(jobs.map((j) => `${j.jobId}:`))
      for (const key of trees.keys()) if (![...live].some((prefix) => key.startsWith(prefix))) trees.delete(key)
      for (const key of done) if (![...live].some((prefix) => key.includes(`:${prefix}`))) done.delete(key)
      let sent = 0
      const requests = jobs.length > 0 ? await requestsOf(jobs) : []
      for (const job of jobs) {
        const jobRequests = requests.filter((r) => r.jobId === job.jobId)
        const fingerprintOf = new Map(job.results.map((r) => [r.provider.toLowerCase(), r.fingerprint.toLowerCase()]))
        const provenPairs = new Set(
          job.proven.map((d) => [fingerprintOf.get(d.a.toLowerCase()), fingerprintOf.get(d.b.toLowerCase())].sort().join(':')),
        )
        const opened = await Promise.all(job.results.map(async (r) => ({ ...r, tree: await treeOf(job, r) })))
        for (const [i, a] of opened.entries()) {
          if (!a.tree) {
            // Only in the first half of the window, so the provider has the second half to answer; once per job.
            const asked = jobRequests.some((r) => r.provider.toLowerCase() === a.provider.toLowerCase())
            if (
              !asked &&
              now + proofWindow / 2n <= job.closesAt &&
              (await send(`requestOpening:${job.jobId}:${a.provider}`, 'requestOpening', [job.jobId, a.provider, 0n]))
            )
              sent++
            continue
          }
          for (const b of opened.slice(i + 1)) {
            if (!b.tree || a.fingerprint.toLowerCase() === b.fingerprint.toLowerCase()) continue
            if (provenPairs.has([a.fingerprint.toLowerCase(), b.fingerprint.toLowerCase()].sort().join(':'))) continue
            const where = firstDisagreementOf({ a: a.tree, b: b.tree, toleranceBits: job.outputTolerance })
            if (where === null) continue
            const index = where === 'length' ? 0 : where
            const key = `proveDisagreement:${job.jobId}:${[a.fingerprint, b.fingerprint].sort().join(':')}`
            if (
              await send(key, 'proveDisagreement', [job.jobId, a.provider, openingOf(a.tree, index), b.provider, openingOf(b.tree, index)])
            ) {
              log.info({ jobId: job.jobId, a: a.provider, b: b.provider, index: where }, 'proving a disagreement under tolerance')
              sent++
            }
          }
        }
        for (const request of jobRequests) {
          const tree = opened.find((r) => r.provider.toLowerCase() === request.provider.toLowerCase())?.tree
          if (!tree) continue
          const last = BigInt(Math.max(tree.length - 1, 0))
          const index = Number(request.index < last ? request.index : last)
          if (
            await send(`openElement:${job.jobId}:${request.provider}`, 'openElement', [job.jobId, request.provider, openingOf(tree, index)])
          )
            sent++
        }
      }
      return sent
    },
  }
}
