import { type Address, type ContractFunctionReturnType, getAddress, type Hex, toFunctionSelector } from 'viem'
import type { jobMarketAbi } from '../contracts/generated/index.ts'
import { TesseraError } from '../protocol/errors.ts'

/**
 * `JobMarket.getJob` and `getSlot` as a followed job's poll reads them, every block for every job an agent holds:
 * encoded and decoded by hand at the ABI's fixed offsets, where viem's generic decoder of the whole `Job` tuple (its
 * spec, regions, providers and disputed lists) took a quarter of a busy agent's main thread. Only the fields a poll
 * looks at come out of `getJob`. Both are parity-tested against viem's own decoding of the same return data.
 */

const getJobSelector = toFunctionSelector('getJob(uint256)')
const getSlotSelector = toFunctionSelector('getSlot(uint256,address)')

/** What a poll reads of a job: its status, its round's commit deadline, what it runs and who disputed it. */
export type JobRound = {
  status: number
  commitDeadline: bigint
  spec: { modelHash: Hex; inputHash: Hex }
  /** How many providers the round has (its `providers`' length). */
  slots: number
  disputed: Address[]
}

/** A provider's slot in a job's current assignment, as `getSlot` returns it (the ABI's type). */
export type SlotView = ContractFunctionReturnType<typeof jobMarketAbi, 'view', 'getSlot'>

/**
 * Return data that doesn't hold what the ABI says it should. Retryable, as viem's own decoding errors count: it is
 * the node's answer, and the poll reads again at the next block.
 */
export class RoundReadError extends TesseraError {
  override name = 'RoundReadError'
  constructor(shortMessage: string) {
    super(shortMessage, { retryable: true })
  }
}

const word = (n: bigint) => n.toString(16).padStart(64, '0')

/** The calldata of `getJob(jobId)`. */
export function encodeGetJob(jobId: bigint): Hex {
  return `${getJobSelector}${word(jobId)}`
}

/** The calldata of `getSlot(jobId, provider)`. */
export function encodeGetSlot(jobId: bigint, provider: Address): Hex {
  return `${getSlotSelector}${word(jobId)}${provider.slice(2).toLowerCase().padStart(64, '0')}`
}

/** Reads 32-byte words of ABI return data by index. */
function words(data: Hex | undefined, what: string) {
  const hex = (data ?? '0x').toLowerCase()
  const count = (hex.length - 2) / 64
  if (!Number.isInteger(count)) throw new RoundReadError(`${what}: return data is not whole words (${hex.length - 2} hex digits)`)
  const at = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new RoundReadError(`${what}: return data has no word ${i} (it has ${count})`)
    return hex.slice(2 + 64 * i, 2 + 64 * (i + 1))
  }
  return {
    bytes32: (i: number) => `0x${at(i)}` as Hex,
    uint: (i: number) => BigInt(`0x${at(i)}`),
    /** A word counting bytes (an offset) or items (a length): small, or the data is not what it claims. */
    index: (i: number, unit = 1) => {
      const v = BigInt(`0x${at(i)}`)
      if (v > BigInt(count * 32) || v % BigInt(unit) !== 0n)
        throw new RoundReadError(`${what}: word ${i} (${v}) is no offset or length here`)
      return Number(v) / unit
    },
    bool: (i: number) => BigInt(`0x${at(i)}`) !== 0n,
    address: (i: number) => getAddress(`0x${at(i).slice(24)}`),
  }
}

/**
 * Decodes `getJob`'s return data: a `Job` tuple (dynamic) behind its offset; its head holds the spec's offset, then
 * requester, status, openedAt, tieBreak, claimed, escrow, commitDeadline, revealDeadline, firstClaimAt, and the offsets
 * of providers and disputed; the spec's head starts with modelHash and inputHash.
 */
export function decodeJobRound(data: Hex | undefined): JobRound {
  const w = words(data, 'getJob')
  const job = w.index(0, 32)
  const spec = job + w.index(job, 32)
  const providers = job + w.index(job + 10, 32)
  const disputed = job + w.index(job + 11, 32)
  const disputedCount = w.index(disputed)
  return {
    status: Number(w.uint(job + 2)),
    commitDeadline: w.uint(job + 7),
    spec: { modelHash: w.bytes32(spec), inputHash: w.bytes32(spec + 1) },
    slots: w.index(providers),
    disputed: Array.from({ length: disputedCount }, (_, i) => w.address(disputed + 1 + i)),
  }
}

/** Decodes `getSlot`'s return data: a static tuple, its seven fields in order. */
export function decodeSlot(data: Hex | undefined): SlotView {
  const w = words(data, 'getSlot')
  return {
    assigned: w.bool(0),
    ask: w.uint(1),
    collateral: w.uint(2),
    commitment: w.bytes32(3),
    revealed: w.bool(4),
    fingerprint: w.bytes32(5),
    outputHash: w.bytes32(6),
  }
}
