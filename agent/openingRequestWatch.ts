import type { Address, Hex } from 'viem'
import { jobMarketAbi } from '../contracts/generated/index.ts'
import { buildOutputTree, openingOf } from '../protocol/outputTree.ts'
import { decodeTensorBlob } from '../protocol/tensorBlob.ts'
import { type PollBlockWindowsParameters, pollBlockWindows } from './pollBlockWindows.ts'
import type { TxSender } from './txSender.ts'

/** The provider's own logs are read as `pollBlockWindows` reads blocks. */
export type OpeningRequestWatchParameters = Omit<PollBlockWindowsParameters, 'what' | 'poll'> & {
  provider: Address
  jobMarket: Address
  sender: TxSender
  /** The bytes of an output this agent uploaded, by sha256: its own copy first, then the server's. */
  readOutput: (outputHash: Hex) => Promise<Uint8Array | undefined>
}

/**
 * Answers opening requests made of this provider (`JobMarket.requestOpening`): reads its `OpeningRequested` logs from
 * the chain every `intervalMs` and opens the element asked for (`openElement`) from the output it committed. A result
 * left unopened agrees with nobody and is slashed, so the agent answers itself rather than trust the keeper to have
 * its output (the server may have lost the blob, or the keeper be down while a griefer asks). Each job is answered
 * once. Never rejects.
 */
export async function openingRequestWatch(parameters: OpeningRequestWatchParameters): Promise<void> {
  const { publicClient, provider, jobMarket } = parameters
  const answered = new Set<bigint>()
  await pollBlockWindows({
    ...parameters,
    what: 'answering opening requests',
    poll: async (range) => {
      const logs = await publicClient.getContractEvents({
        address: jobMarket,
        abi: jobMarketAbi,
        eventName: 'OpeningRequested',
        args: { provider },
        ...range,
      })
      for (const { args } of logs) {
        if (args.jobId === undefined || args.index === undefined || answered.has(args.jobId)) continue
        if (await answer(parameters, args.jobId, args.index)) answered.add(args.jobId)
      }
    },
  })
}

/** Opens the element asked for; true when done or no longer possible (the job moved on), false to try again. */
async function answer(parameters: OpeningRequestWatchParameters, jobId: bigint, index: bigint): Promise<boolean> {
  const { publicClient, provider, jobMarket, log } = parameters
  const read = <T>(functionName: 'getJob' | 'getSlot', args: readonly unknown[]) =>
    publicClient.readContract({ address: jobMarket, abi: jobMarketAbi, functionName, args } as never) as Promise<T>
  const [job, slot] = await Promise.all([
    read<{ spec: { outputTolerance: number } }>('getJob', [jobId]),
    read<{ fingerprint: Hex; outputHash: Hex; revealed: boolean }>('getSlot', [jobId, provider]),
  ])
  const bytes = await parameters.readOutput(slot.outputHash)
  if (!bytes) {
    log.error({ jobId, outputHash: slot.outputHash }, 'asked to open an output this agent no longer holds')
    return false
  }
  const tree = buildOutputTree(decodeTensorBlob(bytes).data, job.spec.outputTolerance)
  if (tree.fingerprint.toLowerCase() !== slot.fingerprint.toLowerCase()) {
    log.error({ jobId, outputHash: slot.outputHash }, 'the output held does not match the fingerprint revealed')
    return true
  }
  const last = BigInt(Math.max(tree.length - 1, 0))
  const opening = openingOf(tree, Number(index < last ? index : last))
  try {
    await parameters.sender.send({ address: jobMarket, abi: jobMarketAbi, functionName: 'openElement', args: [jobId, provider, opening] })
    log.info({ jobId, index: opening.index }, 'opened an element of our output on request')
    return true
  } catch (error) {
    // Past the window (or the job settled) there is nothing left to answer.
    log.warn({ jobId, err: error }, 'openElement failed')
    return /ProofWindowClosed|UnexpectedStatus/.test(String(error))
  }
}
