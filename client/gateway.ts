import { type Address, createPublicClient, createWalletClient, type Hex, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { Verification, verificationNames } from '../protocol/enums.ts'
import { isRetryable, type TesseraErrorParameters } from '../protocol/errors.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import {
  freshGatewayNonce,
  GatewayError,
  type GatewayMessages,
  type GatewayRequestKind,
  type GatewayRequestStatus,
  type GatewaySubmit,
  gatewayAddressOf,
  gatewayReadMaxSeconds,
  gatewaySubmitProblems,
  gatewayTypedData,
} from '../protocol/gateway.ts'
import { sleep } from '../protocol/retry.ts'
import { decodeRevert, formatRevert } from '../protocol/revert.ts'
import { checkJob, graphqlRequest, ServerRequestError } from './serverClient.ts'
import type { SubmitJobParameters } from './submitJob.ts'

/** A request the gateway refused (`extensions.code` GATEWAY_REJECTED): `reason` is the server's own words. */
export class GatewayRejectedError extends GatewayError {
  override name = 'GatewayRejectedError'
  readonly reason: string
  constructor(shortMessage: string, parameters: TesseraErrorParameters & { reason: string }) {
    super(shortMessage, parameters)
    this.reason = parameters.reason
  }
}

/** One gateway request as the server keeps it (GraphQL `GatewayRequest`), amounts in wei. */
export type GatewayRequest = {
  /** An unguessable token: whoever holds it can read the request. */
  id: string
  kind: GatewayRequestKind
  status: GatewayRequestStatus
  account: Address
  nonce: bigint
  /** What the request holds from the balance: a submit's escrow, a withdrawal's amount, 0 for a cancel. */
  amount: bigint
  /** The job a DONE submit created (or a cancel named). */
  jobId: bigint | null
  txHash: Hex | null
  /** Why a FAILED request failed. */
  error: string | null
  createdAt: string
}

/**
 * An account's gateway books (GraphQL `GatewayAccount`), in wei: `balance = deposited + refunded − held − withdrawn`,
 * deposits counted once indexed and 2 blocks deep.
 */
export type GatewayAccount = {
  account: Address
  deposited: bigint
  refunded: bigint
  held: bigint
  withdrawn: bigint
  balance: bigint
  /** The most recent first. */
  requests: GatewayRequest[]
}

type RawRequest = Omit<GatewayRequest, 'nonce' | 'amount' | 'jobId'> & { nonce: string; amount: string; jobId: string | null }
type RawAccount = Record<'deposited' | 'refunded' | 'held' | 'withdrawn' | 'balance', string> & {
  account: Address
  requests: RawRequest[]
}

const requestOf = (raw: RawRequest): GatewayRequest => ({
  ...raw,
  nonce: BigInt(raw.nonce),
  amount: BigInt(raw.amount),
  jobId: raw.jobId === null ? null : BigInt(raw.jobId),
})

const accountOf = (raw: RawAccount): GatewayAccount => ({
  account: raw.account,
  deposited: BigInt(raw.deposited),
  refunded: BigInt(raw.refunded),
  held: BigInt(raw.held),
  withdrawn: BigInt(raw.withdrawn),
  balance: BigInt(raw.balance),
  requests: raw.requests.map(requestOf),
})

const requestFields = 'id kind status account nonce amount jobId txHash error createdAt'

const submitMutation = /* GraphQL */ `
  mutation GatewaySubmit($request: GatewaySubmitInput!, $signature: String!) {
    gatewaySubmit(request: $request, signature: $signature) { ${requestFields} }
  }`
const cancelMutation = /* GraphQL */ `
  mutation GatewayCancel($request: GatewayCancelInput!, $signature: String!) {
    gatewayCancel(request: $request, signature: $signature) { ${requestFields} }
  }`
const withdrawMutation = /* GraphQL */ `
  mutation GatewayWithdraw($request: GatewayWithdrawInput!, $signature: String!) {
    gatewayWithdraw(request: $request, signature: $signature) { ${requestFields} }
  }`
const requestQuery = /* GraphQL */ `
  query GatewayRequest($id: ID!) {
    gatewayRequest(id: $id) { ${requestFields} }
  }`
const accountQuery = /* GraphQL */ `
  query GatewayAccount($account: Address!, $expiresAt: BigInt!, $signature: String!, $first: Int) {
    gatewayAccount(account: $account, expiresAt: $expiresAt, signature: $signature) {
      account deposited refunded held withdrawn balance
      requests(first: $first) { ${requestFields} }
    }
  }`

/**
 * Posts a gateway operation; a GATEWAY_REJECTED error becomes a {@link GatewayRejectedError} naming the server and
 * the operation, anything else (network, 5xx, malformed input) stays the {@link ServerRequestError} it was.
 */
async function gatewayRequest<T>(parameters: {
  serverUrl: string
  what: string
  query: string
  variables: Record<string, unknown>
  signal?: AbortSignal
}): Promise<T> {
  const { serverUrl, what, query, variables, signal } = parameters
  try {
    return await graphqlRequest<T>({ serverUrl, query, variables, signal })
  } catch (error) {
    const reason = gatewayRejectionOf(error)
    if (reason === undefined) throw error
    throw new GatewayRejectedError(`the gateway at ${serverUrl} refused the ${what}: ${reason}`, {
      reason,
      cause: error,
    })
  }
}

/** The server's reason when `error` is a GraphQL answer carrying a GATEWAY_REJECTED error, else undefined. */
export function gatewayRejectionOf(error: unknown): string | undefined {
  if (!(error instanceof ServerRequestError)) return undefined
  const rejected = error.graphqlErrors.filter((e) => e.code === 'GATEWAY_REJECTED')
  // The server words its refusals "gateway request rejected: <why>"; the client's message says the rest.
  return rejected.length ? rejected.map((e) => e.message.replace(/^gateway request rejected: /, '')).join('; ') : undefined
}

export type DepositToGatewayParameters = {
  rpcUrl: string
  deployment: Deployment
  privateKey: Hex
  /** TSR wei. */
  amount: bigint
  publicClient?: PublicClient
}
export type DepositToGatewayReturnType = { txHash: Hex; blockNumber: bigint }

/**
 * Transfers `amount` TSR to the gateway ({@link gatewayAddressOf}) and waits for the receipt. The deposit counts
 * toward the balance once the indexer has it and it is 2 blocks deep ({@link waitForGatewayDeposit}).
 */
export async function depositToGateway(parameters: DepositToGatewayParameters): Promise<DepositToGatewayReturnType> {
  const { rpcUrl, deployment, amount } = parameters
  if (amount <= 0n) throw new GatewayError(`a gateway deposit must be more than 0 TSR wei, got ${amount}`)
  const account = privateKeyToAccount(parameters.privateKey)
  const transport = http(rpcUrl)
  const publicClient = parameters.publicClient ?? createPublicClient({ transport })
  const wallet = createWalletClient({ account, chain: chainOf(await publicClient.getChainId(), rpcUrl), transport })
  const gateway = gatewayAddressOf(deployment)
  let txHash: Hex
  try {
    txHash = await wallet.writeContract({
      address: deployment.contracts.TesseraToken.address,
      abi: tesseraTokenAbi,
      functionName: 'transfer',
      args: [gateway, amount],
    })
  } catch (cause) {
    const revert = decodeRevert(cause)
    throw new GatewayError(`depositing ${amount} TSR wei to the gateway ${gateway} via ${rpcUrl} failed`, {
      cause,
      details: revert ? formatRevert(revert) : (cause as Error).message,
      retryable: !revert,
    })
  }
  const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
  if (receipt.status !== 'success')
    throw new GatewayError(`depositing ${amount} TSR wei to the gateway ${gateway} reverted in ${txHash}`, {
      details: `transfer from ${account.address}`,
    })
  return { txHash, blockNumber: receipt.blockNumber }
}

/** A job spec to submit through the gateway, as `submitJob` takes it; the account is the key's. */
export type GatewaySubmitSpec = Pick<
  SubmitJobParameters,
  | 'modelHash'
  | 'inputHash'
  | 'units'
  | 'maxPricePerUnit'
  | 'redundancy'
  | 'verification'
  | 'outputTolerance'
  | 'minVramMiB'
  | 'gpuModel'
  | 'regions'
>

export type SignGatewaySubmitParameters = GatewaySubmitSpec & {
  deployment: Pick<Deployment, 'chainId' | 'contracts'>
  privateKey: Hex
  /** Unix seconds (chain time) by which the job must be done. */
  deadline: bigint
  /** Default {@link freshGatewayNonce}. */
  nonce?: bigint
}
export type SignGatewaySubmitReturnType = { request: GatewaySubmit; signature: Hex }

/** A submit's message with `submitJob`'s defaults filled in. */
function gatewaySubmitOf(parameters: Omit<SignGatewaySubmitParameters, 'deployment'>): GatewaySubmit {
  return {
    account: privateKeyToAccount(parameters.privateKey).address,
    nonce: parameters.nonce ?? freshGatewayNonce(),
    modelHash: parameters.modelHash,
    inputHash: parameters.inputHash,
    units: parameters.units,
    maxPricePerUnit: parameters.maxPricePerUnit,
    minVramMiB: parameters.minVramMiB ?? 0,
    gpuModel: parameters.gpuModel ?? 0,
    regions: parameters.regions ?? [],
    redundancy: parameters.redundancy,
    verification: parameters.verification ?? Verification.Redundant,
    deadline: parameters.deadline,
    outputTolerance: parameters.outputTolerance ?? defaultOutputTolerance,
  }
}

/** Fills a submit's defaults (as `submitJob`'s) and signs it as EIP-712 `Submit` ({@link gatewayTypedData}). */
export async function signGatewaySubmit(parameters: SignGatewaySubmitParameters): Promise<SignGatewaySubmitReturnType> {
  const request = gatewaySubmitOf(parameters)
  const signature = await privateKeyToAccount(parameters.privateKey).signTypedData(
    gatewayTypedData(parameters.deployment, 'Submit', request),
  )
  return { request, signature }
}

/** A signed submit as `GatewaySubmitInput`: amounts as decimal strings, the verification by name. */
function submitInputOf(request: GatewaySubmit) {
  const name = verificationNames[request.verification]
  if (name === undefined) throw new GatewayError(`unknown verification ${request.verification}`)
  return {
    ...request,
    nonce: request.nonce.toString(),
    units: request.units.toString(),
    maxPricePerUnit: request.maxPricePerUnit.toString(),
    deadline: request.deadline.toString(),
    regions: [...request.regions],
    verification: name,
  }
}

export type SubmitViaGatewayParameters = GatewaySubmitSpec & {
  serverUrl: string
  deployment: Pick<Deployment, 'chainId' | 'contracts'>
  privateKey: Hex
  /** Unix seconds; default `deadlineIn` after the latest block, which needs `rpcUrl` or `publicClient`. */
  deadline?: bigint
  /** Seconds from the latest block's timestamp (default 600); ignored when `deadline` is given. */
  deadlineIn?: number
  rpcUrl?: string
  publicClient?: PublicClient
  nonce?: bigint
  signal?: AbortSignal
}

/**
 * Checks the spec as JobMarket would (`gatewaySubmitProblems`) and that the job can run (`checkJob`: blobs stored,
 * model loads, units match), then signs it and posts it to the gateway, returning the request (QUEUED, its escrow held
 * from the balance); {@link waitForGatewayJob} waits for its job. A job that would fail either check is a
 * {@link GatewayError} before anything is signed; a refusal by the gateway (bad signature, nonce reused, balance too
 * low, …) is a {@link GatewayRejectedError}.
 */
export async function submitViaGateway(parameters: SubmitViaGatewayParameters): Promise<GatewayRequest> {
  const { serverUrl, signal } = parameters
  // The chain's time sets the default deadline and checks a given one leaves the job time to run.
  const hasClient = parameters.publicClient !== undefined || parameters.rpcUrl !== undefined
  const now = parameters.deadline === undefined || hasClient ? await latestTimestamp(parameters) : undefined
  const deadline = parameters.deadline ?? (now as bigint) + BigInt(parameters.deadlineIn ?? 600)
  const nonce = parameters.nonce ?? freshGatewayNonce()
  const invalid = gatewaySubmitProblems(gatewaySubmitOf({ ...parameters, deadline, nonce }), now ?? 0n, now === undefined ? 0n : undefined)
  if (invalid.length) throw new GatewayError(`JobMarket would refuse this job, so nothing was signed or sent: ${invalid.join('; ')}`)
  const problems = await checkJob({
    serverUrl,
    spec: { modelHash: parameters.modelHash, inputHash: parameters.inputHash, units: parameters.units },
    signal,
  })
  if (problems.length)
    throw new GatewayError(`the job can't run, so nothing was signed or sent: ${problems.map((p) => p.message).join('; ')}`, {
      details: problems.map((p) => `${p.code}: ${p.message}`).join('\n'),
    })
  const { request, signature } = await signGatewaySubmit({ ...parameters, deadline, nonce })
  const data = await gatewayRequest<{ gatewaySubmit: RawRequest }>({
    serverUrl,
    what: 'submit',
    query: submitMutation,
    variables: { request: submitInputOf(request), signature },
    signal,
  })
  return requestOf(data.gatewaySubmit)
}

async function latestTimestamp(parameters: { rpcUrl?: string; publicClient?: PublicClient }): Promise<bigint> {
  const { rpcUrl } = parameters
  const publicClient = parameters.publicClient ?? (rpcUrl ? createPublicClient({ transport: http(rpcUrl) }) : undefined)
  if (!publicClient) throw new GatewayError('a gateway submit needs a deadline, or rpcUrl or publicClient to set one from the latest block')
  return (await publicClient.getBlock()).timestamp
}

/** What every signed request of an account takes: the server, the deployment it signs for, the key, and a nonce (fresh unless given). */
type SignedRequestParameters = {
  serverUrl: string
  deployment: Pick<Deployment, 'chainId' | 'contracts'>
  privateKey: Hex
  nonce?: bigint
  signal?: AbortSignal
}

export type CancelViaGatewayParameters = SignedRequestParameters & {
  /** One of the account's gateway jobs, still Open. */
  jobId: bigint
}

/** Signs and posts a `Cancel` of one of the account's gateway jobs; the escrow comes back to the balance once cancelled. */
export function cancelViaGateway(parameters: CancelViaGatewayParameters): Promise<GatewayRequest> {
  return postSigned(parameters, 'Cancel', { jobId: parameters.jobId }, `cancel of job ${parameters.jobId}`)
}

export type WithdrawFromGatewayParameters = SignedRequestParameters & {
  /** TSR wei, at most the balance. */
  amount: bigint
}

/** Signs and posts a `Withdraw` of `amount` from the account's balance, paid to the account once DONE. */
export function withdrawFromGateway(parameters: WithdrawFromGatewayParameters): Promise<GatewayRequest> {
  return postSigned(parameters, 'Withdraw', { amount: parameters.amount }, `withdrawal of ${parameters.amount} TSR wei`)
}

const signedMutations = { Cancel: ['gatewayCancel', cancelMutation], Withdraw: ['gatewayWithdraw', withdrawMutation] } as const

/** Signs a Cancel or Withdraw of the key's account (a fresh nonce unless given) and posts it; bigints go as strings. */
async function postSigned<T extends keyof typeof signedMutations>(
  parameters: {
    serverUrl: string
    deployment: Pick<Deployment, 'chainId' | 'contracts'>
    privateKey: Hex
    nonce?: bigint
    signal?: AbortSignal
  },
  type: T,
  fields: Omit<GatewayMessages[T], 'account' | 'nonce'>,
  what: string,
): Promise<GatewayRequest> {
  const signer = privateKeyToAccount(parameters.privateKey)
  const request = { account: signer.address, nonce: parameters.nonce ?? freshGatewayNonce(), ...fields } as GatewayMessages[T]
  const signature = await signer.signTypedData(gatewayTypedData(parameters.deployment, type, request))
  const [field, query] = signedMutations[type]
  const variables = Object.fromEntries(Object.entries(request).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]))
  const data = await gatewayRequest<Record<string, RawRequest>>({
    serverUrl: parameters.serverUrl,
    what,
    query,
    variables: { request: variables, signature },
    signal: parameters.signal,
  })
  return requestOf(data[field])
}

export type ReadGatewayAccountParameters = {
  serverUrl: string
  deployment: Pick<Deployment, 'chainId' | 'contracts'>
  privateKey: Hex
  /** How long the signed read stays valid, seconds (default 300, at most `gatewayReadMaxSeconds`). */
  expiresIn?: number
  /** How many recent requests to return (server default 20). */
  first?: number
  /** Wall clock, ms since the epoch: the server checks `expiresAt` against its own clock. */
  now?: () => number
  signal?: AbortSignal
}

/** Reads the account's gateway balances and recent requests with a signed `Read`. */
export async function readGatewayAccount(parameters: ReadGatewayAccountParameters): Promise<GatewayAccount> {
  const expiresIn = parameters.expiresIn ?? 300
  if (!(Number.isInteger(expiresIn) && expiresIn > 0 && expiresIn <= gatewayReadMaxSeconds))
    throw new GatewayError(`a gateway read expires 1 to ${gatewayReadMaxSeconds} s ahead, got expiresIn ${expiresIn}`)
  const signer = privateKeyToAccount(parameters.privateKey)
  const account = signer.address
  const expiresAt = BigInt(Math.floor((parameters.now ?? Date.now)() / 1000) + expiresIn)
  const signature = await signer.signTypedData(gatewayTypedData(parameters.deployment, 'Read', { account, expiresAt }))
  const data = await gatewayRequest<{ gatewayAccount: RawAccount }>({
    serverUrl: parameters.serverUrl,
    what: `read of ${account}`,
    query: accountQuery,
    variables: {
      account,
      expiresAt: expiresAt.toString(),
      signature,
      ...(parameters.first === undefined ? {} : { first: parameters.first }),
    },
    signal: parameters.signal,
  })
  return accountOf(data.gatewayAccount)
}

/** Reads one gateway request by its id; null when the server doesn't know it. */
export async function fetchGatewayRequest(parameters: {
  serverUrl: string
  id: string
  signal?: AbortSignal
}): Promise<GatewayRequest | null> {
  const data = await gatewayRequest<{ gatewayRequest: RawRequest | null }>({
    serverUrl: parameters.serverUrl,
    what: `read of request ${parameters.id}`,
    query: requestQuery,
    variables: { id: parameters.id },
    signal: parameters.signal,
  })
  return data.gatewayRequest && requestOf(data.gatewayRequest)
}

export type WaitForGatewayRequestParameters = {
  serverUrl: string
  id: string
  /** Default 120 000. */
  timeoutMs?: number
  /** Between reads; default 1000. */
  intervalMs?: number
  signal?: AbortSignal
}

/**
 * Polls a gateway request until it is DONE and returns it. Throws a {@link GatewayError} with the request's `error`
 * when it FAILED, when the server doesn't know the id, or on timeout (naming the last status). Transient read errors
 * are retried until the timeout; an abort throws the signal's reason.
 */
export async function waitForGatewayRequest(parameters: WaitForGatewayRequestParameters): Promise<GatewayRequest> {
  const { serverUrl, id, signal } = parameters
  const timeoutMs = parameters.timeoutMs ?? 120_000
  const until = Date.now() + timeoutMs
  let last: GatewayRequest | undefined
  let lastError: unknown
  for (;;) {
    signal?.throwIfAborted()
    try {
      const request = await fetchGatewayRequest({ serverUrl, id, signal })
      if (!request) throw new GatewayError(`the gateway at ${serverUrl} knows no request ${id}`)
      last = request
      lastError = undefined
      if (request.status === 'DONE') return request
      if (request.status === 'FAILED')
        throw new GatewayError(`gateway ${request.kind.toLowerCase()} ${id} failed: ${request.error ?? 'no reason given'}`, {
          details: request.txHash ? `transaction ${request.txHash}` : undefined,
        })
    } catch (error) {
      if (signal?.aborted || !isRetryable(error)) throw error
      lastError = error
    }
    if (Date.now() >= until)
      throw new GatewayError(
        `gateway request ${id} at ${serverUrl} was not done after ${timeoutMs} ms (last status ${last?.status ?? 'unknown'})`,
        { retryable: true, cause: lastError },
      )
    await sleep(Math.min(parameters.intervalMs ?? 1000, Math.max(0, until - Date.now())), signal)
  }
}

export type WaitForGatewayJobReturnType = { jobId: bigint; txHash: Hex; request: GatewayRequest }

/** {@link waitForGatewayRequest} for a submit: the job it created and the transaction that created it. */
export async function waitForGatewayJob(parameters: WaitForGatewayRequestParameters): Promise<WaitForGatewayJobReturnType> {
  const request = await waitForGatewayRequest(parameters)
  if (request.jobId === null || request.txHash === null)
    throw new GatewayError(`gateway request ${parameters.id} is DONE without a job or transaction`, {
      details: `kind ${request.kind}, jobId ${request.jobId}, txHash ${request.txHash}`,
    })
  return { jobId: request.jobId, txHash: request.txHash, request }
}

export type WaitForGatewayDepositParameters = {
  serverUrl: string
  deployment: Pick<Deployment, 'chainId' | 'contracts'>
  privateKey: Hex
  /** Wait until the account's `deposited` is at least this (its value before the deposit plus the deposit). */
  deposited: bigint
  /** Default 60 000. */
  timeoutMs?: number
  /** Default 1000. */
  intervalMs?: number
  signal?: AbortSignal
}

/**
 * Polls the account until the gateway counts its deposits up to `deposited` (indexed and 2 blocks deep) and returns
 * the account. `deposited` only grows, so this holds while the account's jobs move its balance. Throws a
 * {@link GatewayError} on timeout naming what was counted.
 */
export async function waitForGatewayDeposit(parameters: WaitForGatewayDepositParameters): Promise<GatewayAccount> {
  const { signal } = parameters
  const timeoutMs = parameters.timeoutMs ?? 60_000
  const until = Date.now() + timeoutMs
  let last: GatewayAccount | undefined
  let lastError: unknown
  for (;;) {
    signal?.throwIfAborted()
    try {
      last = await readGatewayAccount(parameters)
      lastError = undefined
      if (last.deposited >= parameters.deposited) return last
    } catch (error) {
      if (signal?.aborted || !isRetryable(error)) throw error
      lastError = error
    }
    if (Date.now() >= until)
      throw new GatewayError(
        `the gateway at ${parameters.serverUrl} counted ${last?.deposited ?? 'no'} TSR wei deposited after ${timeoutMs} ms, waiting for ${parameters.deposited}`,
        { retryable: true, cause: lastError, metaMessages: ['A deposit counts once the indexer has it and it is 2 blocks deep.'] },
      )
    await sleep(Math.min(parameters.intervalMs ?? 1000, Math.max(0, until - Date.now())), signal)
  }
}
