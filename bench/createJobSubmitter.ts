import {
  type Address,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  getAbiItem,
  type Hex,
  http,
  maxUint256,
  type PublicClient,
  parseEther,
  parseEventLogs,
  parseGwei,
  toEventSelector,
  toHex,
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
 * nonce, a fixed gas limit and fee, so that a submission is one `eth_sendRawTransaction`; its job id comes from the
 * JobSubmitted logs read once a block for all submissions ({@link createSubmissionWatch}). One key's transactions leave
 * in nonce order, so none waits in anvil's pool for a gap. Throws `SubmitJobError` when a submission reverts or isn't
 * mined within a minute.
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
  const submissions = await createSubmissionWatch(publicClient, market)
  let count = 0
  return {
    async submit() {
      const n = count++
      const { hash, sentAt } = await senders[n % senders.length].send((nonce) => ({ ...fixed, data: dataOf(n), nonce }))
      return { jobId: await submissions.jobIdOf(hash, sentAt), sentAt }
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

const jobSubmittedTopic = toEventSelector(getAbiItem({ abi: jobMarketAbi, name: 'JobSubmitted' }))

/** Receipts are read for submissions that waited this long without their JobSubmitted log: a revert emits none. */
const receiptAfterMs = 3_000

/**
 * Tells each submit transaction's job id from the JobSubmitted logs of the blocks mined since: every 100 ms while
 * submissions wait, one `eth_blockNumber`, and one `eth_getLogs` of JobMarket's JobSubmitted for each new range of
 * blocks, for all of them together. The load generator shares the machine with the stack it measures; reading a
 * receipt per submission every 100 ms cost the bench and anvil some ten reads a job. A submission without its log
 * after {@link receiptAfterMs} has its receipt read at each new head (a reverted one throws, and one whose log was
 * read before it was registered resolves); a minute unmined throws. The devnet it runs on doesn't reorg, so a log once
 * seen stands.
 */
async function createSubmissionWatch(publicClient: PublicClient, market: Address) {
  type Waiter = { since: number; resolve: (jobId: bigint) => void; reject: (error: Error) => void }
  const waiting = new Map<Hex, Waiter>()
  let readTo = await publicClient.getBlockNumber({ cacheTime: 0 })
  let running = false
  const settle = (hash: Hex, outcome: { jobId: bigint } | { error: Error }) => {
    const waiter = waiting.get(hash)
    if (!waiter) return
    waiting.delete(hash)
    if ('jobId' in outcome) waiter.resolve(outcome.jobId)
    else waiter.reject(outcome.error)
  }
  const readNewBlocks = async () => {
    const head = await publicClient.getBlockNumber({ cacheTime: 0 })
    if (head <= readTo) return
    const logs = await publicClient.request({
      method: 'eth_getLogs',
      params: [{ address: market, topics: [jobSubmittedTopic], fromBlock: toHex(readTo + 1n), toBlock: toHex(head) }],
    })
    readTo = head
    for (const log of logs) if (log.topics[1]) settle(log.transactionHash as Hex, { jobId: BigInt(log.topics[1]) })
    const now = performance.now()
    const overdue = [...waiting].filter(([, waiter]) => now - waiter.since >= receiptAfterMs)
    await Promise.all(
      overdue.map(async ([hash, waiter]) => {
        const receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
        if (receipt) {
          const [event] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobSubmitted' })
          settle(hash, event ? { jobId: event.args.jobId } : { error: new SubmitJobError(`submitJob reverted in ${hash}`) })
        } else if (now - waiter.since > 60_000)
          settle(hash, { error: new SubmitJobError(`submitJob ${hash} not mined within a minute`, { retryable: true }) })
      }),
    )
  }
  const run = async () => {
    running = true
    while (waiting.size) {
      await sleep(100)
      await readNewBlocks().catch(() => undefined) // a failed read is read again at the next tick
    }
    running = false
  }
  return {
    /** The job `hash` created, once a block holding it has been read. */
    jobIdOf(hash: Hex, since: number): Promise<bigint> {
      const jobId = new Promise<bigint>((resolve, reject) => waiting.set(hash.toLowerCase() as Hex, { since, resolve, reject }))
      if (!running) void run()
      return jobId
    },
  }
}
