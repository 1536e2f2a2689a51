import type { Address, Hex, TypedDataDefinition, TypedDataDomain } from 'viem'
import type { Deployment } from './deployment.ts'
import { TesseraError } from './errors.ts'
import { submitJobProblems } from './jobSpec.ts'

/**
 * The job gateway: requesters deposit TSR to the server's key (the `matcher` of the deployment, which also issues the
 * challenge jobs) and sign requests the server relays from that key. On chain every gateway job, a requester's or a
 * challenge, has the same requester, so an agent can't tell a challenge from a paid job by who submitted it. Which
 * account asked for which job is known only to the gateway (and to the account, which reads it signed).
 *
 * Requests are EIP-712 typed data under {@link gatewayDomainOf}; every request carries the account and a nonce the
 * account never used before (any unused uint64: the server refuses a nonce it has seen for that account).
 */

/** Where gateway requests are signed: the deployment's chain and JobMarket, so a signature is valid on one market only. */
export function gatewayDomainOf(deployment: Pick<Deployment, 'chainId' | 'contracts'>): TypedDataDomain {
  return {
    name: 'Tessera Gateway',
    version: '1',
    chainId: deployment.chainId,
    verifyingContract: deployment.contracts.JobMarket.address,
  }
}

/** The address deposits go to and gateway jobs come from: the server's key (`deployment.matcher`). */
export function gatewayAddressOf(deployment: Pick<Deployment, 'matcher'>): Address {
  return deployment.matcher
}

export const gatewayTypes = {
  /** Submit a job: JobMarket's `JobSpec` fields, paid from the account's gateway balance. */
  Submit: [
    { name: 'account', type: 'address' },
    { name: 'nonce', type: 'uint64' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'inputHash', type: 'bytes32' },
    { name: 'units', type: 'uint64' },
    { name: 'maxPricePerUnit', type: 'uint256' },
    { name: 'minVramMiB', type: 'uint32' },
    { name: 'gpuModel', type: 'uint32' },
    { name: 'regions', type: 'bytes32[]' },
    { name: 'redundancy', type: 'uint8' },
    { name: 'verification', type: 'uint8' },
    { name: 'deadline', type: 'uint64' },
    { name: 'outputTolerance', type: 'uint8' },
  ],
  /** Cancel one of the account's gateway jobs while it is still Open. */
  Cancel: [
    { name: 'account', type: 'address' },
    { name: 'nonce', type: 'uint64' },
    { name: 'jobId', type: 'uint256' },
  ],
  /** Pay `amount` of the account's balance back to the account. */
  Withdraw: [
    { name: 'account', type: 'address' },
    { name: 'nonce', type: 'uint64' },
    { name: 'amount', type: 'uint256' },
  ],
  /** Read the account's balance and requests until `expiresAt` (unix seconds). */
  Read: [
    { name: 'account', type: 'address' },
    { name: 'expiresAt', type: 'uint64' },
  ],
} as const

export type GatewaySubmit = {
  account: Address
  nonce: bigint
  modelHash: Hex
  inputHash: Hex
  units: bigint
  maxPricePerUnit: bigint
  minVramMiB: number
  gpuModel: number
  regions: readonly Hex[]
  redundancy: number
  verification: number
  deadline: bigint
  outputTolerance: number
}
export type GatewayCancel = { account: Address; nonce: bigint; jobId: bigint }
export type GatewayWithdraw = { account: Address; nonce: bigint; amount: bigint }
export type GatewayRead = { account: Address; expiresAt: bigint }

/** Each request type's message. */
export type GatewayMessages = { Submit: GatewaySubmit; Cancel: GatewayCancel; Withdraw: GatewayWithdraw; Read: GatewayRead }

/**
 * The EIP-712 typed data of one gateway request, ready for viem's `signTypedData` and `verifyTypedData`
 * (`{ ...gatewayTypedData(…), signature }`).
 */
export function gatewayTypedData<T extends keyof GatewayMessages>(
  deployment: Pick<Deployment, 'chainId' | 'contracts'>,
  primaryType: T,
  message: GatewayMessages[T],
): TypedDataDefinition<typeof gatewayTypes, T> {
  // viem derives the message's type from `gatewayTypes`; the request types above are the same shapes, written out.
  return { domain: gatewayDomainOf(deployment), types: gatewayTypes, primaryType, message } as unknown as TypedDataDefinition<
    typeof gatewayTypes,
    T
  >
}

/** The request kinds the gateway stores, as `app.gateway_request.kind`. */
export const gatewayRequestKinds = ['SUBMIT', 'CANCEL', 'WITHDRAW'] as const
export type GatewayRequestKind = (typeof gatewayRequestKinds)[number]

/**
 * Where a request is: QUEUED (accepted, its amount held from the balance), SENDING (its transaction is being sent or
 * mined), DONE (on chain; a submit has its job), FAILED (refused or reverted on chain; nothing was spent).
 */
export const gatewayRequestStatuses = ['QUEUED', 'SENDING', 'DONE', 'FAILED'] as const
export type GatewayRequestStatus = (typeof gatewayRequestStatuses)[number]

/** How long a signed read may be used: at most an hour ahead. */
export const gatewayReadMaxSeconds = 3600

/** Requests of one account waiting (QUEUED or SENDING) at most; more are refused until some are done. */
export const gatewayMaxWaiting = 32

/** A fresh nonce for a gateway request: milliseconds since 1970 times 1000 plus a random part, unused in practice. */
export function freshGatewayNonce(nowMs = Date.now()): bigint {
  return BigInt(Math.floor(nowMs)) * 1000n + BigInt(Math.floor(Math.random() * 1000))
}

/** A gateway request the server refused, or one that failed on chain; the message names what was wrong. */
export class GatewayError extends TesseraError {
  override name = 'GatewayError'
}

/**
 * What JobMarket's `submitJob` would refuse in `spec` at chain time `now` (unix s), and what would leave it too little
 * time to run (a deadline under `minLeadSeconds` away): one message per problem, naming the field; none when it would
 * be accepted (`submitJobProblems`).
 */
export function gatewaySubmitProblems(spec: Omit<GatewaySubmit, 'account' | 'nonce'>, now: bigint, minLeadSeconds = 60n): string[] {
  return submitJobProblems(spec, now, minLeadSeconds).map((p) => p.message)
}
