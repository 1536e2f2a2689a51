import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  type Hex,
  http,
  maxUint256,
  type PublicClient,
  parseEther,
  parseEventLogs,
  parseGwei,
} from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { type CatalogueModel, catalogueInputs } from '../agent/models/modelCatalogue.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { SubmitJobError } from '../client/submitJob.ts'
import { jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { Verification } from '../protocol/enums.ts'
import { defaultOutputTolerance } from '../protocol/fingerprint.ts'
import { sleep } from '../protocol/retry.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'

/** A job's submission: the id JobMarket gave it and when its transaction was sent (`performance.now()`). */
export type SubmittedJob = { jobId: bigint; sentAt: number }

export type CreateJobSubmitterParameters = {
  serverUrl: string
  rpcUrl: string
  deployment: Deployment
  /** Requester keys holding TSR and ETH; the jobs take them in turn. */
  keys: readonly Hex[]
  model: CatalogueModel
  /** Providers per job (Redundant). */
  redundancy: number
}

export type JobSubmitter = { submit: () => Promise<SubmittedJob> }

/** How many seeded inputs (1 to 8 rows) the jobs take in turn. */
const inputCount = 8

/**
 * Readies `keys` to submit Redundant jobs of `model`, as fast as a requester can: uploads the model and eight seeded
 * inputs, approves JobMarket for the maximum once per key, then signs each `submitJob` locally with the key's next
 * nonce, a fixed gas limit and fee, so that a submission is one `eth_sendRawTransaction` and a receipt read (for the
 * job id). One key's transactions leave in nonce order, so none waits in anvil's pool for a gap. Throws
 * `SubmitJobError` when a submission reverts or isn't mined within a minute.
 */
export async function createJobSubmitter(parameters: CreateJobSubmitterParameters): Promise<JobSubmitter> {
  const { rpcUrl, deployment } = parameters
  const publicClient = createPublicClient({ chain: chainOf(deployment.chainId, rpcUrl), transport: http(rpcUrl) })
  const market = deployment.contracts.JobMarket.address
  const specs = await uploadWorkload(parameters)
  const { timestamp } = await publicClient.getBlock()
  const dataOf = (n: number) =>
    encodeFunctionData({
      abi: jobMarketAbi,
      functionName: 'submitJob',
      args: [jobSpec({ ...specs[n % specs.length], redundancy: parameters.redundancy, deadline: timestamp + 3_600n })],
    })
  const accounts = parameters.keys.map((key) => privateKeyToAccount(key))
  await Promise.all(accounts.map((account) => approveMax({ rpcUrl, account, deployment, publicClient })))
  const estimate = await publicClient.estimateGas({ account: accounts[0], to: market, data: dataOf(0) })
  const fixed = { chainId: deployment.chainId, type: 'eip1559', to: market, gas: (estimate * 3n) / 2n, ...feePerGas } as const
  const senders = await Promise.all(accounts.map((account) => nonceQueue(publicClient, account)))
  let count = 0
  return {
    async submit() {
      const n = count++
      const { hash, sentAt } = await senders[n % senders.length].send((nonce) => ({ ...fixed, data: dataOf(n), nonce }))
      return { jobId: await jobIdOf(publicClient, hash), sentAt }
    },
  }
}

/** Far above anvil's base fee whatever the load: the bench never waits on its price. */
const feePerGas = { maxFeePerGas: parseGwei('50'), maxPriorityFeePerGas: parseGwei('1') }

/** One job's blobs and units. */
type WorkloadSpec = { modelHash: Hex; inputHash: Hex; units: bigint }

/**
 * Uploads `model` and the seeded inputs, signed by the first key (any funded key will do: the providers a job is
 * assigned to may read its blobs whoever uploaded them); a job's units are its input's rows.
 */
async function uploadWorkload(
  parameters: Pick<CreateJobSubmitterParameters, 'serverUrl' | 'deployment' | 'keys' | 'model'>,
): Promise<WorkloadSpec[]> {
  const { serverUrl, model } = parameters
  const credentials = { account: privateKeyToAccount(parameters.keys[0]), chainId: parameters.deployment.chainId }
  const { sha256: modelHash } = await uploadBlob({ serverUrl, bytes: model.bytes, kind: 'model', credentials })
  return Promise.all(
    catalogueInputs({ model, count: inputCount }).map(async (data) => {
      const rows = data.length / model.inputSize
      const bytes = encodeTensorBlob({ dims: [rows, model.inputSize], data })
      const { sha256: inputHash } = await uploadBlob({ serverUrl, bytes, kind: 'input', credentials })
      return { modelHash, inputHash, units: BigInt(rows) }
    }),
  )
}

/** The `submitJob` argument: Redundant, any region and hardware, 0.01 TSR a unit at most. */
function jobSpec(parameters: WorkloadSpec & { redundancy: number; deadline: bigint }) {
  return {
    modelHash: parameters.modelHash,
    inputHash: parameters.inputHash,
    units: parameters.units,
    maxPricePerUnit: parseEther('0.01'),
    minVramMiB: 0,
    gpuModel: 0,
    regions: [],
    redundancy: parameters.redundancy,
    verification: Verification.Redundant,
    deadline: parameters.deadline,
    outputTolerance: defaultOutputTolerance,
  } as const
}

/** Lets JobMarket take any amount of `account`'s TSR, and waits for it to be mined. */
async function approveMax(parameters: { rpcUrl: string; account: PrivateKeyAccount; deployment: Deployment; publicClient: PublicClient }) {
  const { rpcUrl, account, deployment } = parameters
  const wallet = createWalletClient({ account, chain: chainOf(deployment.chainId, rpcUrl), transport: http(rpcUrl) })
  const hash = await wallet.writeContract({
    address: deployment.contracts.TesseraToken.address,
    abi: tesseraTokenAbi,
    functionName: 'approve',
    args: [deployment.contracts.JobMarket.address, maxUint256],
  })
  await parameters.publicClient.waitForTransactionReceipt({ hash })
}

type UnsignedTransaction = Parameters<PrivateKeyAccount['signTransaction']>[0]

/**
 * Sends `account`'s transactions with consecutive nonces from its pending count: each is signed at once and sent once
 * the one before it was; `sentAt` is when it left.
 */
async function nonceQueue(publicClient: PublicClient, account: PrivateKeyAccount) {
  let nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })
  let queue: Promise<unknown> = Promise.resolve()
  return {
    async send(transaction: (nonce: number) => UnsignedTransaction): Promise<{ hash: Hex; sentAt: number }> {
      const serializedTransaction = await account.signTransaction(transaction(nonce++))
      const sent = queue.then(async () => {
        const sentAt = performance.now()
        return { hash: await publicClient.sendRawTransaction({ serializedTransaction }), sentAt }
      })
      queue = sent.catch(() => undefined)
      return sent
    },
  }
}

/** The job a submit transaction created, from its receipt, read every 100 ms until anvil has mined it. */
async function jobIdOf(publicClient: PublicClient, hash: Hex): Promise<bigint> {
  const deadline = performance.now() + 60_000
  for (;;) {
    const receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
    if (receipt) {
      const [event] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobSubmitted' })
      if (receipt.status !== 'success' || !event) throw new SubmitJobError(`submitJob reverted in ${hash}`)
      return event.args.jobId
    }
    if (performance.now() > deadline) throw new SubmitJobError(`submitJob ${hash} not mined within a minute`, { retryable: true })
    await sleep(100)
  }
}
