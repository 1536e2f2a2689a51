import { randomBytes } from 'node:crypto'
import { getAddress, type Hex, isHex, verifyTypedData } from 'viem'
import type { Deployment } from '../protocol/deployment.ts'
import {
  type GatewayCancel,
  GatewayError,
  type GatewayMessages,
  type GatewayRead,
  type GatewaySubmit,
  type GatewayWithdraw,
  gatewayReadMaxSeconds,
  gatewaySubmitProblems,
  gatewayTypedData,
} from '../protocol/gateway.ts'
import { escrowOf } from '../protocol/settlement.ts'
import { checkJob } from './checkJob.ts'
import type { ServerContext } from './context.ts'
import {
  findGatewayJobAccount,
  type GatewayRequest,
  gatewayBalanceOf,
  gatewayPartiesOf,
  insertGatewayRequest,
  type NewGatewayRequest,
} from './db/gateway.ts'
import { findJobsByIds } from './db/jobs.ts'
import { UserInputError } from './errors.ts'

/** A request the gateway refused; clients see the code `GATEWAY_REJECTED` and the reason. */
export class GatewayRejectedError extends UserInputError {
  override name = 'GatewayRejectedError'
  constructor(reason: string, metaMessages?: string[]) {
    super(`gateway request rejected: ${reason}`, { code: 'GATEWAY_REJECTED', metaMessages })
  }
}

type Intake = Pick<ServerContext, 'db' | 'views' | 'deployment' | 'publicClient' | 'now' | 'blobs' | 'inspector'>

async function verified<T extends keyof GatewayMessages>(
  deployment: Deployment,
  primaryType: T,
  message: GatewayMessages[T],
  signature: string,
): Promise<void> {
  if (!isHex(signature) || signature.length !== 132) throw new GatewayRejectedError('signature must be a 65-byte 0x-prefixed hex string')
  const typedData = gatewayTypedData(deployment, primaryType, message) as unknown as Parameters<typeof verifyTypedData>[0]
  const valid = await verifyTypedData({ ...typedData, address: message.account, signature }).catch(() => false)
  if (!valid)
    throw new GatewayRejectedError(`signature is not ${message.account}'s EIP-712 ${primaryType} over this request`, [
      `domain: Tessera Gateway v1, chain ${deployment.chainId}, JobMarket ${deployment.contracts.JobMarket.address}`,
    ])
}

const nonceOk = (nonce: bigint) => {
  if (nonce < 0n || nonce >= 1n << 64n) throw new GatewayRejectedError(`nonce must be a uint64, got ${nonce}`)
}

const stringify = (message: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(message).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]))

async function store(intake: Intake, request: Omit<NewGatewayRequest, 'id'>): Promise<GatewayRequest> {
  try {
    return await insertGatewayRequest(intake.db, intake.views, gatewayPartiesOf(intake.deployment), {
      ...request,
      id: `gw_${randomBytes(16).toString('hex')}`,
    })
  } catch (error) {
    if (error instanceof GatewayError) throw new GatewayRejectedError(error.shortMessage, error.metaMessages)
    throw error
  }
}

async function chainTime(intake: Intake): Promise<bigint> {
  if (!intake.publicClient) return BigInt(Math.floor(intake.now()))
  return (await intake.publicClient.getBlock({ blockTag: 'latest' })).timestamp
}

/**
 * Accepts a signed job submission: checked as JobMarket would check it and, where the server can, as a provider would
 * run it (`checkJob`), then stored QUEUED holding its escrow from the account's balance. The leader's relay submits
 * it from the gateway's key. Throws {@link GatewayRejectedError} naming what was wrong; nothing is stored then.
 */
export async function acceptGatewaySubmit(intake: Intake, request: GatewaySubmit, signature: string): Promise<GatewayRequest> {
  nonceOk(request.nonce)
  const problems = gatewaySubmitProblems(request, await chainTime(intake))
  if (problems.length) throw new GatewayRejectedError(problems.join('; '))
  await verified(intake.deployment, 'Submit', request, signature)
  if (intake.blobs && intake.inspector) {
    const check = await checkJob({ blobs: intake.blobs, inspector: intake.inspector, spec: request })
    if (!check.runnable) throw new GatewayRejectedError(`the job can't run: ${check.problems.map((p) => p.message).join('; ')}`)
  }
  return store(intake, {
    account: getAddress(request.account),
    nonce: request.nonce,
    kind: 'SUBMIT',
    payload: stringify({ ...request, regions: [...request.regions] }),
    signature: signature as Hex,
    amount: escrowOf(request, intake.deployment.params.market),
  })
}

/** Accepts a signed cancel of one of the account's own gateway jobs while it is Open. */
export async function acceptGatewayCancel(intake: Intake, request: GatewayCancel, signature: string): Promise<GatewayRequest> {
  nonceOk(request.nonce)
  await verified(intake.deployment, 'Cancel', request, signature)
  const owner = await findGatewayJobAccount(intake.db, request.jobId)
  if (owner?.toLowerCase() !== request.account.toLowerCase())
    throw new GatewayRejectedError(`job ${request.jobId} was not submitted by ${request.account} through the gateway`)
  const [job] = await findJobsByIds(intake.views, [request.jobId.toString()])
  if (job?.status !== 'OPEN')
    throw new GatewayRejectedError(`job ${request.jobId} is ${job?.status ?? 'not indexed yet'}; only an OPEN job can be cancelled`)
  return store(intake, {
    account: getAddress(request.account),
    nonce: request.nonce,
    kind: 'CANCEL',
    payload: stringify({ ...request }),
    signature: signature as Hex,
    amount: 0n,
  })
}

/** Accepts a signed withdrawal of part of the account's balance to the account. */
export async function acceptGatewayWithdraw(intake: Intake, request: GatewayWithdraw, signature: string): Promise<GatewayRequest> {
  nonceOk(request.nonce)
  if (request.amount <= 0n) throw new GatewayRejectedError(`amount must be positive, got ${request.amount}`)
  await verified(intake.deployment, 'Withdraw', request, signature)
  return store(intake, {
    account: getAddress(request.account),
    nonce: request.nonce,
    kind: 'WITHDRAW',
    payload: stringify({ ...request }),
    signature: signature as Hex,
    amount: request.amount,
  })
}

/** Checks a signed read of an account's gateway state: the account's signature, not expired, at most an hour ahead. */
export async function verifyGatewayRead(intake: Intake, request: GatewayRead, signature: string) {
  const now = BigInt(Math.floor(intake.now()))
  if (request.expiresAt <= now)
    throw new GatewayRejectedError(`the signed read expired at ${request.expiresAt} (now ${now}): sign a new one`)
  if (request.expiresAt > now + BigInt(gatewayReadMaxSeconds))
    throw new GatewayRejectedError(`expiresAt ${request.expiresAt} is more than ${gatewayReadMaxSeconds} s ahead`)
  await verified(intake.deployment, 'Read', request, signature)
  return gatewayBalanceOf(intake.db, intake.views, gatewayPartiesOf(intake.deployment), request.account)
}
