import { type Address, type Hex, parseEventLogs, type TransactionReceipt } from 'viem'
import { jobBatcherAbi } from '../../contracts/generated/index.ts'
import { decodeRevertData, formatRevert } from '../../protocol/revert.ts'
import type { Batch, TransactionRequest } from './transactionSender.ts'

/** The per-job calls JobBatcher runs many at a time. */
export type BatchAction = 'assign' | 'finalize' | 'expire' | 'expireAssignment'

/** One job's call in a batch: its sender key, the job, and for `assign` its providers. */
export type BatchCall = { key: string; jobId: bigint; providers?: readonly Address[] }

/** Most calls the leader puts in one transaction by default (JobBatcher takes up to 256). */
export const defaultBatchSize = 64

/** JobMarket's revert data as `Name(args…)`, or the raw bytes when no Tessera contract declares it. */
export function describeRevertData(data: Hex): string {
  if (data === '0x') return 'reverted without data'
  const revert = decodeRevertData(data)
  return revert ? formatRevert(revert) : data
}

/** What JobBatcher's `…Many` returns: whether each call succeeded, and the revert data of each that didn't. */
const refusalsOf = (result: unknown): (string | undefined)[] => {
  const [ok, reasons] = result as readonly [readonly boolean[], readonly Hex[]]
  return ok.map((succeeded, i) => (succeeded ? undefined : describeRevertData(reasons[i] ?? '0x')))
}

/** The `CallFailed` events `batcher` emitted in `receipt`. */
const failedIn =
  (batcher: Address) =>
  (receipt: TransactionReceipt): { index: number; reason: string }[] =>
    parseEventLogs({ abi: jobBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })
      .filter((log) => log.address.toLowerCase() === batcher.toLowerCase())
      .map((log) => ({ index: Number(log.args.index), reason: describeRevertData(log.args.reason) }))

/**
 * The transactions that make `calls` through JobBatcher at `batcher`, `size` calls each (in order): one
 * `assignMany`, `finalizeMany`, `expireMany` or `expireAssignmentMany` per chunk, each call under its own key, so the
 * sender sends only those a simulation says will succeed and frees the keys of those that revert on chain.
 * `metaOf` gives each transaction's metadata from its chunk's calls.
 */
export function batchRequests<Meta>(parameters: {
  batcher: Address
  action: BatchAction
  calls: readonly BatchCall[]
  size: number
  metaOf: (calls: BatchCall[]) => Meta
}): TransactionRequest<Meta>[] {
  const { batcher, action, calls, metaOf } = parameters
  const size = Math.max(1, Math.min(256, Math.floor(parameters.size)))
  const functionName = `${action}Many`
  const encode = (chunk: unknown[]): readonly unknown[] => {
    const jobs = chunk as BatchCall[]
    const jobIds = jobs.map((c) => c.jobId)
    return action === 'assign' ? [jobIds, jobs.map((c) => c.providers ?? [])] : [jobIds]
  }
  const requests: TransactionRequest<Meta>[] = []
  for (let start = 0; start < calls.length; start += size) {
    const chunk = calls.slice(start, start + size)
    const batch: Batch = {
      calls: chunk.map((c) => ({ key: c.key, call: c })),
      encode: (kept) => encode(kept),
      refusals: refusalsOf,
      failed: failedIn(batcher),
    }
    requests.push({
      key: `${functionName}:${chunk[0]?.key}+${chunk.length - 1}`,
      action,
      address: batcher,
      abi: jobBatcherAbi,
      functionName,
      args: encode(chunk),
      meta: metaOf(chunk),
      batch,
    })
  }
  return requests
}
