import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { type Address, type Hash, type Hex, type PublicClient, parseEventLogs } from 'viem'
import { jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { decodeRevert, formatRevert } from '../../protocol/revert.ts'
import type { Database, Views } from '../db/database.ts'
import {
  findGatewayJobAccount,
  findGatewayRequestsIn,
  type GatewayRequest,
  isGatewayTxClaimed,
  moveGatewayRequest,
  setGatewayTxHash,
} from '../db/gateway.ts'
import { findJobsByIds } from '../db/jobs.ts'
import type { AssignMeta } from './matcher.ts'
import { type Call, type createAllowance, TransactionFailedError, transact } from './transact.ts'
import { type createTransactionSender, unlessNotFound } from './transactionSender.ts'

type Sender = ReturnType<typeof createTransactionSender<AssignMeta>>

/** Requests sent per tick at most, all at once (the sender picks their nonces). */
const requestsPerTick = 32

/**
 * How long a SENDING request with no hash stays SENDING before recovery queues it again: long enough for a
 * transaction sent just before a crash to be mined and indexed, so that it is found by its effect instead.
 */
const unsentAfterMs = 60_000

/** The JobMarket spec a SUBMIT's payload (the signed message, bigints as strings) stands for. */
function specOf(payload: Record<string, unknown>) {
  const p = payload as Record<string, string & number & Hex[]>
  return {
    modelHash: p.modelHash as Hex,
    inputHash: p.inputHash as Hex,
    units: BigInt(p.units),
    maxPricePerUnit: BigInt(p.maxPricePerUnit),
    minVramMiB: Number(p.minVramMiB),
    gpuModel: Number(p.gpuModel),
    regions: p.regions as Hex[],
    redundancy: Number(p.redundancy),
    verification: Number(p.verification),
    deadline: BigInt(p.deadline),
    outputTolerance: Number(p.outputTolerance),
  }
}

/**
 * The job gateway's relay on the leader: sends each QUEUED request from the gateway key (the server's), in order, a
 * batch per tick: a SUBMIT as `submitJob` (the escrow its account's balance holds; the allowance kept by
 * `allowance`), a CANCEL as `cancel`, a WITHDRAW as a token transfer to the account (first withdrawing the gateway's
 * JobMarket credit when its balance falls short). A request moves QUEUED → SENDING → DONE or FAILED, each move
 * conditional, so two leaders never send one request twice; a simulated revert fails it with the reason, holding
 * nothing.
 *
 * Restart: the hash is stored as soon as the transaction is sent. A new leader finds each SENDING request's
 * transaction: mined, it records the outcome; unknown to the node (never sent, or dropped), the request is QUEUED
 * again. A SENDING request with no hash (the process died between sending and storing it) is looked up by its effect:
 * a SUBMIT by the gateway job with its spec that no other request claims, a WITHDRAW by the gateway's transfer to the
 * account of its amount, a CANCEL by its job's status.
 */
export function createGatewayRelay(parameters: {
  db: Kysely<Database>
  views: Views
  deployment: Deployment
  publicClient: PublicClient
  sender: Sender
  allowance: ReturnType<typeof createAllowance>
  log: Logger
}) {
  const { db, views, deployment, publicClient, sender, log } = parameters
  const market = deployment.contracts.JobMarket.address
  const token = deployment.contracts.TesseraToken.address
  const gateway = deployment.matcher
  let recovered = false

  const callOf = (request: GatewayRequest): Call => {
    const p = request.payload as Record<string, string>
    if (request.kind === 'SUBMIT') return { address: market, abi: jobMarketAbi, functionName: 'submitJob', args: [specOf(request.payload)] }
    if (request.kind === 'CANCEL') return { address: market, abi: jobMarketAbi, functionName: 'cancel', args: [BigInt(p.jobId)] }
    return { address: token, abi: tesseraTokenAbi, functionName: 'transfer', args: [request.account, request.amount] }
  }

  /** The reason a call would revert now, or undefined when it would go through. */
  const wouldRevert = async (call: Call): Promise<string | undefined> => {
    try {
      await publicClient.simulateContract({ account: gateway, ...call } as Parameters<PublicClient['simulateContract']>[0])
      return undefined
    } catch (error) {
      const revert = decodeRevert(error)
      if (revert) return formatRevert(revert)
      throw error
    }
  }

  /** Makes sure the gateway holds `amount` of TSR, withdrawing its JobMarket credit when it doesn't. */
  const ensureLiquid = async (amount: bigint, id: string) => {
    const balance = (await publicClient.readContract({
      address: token,
      abi: tesseraTokenAbi,
      functionName: 'balanceOf',
      args: [gateway],
    })) as bigint
    if (balance >= amount) return
    const owed = (await publicClient.readContract({ address: market, abi: jobMarketAbi, functionName: 'owed', args: [gateway] })) as bigint
    if (owed > 0n)
      await transact({ sender, publicClient }, `gateway:liquidity:${id}`, 'withdraw', {
        address: market,
        abi: jobMarketAbi,
        functionName: 'withdraw',
        args: [],
      })
  }

  const finish = async (request: GatewayRequest, receiptLogs: Parameters<typeof parseEventLogs>[0]['logs'], txHash: Hash) => {
    const jobId =
      request.kind === 'SUBMIT'
        ? parseEventLogs({ abi: jobMarketAbi, logs: receiptLogs, eventName: 'JobSubmitted' })[0]?.args.jobId
        : request.kind === 'CANCEL'
          ? BigInt((request.payload as Record<string, string>).jobId)
          : undefined
    await moveGatewayRequest(db, request.id, 'SENDING', { status: 'DONE', jobId, txHash })
    log.info({ id: request.id, kind: request.kind, jobId: jobId?.toString(), txHash }, 'gateway request done')
  }

  const send = async (request: GatewayRequest) => {
    if (!(await moveGatewayRequest(db, request.id, 'QUEUED', { status: 'SENDING' }))) return
    try {
      if (request.kind === 'SUBMIT') await parameters.allowance.ensure(request.amount)
      if (request.kind === 'WITHDRAW') await ensureLiquid(request.amount, request.id)
      const call = callOf(request)
      const reverts = await wouldRevert(call)
      if (reverts) {
        await moveGatewayRequest(db, request.id, 'SENDING', { status: 'FAILED', error: `the chain refused it: ${reverts}` })
        log.info({ id: request.id, kind: request.kind, revert: reverts }, 'gateway request failed')
        return
      }
      const receipt = await transact(
        { sender, publicClient, onSent: (hash) => setGatewayTxHash(db, request.id, hash) },
        `gateway:${request.id}`,
        `gateway${request.kind}`,
        call,
      )
      await finish(request, receipt.logs, receipt.transactionHash)
    } catch (error) {
      if (error instanceof TransactionFailedError && !error.retryable) {
        await moveGatewayRequest(db, request.id, 'SENDING', { status: 'FAILED', error: error.shortMessage })
        return
      }
      // Not sent, or its receipt not seen yet: left SENDING for recovery to settle by its hash or its effect.
      log.warn({ id: request.id, err: error }, 'gateway request left for recovery')
      recovered = false
    }
  }

  /**
   * Settles a SENDING request a crash or a lost receipt left: by its transaction, else by its effect on chain. Returns
   * false while it can't be settled yet (its transaction still pending, or too recent to be sure it was never sent).
   */
  const recover = async (request: GatewayRequest, now: number): Promise<boolean> => {
    if (request.txHash) {
      const receipt = await publicClient.getTransactionReceipt({ hash: request.txHash }).catch(unlessNotFound)
      if (receipt) {
        if (receipt.status === 'success') await finish(request, receipt.logs, receipt.transactionHash)
        else await moveGatewayRequest(db, request.id, 'SENDING', { status: 'FAILED', error: `reverted in ${receipt.transactionHash}` })
        return true
      }
      if (await publicClient.getTransaction({ hash: request.txHash }).catch(unlessNotFound)) return false
      await moveGatewayRequest(db, request.id, 'SENDING', { status: 'QUEUED', txHash: null })
      return true
    }
    const effect = await effectOf(request)
    if (effect) await moveGatewayRequest(db, request.id, 'SENDING', { status: 'DONE', ...effect })
    else if (now - request.updatedAt.getTime() > unsentAfterMs) await moveGatewayRequest(db, request.id, 'SENDING', { status: 'QUEUED' })
    else return false
    return true
  }

  /** What a request without a hash did on chain, if the index shows it. */
  const effectOf = async (request: GatewayRequest): Promise<{ jobId?: bigint; txHash?: Hex } | undefined> => {
    const since = BigInt(Math.floor(request.createdAt.getTime() / 1000)) - 60n
    if (request.kind === 'SUBMIT') {
      const spec = specOf(request.payload)
      const jobs = await views
        .selectFrom('job')
        .select(['id'])
        .where('requester', '=', gateway.toLowerCase() as Address)
        .where('submittedAt', '>=', since.toString())
        .where('modelHash', '=', spec.modelHash.toLowerCase() as Hex)
        .where('inputHash', '=', spec.inputHash.toLowerCase() as Hex)
        .where('deadline', '=', spec.deadline.toString())
        .execute()
      for (const j of jobs) if ((await findGatewayJobAccount(db, BigInt(j.id))) === undefined) return { jobId: BigInt(j.id) }
      return undefined
    }
    if (request.kind === 'CANCEL') {
      const [job] = await findJobsByIds(views, [String((request.payload as Record<string, string>).jobId)])
      return job?.status === 'CANCELLED' ? { jobId: job.id } : undefined
    }
    const paid = await views
      .selectFrom('gatewayTransfer')
      .select('txHash')
      .where('from', '=', gateway.toLowerCase() as Address)
      .where('to', '=', request.account)
      .where('amount', '=', request.amount.toString())
      .where('timestamp', '>=', since.toString())
      .execute()
    for (const t of paid) if (!(await isGatewayTxClaimed(db, t.txHash))) return { txHash: t.txHash }
    return undefined
  }

  return {
    /** One step: settle what an earlier leader left SENDING (once after each start), then send a batch of QUEUED requests. */
    async tick(): Promise<void> {
      if (!recovered) {
        recovered = true
        for (const request of await findGatewayRequestsIn(db, 'SENDING', 1000)) if (!(await recover(request, Date.now()))) recovered = false
      }
      const queued = await findGatewayRequestsIn(db, 'QUEUED', requestsPerTick)
      await Promise.all(queued.map(send))
    },
    /** After losing leadership: the next tick settles SENDING requests again. */
    reset() {
      recovered = false
    },
  }
}
