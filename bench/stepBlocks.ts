import { type Address, getAbiItem, type PublicClient } from 'viem'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { quantile } from './quantile.ts'

/**
 * How many blocks each step of a job took on chain, one entry per job that settled: from the block its submit was
 * mined in to its first `JobAssigned`, from there to its `JobCommitted` (the last commit of the round), and from there
 * to its `JobFinalized` (the settling reveal). Each step needs the one before it mined, so one block a step, three in
 * all, is the fewest the protocol allows.
 */
export type StepBlocks = { assigned: number[]; committed: number[]; finalized: number[] }

export const steps = ['assigned', 'committed', 'finalized'] as const

const events = [
  getAbiItem({ abi: jobMarketAbi, name: 'JobSubmitted' }),
  getAbiItem({ abi: jobMarketAbi, name: 'JobAssigned' }),
  getAbiItem({ abi: jobMarketAbi, name: 'JobCommitted' }),
  getAbiItem({ abi: jobMarketAbi, name: 'JobFinalized' }),
]

/** Reads JobMarket's logs from `fromBlock` to the head and counts the blocks of each step of `jobIds` ({@link StepBlocks}). */
export async function readStepBlocks(parameters: {
  publicClient: PublicClient
  market: Address
  jobIds: readonly bigint[]
  fromBlock: bigint
}): Promise<StepBlocks> {
  const logs = await parameters.publicClient.getLogs({ address: parameters.market, events, fromBlock: parameters.fromBlock })
  // The first block of each event per job: a job assigned again after a reorg or a no-show counts from its first round.
  const first = new Map<string, bigint>()
  for (const log of logs) {
    const key = `${log.args.jobId}:${log.eventName}`
    if (!first.has(key)) first.set(key, log.blockNumber)
  }
  const result: StepBlocks = { assigned: [], committed: [], finalized: [] }
  for (const jobId of parameters.jobIds) {
    const [submitted, assigned, committed, finalized] = events.map((e) => first.get(`${jobId}:${e.name}`))
    if (submitted === undefined || assigned === undefined || committed === undefined || finalized === undefined) continue
    result.assigned.push(Number(assigned - submitted))
    result.committed.push(Number(committed - assigned))
    result.finalized.push(Number(finalized - committed))
  }
  return result
}

/** Several runs' step blocks, as one. */
export function pooledStepBlocks(runs: readonly StepBlocks[]): StepBlocks {
  return Object.fromEntries(steps.map((step) => [step, runs.flatMap((r) => r[step])])) as StepBlocks
}

/** Per step and in all: the median and p99 of the blocks it took; and the share of jobs that took one block a step. */
export function summarizeStepBlocks(blocks: StepBlocks) {
  const totals = blocks.assigned.map((a, i) => a + blocks.committed[i] + blocks.finalized[i])
  const of = (values: readonly number[]) => ({ p50: quantile(values, 0.5), p99: quantile(values, 0.99) })
  return {
    jobs: totals.length,
    ...(Object.fromEntries(steps.map((step) => [step, of(blocks[step])])) as Record<(typeof steps)[number], { p50: number; p99: number }>),
    total: of(totals),
    atFloor: totals.filter((t) => t === steps.length).length / totals.length,
  }
}
