import pino from 'pino'
import { type Address, encodeFunctionData, type Hex, type PrivateKeyAccount, parseGwei } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobMarketAbi, providerRegistryAbi } from '../contracts/generated/index.ts'
import type { TestSystem } from '../devnet/testSystem.ts'
import { JobStatus } from '../protocol/enums.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { waitFor as pollFor } from '../test/support/graphql.ts'
import { buildMlp, makeInput } from './models/buildMlp.ts'
import type { RunAgentReturnType } from './runAgent.ts'
import {
  type AgentTestBed,
  journaledEntry,
  publishAssignments,
  startAgentTestBed,
  startTwoAgents,
  stopAgentTestBed,
  submitAndAssignJob,
} from './testServer.ts'

// Two honest agents whose commits and reveals a reorg takes out after they were mined (the reveal that settled the job
// included): they must send them again from the journal before the windows close, and nobody is slashed.

let bed: AgentTestBed
let system: TestSystem
let modelHash: Hex
let agents: RunAgentReturnType[] = []
const log = pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' })
const confirmations = 2

beforeAll(async () => {
  bed = await startAgentTestBed('tessera-agent-reorg-')
  system = bed.system
  const model = buildMlp({ seed: 5, inputSize: 16, hiddenSize: 16, outputSize: 4 })
  modelHash = sha256Hex(model)
  bed.server.blobs.set(modelHash, model)
  agents = await startTwoAgents(bed, log, { confirmations })
}, 120_000)

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()))
  agents = []
  await stopAgentTestBed(bed)
})

const waitFor = <T>(what: string, check: () => Promise<T | undefined | false>) =>
  pollFor(what, async () => (await check()) || undefined, { intervalMs: 50, timeoutMs: 30_000 })

const readJob = (jobId: bigint) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] })
const readSlot = (jobId: bigint, a: Address) =>
  system.publicClient.readContract({ address: system.market, abi: jobMarketAbi, functionName: 'getSlot', args: [jobId, a] })
/**
 * Replaces block `from` and every block after it by as many new ones, the first holding `transactions` (none: all
 * empty). The chain must not be automining. A block that still came between the head's read and the reorg (a send that
 * arrived as automine was switched off: an agent's reveal, say) would leave `from` in place, so the reorg is done
 * again, deeper, until the head is where it was read.
 */
async function reorgFrom(from: bigint, transactions: [Hex, number][] = []): Promise<void> {
  for (;;) {
    const top = await head()
    await system.testClient.request({ method: 'anvil_reorg', params: [Number(top - from + 1n), transactions] } as never)
    if ((await head()) === top) return
  }
}

/**
 * Reorganises block `from` and those after it away (replaced by empty ones) and hands `look` the chain as it is right
 * after, holding back what the agents send meanwhile until it is done.
 */
async function reorg<T>(from: bigint, look: () => Promise<T>): Promise<T> {
  await system.testClient.setAutomine(false)
  try {
    await reorgFrom(from)
    return await look()
  } finally {
    await system.testClient.setAutomine(true)
    await system.testClient.mine({ blocks: 1 })
  }
}
const head = () => system.publicClient.getBlockNumber({ cacheTime: 0 })

const journaled = (name: string, jobId: bigint) => journaledEntry(bed, name, jobId)

/** Mines a block at a time (automine off) until both agents have closed their entries for `jobId`. */
async function mineUntilClosed(jobId: bigint): Promise<void> {
  const closed = async () => (await Promise.all(['p1', 'p2'].map((n) => journaled(n, jobId)))).every((e) => e?.state === 'done')
  for (let blocks = 1; !(await closed()); blocks++) {
    if (blocks > 200) throw new Error('the agents never closed the entries')
    await system.testClient.mine({ blocks: 1 })
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The JobAssigned log of `jobId`'s first round. */
async function assignedLog(jobId: bigint) {
  const [assigned] = await system.publicClient.getContractEvents({
    address: system.market,
    abi: jobMarketAbi,
    eventName: 'JobAssigned',
    args: { jobId },
    fromBlock: 0n,
  })
  if (!assigned) throw new Error(`no JobAssigned for job ${jobId}`)
  return assigned
}

/** The first block holding `eventName` for `jobId`. */
async function firstBlockOf(eventName: 'ResultCommitted' | 'ResultRevealed', jobId: bigint): Promise<bigint> {
  const events = await system.publicClient.getContractEvents({
    address: system.market,
    abi: jobMarketAbi,
    eventName,
    args: { jobId },
    fromBlock: 0n,
  })
  const [first] = events // logs come in chain order
  if (!first) throw new Error(`no ${eventName} for job ${jobId}`)
  return first.blockNumber
}

/**
 * Gives the next block its parent's timestamp: the assign's, so that when a test mines the assign again where it was,
 * it has the same timestamp, and the round the same commit deadline. anvil_reorg gives every block it makes the
 * timestamp of the block it builds on; the assign, mined a moment after the submit, may be a second later otherwise.
 */
async function atParentTime(): Promise<void> {
  const { timestamp } = await system.publicClient.getBlock({ blockTag: 'latest' })
  await system.testClient.setNextBlockTimestamp({ timestamp })
}

/**
 * Submits a k=2 job of 3 rows (of `input`, default one made from `seed`) as requester 0, assigns it to `providers` as
 * the matcher and publishes the assignments.
 */
const submitAndAssign = (providers: PrivateKeyAccount[], seed: number, input?: Uint8Array) =>
  submitAndAssignJob(bed, { providers, modelHash, seed, rows: 3, input, beforeAssign: atParentTime })

/** Waits for the job to complete (the agreeing last reveal settles it); returns the Slashed events of its block. */
async function settled(jobId: bigint) {
  await waitFor('job completed', async () => (await readJob(jobId)).status === JobStatus.Completed)
  const [verdict] = await system.publicClient.getContractEvents({
    address: system.market,
    abi: jobMarketAbi,
    eventName: 'JobFinalized',
    args: { jobId },
    fromBlock: 0n,
  })
  if (!verdict) throw new Error(`job ${jobId} completed without a JobFinalized`)
  return system.publicClient.getContractEvents({
    address: system.registry,
    abi: providerRegistryAbi,
    eventName: 'Slashed',
    fromBlock: verdict.blockNumber,
    toBlock: verdict.blockNumber,
  })
}

/**
 * Submits and assigns a job whose model the server holds back: the agents verify the assignment, then wait on the
 * download. Resolves once both asked for it, with the assign (the last transaction mined) kept raw, to be mined again
 * after a reorg, and its block.
 */
async function assignWithModelHeld(providers: PrivateKeyAccount[], seeds: { modelSeed: number; jobSeed: number }) {
  const model = buildMlp({ seed: seeds.modelSeed, inputSize: 16, hiddenSize: 16, outputSize: 4 })
  const heldHash = sha256Hex(model)
  bed.server.blobs.set(heldHash, model)
  bed.server.held.set(heldHash, 0)
  const jobId = await submitAndAssignJob(bed, { providers, modelHash: heldHash, seed: seeds.jobSeed, rows: 3, beforeAssign: atParentTime })
  const { commitDeadline } = await readJob(jobId)
  const { transactions } = await system.publicClient.getBlock({ includeTransactions: true })
  const assignTx = transactions.at(-1)
  if (!assignTx?.blockNumber) throw new Error('the assign should be the last block')
  const raw = (await system.publicClient.request({ method: 'eth_getRawTransactionByHash', params: [assignTx.hash] } as never)) as Hex
  await waitFor('both agents verified and asked for the model', async () => (bed.server.held.get(heldHash) ?? 0) >= 2)
  return { jobId, commitDeadline, heldHash, raw, assignBlock: assignTx.blockNumber }
}

describe('agents after a reorg', () => {
  it('send the reveals again when a reorg takes the settling one before it is confirmed, and only then close', async () => {
    const [p1, p2] = system.accounts.providers
    const jobId = await submitAndAssign([p1, p2], 21)
    // The second reveal settles the job. No block is mined after it, so neither agent may close its entry yet: the
    // settlement isn't `confirmations` deep.
    await waitFor('job completed', async () => (await readJob(jobId)).status === JobStatus.Completed)
    await waitFor('both reveals journaled as sent', async () => {
      const states = await Promise.all(['p1', 'p2'].map(async (name) => (await journaled(name, jobId))?.state))
      return states.every((s) => s === 'revealing' || s === 'revealed')
    })
    const revealed = await firstBlockOf('ResultRevealed', jobId)
    const after = await reorg(revealed, () => readJob(jobId))
    expect(after.status).toBe(JobStatus.Committed)
    const slashed = await settled(jobId) // waits for both reveals to come back, the second settling
    expect(slashed).toEqual([])
    const [s1, s2] = await Promise.all([p1, p2].map((p) => readSlot(jobId, p.address)))
    expect(s1.revealed && s2.revealed).toBe(true)
    await system.testClient.mine({ blocks: confirmations })
    for (const name of ['p1', 'p2']) {
      const done = await waitFor(`${name} done`, async () => {
        const entry = await journaled(name, jobId)
        return entry?.state === 'done' && entry
      })
      expect(done.reason).toBe('completed: agreed')
    }
  })

  it('send commit and reveal again from the journal when a reorg takes both, with the same commitment', async () => {
    const [p1, p2] = system.accounts.providers
    const jobId = await submitAndAssign([p1, p2], 22)
    await waitFor('job completed', async () => (await readJob(jobId)).status === JobStatus.Completed)
    const commitments = await Promise.all([p1, p2].map(async (p) => (await readSlot(jobId, p.address)).commitment))
    const committed = await firstBlockOf('ResultCommitted', jobId)
    const [after, slot] = await reorg(committed, () => Promise.all([readJob(jobId), readSlot(jobId, p1.address)]))
    expect(after.status).toBe(JobStatus.Assigned)
    expect(slot.commitment).toBe(`0x${'00'.repeat(32)}`)
    expect(await settled(jobId)).toEqual([])
    expect(await Promise.all([p1, p2].map(async (p) => (await readSlot(jobId, p.address)).commitment))).toEqual(commitments)
  })

  it('keep an assignment a reorg takes out right after they verified it until the reorg is deep, and commit when it comes back', async () => {
    const [p1, p2] = system.accounts.providers
    const { jobId, commitDeadline, heldHash, raw, assignBlock } = await assignWithModelHeld([p1, p2], { modelSeed: 9, jobSeed: 23 })
    // The reorg takes the assign out; the agents compute, journal, and find no round at the head, nor in the block
    // `confirmations` deep, which is before the assignment and so proves nothing: they must keep the entry.
    await system.testClient.setAutomine(false)
    try {
      await reorgFrom(assignBlock)
      expect((await readJob(jobId)).status).toBe(JobStatus.Open)
      bed.server.held.delete(heldHash)
      await waitFor('both journaled', async () => (await Promise.all(['p1', 'p2'].map((n) => journaled(n, jobId)))).every(Boolean))
      await new Promise((resolve) => setTimeout(resolve, 500)) // several polls
      for (const name of ['p1', 'p2']) expect((await journaled(name, jobId))?.state).toBe('computed')
      // The same assign comes back, in the block it left: the agents commit, reveal, and nobody is slashed.
      await reorgFrom(assignBlock, [[raw, 0]])
    } finally {
      await system.testClient.setAutomine(true)
    }
    expect((await readJob(jobId)).commitDeadline).toBe(commitDeadline)
    expect(await settled(jobId)).toEqual([])
  })

  it('commit an assignment the journal closed before its commit when the same assign is mined again, at the same deadline', async () => {
    const [p1, p2] = system.accounts.providers
    const { jobId, commitDeadline, heldHash, raw, assignBlock } = await assignWithModelHeld([p1, p2], { modelSeed: 13, jobSeed: 29 })
    await system.testClient.setAutomine(false)
    try {
      // The assign is taken out and stays out until the agents close their entries: the round ended, deep.
      await reorgFrom(assignBlock)
      bed.server.held.delete(heldHash)
      await mineUntilClosed(jobId)
      // Then the same assign is mined again where it was, at the same timestamp: the same commit deadline.
      await reorgFrom(assignBlock, [[raw, 0]])
    } finally {
      await system.testClient.setAutomine(true)
    }
    expect((await readJob(jobId)).commitDeadline).toBe(commitDeadline)
    // The change feed hears the assign again and publishes the same assignment: the agents commit it now.
    await publishAssignments(bed, jobId, [p1, p2])
    expect(await settled(jobId)).toEqual([])
  })

  for (const [i, sent] of (['commits', 'reveals'] as const).entries())
    it(`commit again an assignment the journal closed after its ${sent} left, when the same assign is mined again, at the same deadline`, async () => {
      const [p1, p2] = system.accounts.providers
      const jobId = await submitAndAssign([p1, p2], 41 + i)
      const assigned = await assignedLog(jobId)
      const raw = (await system.publicClient.request({
        method: 'eth_getRawTransactionByHash',
        params: [assigned.transactionHash],
      } as never)) as Hex
      const { commitDeadline } = await readJob(jobId)
      // The commits are in once the job is Committed, or already Completed: the agents reveal as soon as it is
      // Committed, the second reveal settling it, and a poll may miss the moment between (the reveals that left are
      // read from the journals below).
      const want: number[] = sent === 'commits' ? [JobStatus.Committed, JobStatus.Completed] : [JobStatus.Completed]
      await waitFor(`job ${sent === 'commits' ? 'committed' : 'completed'}`, async () => want.includes((await readJob(jobId)).status))
      // Revealed on chain is not yet journaled: an agent records its reveal once it reads the receipt, which a busy
      // machine may not have done before the reorg (its reveal then counts as never sent, and its salt is used again).
      if (sent === 'reveals')
        await waitFor('both reveals journaled', async () =>
          (await Promise.all(['p1', 'p2'].map((n) => journaled(n, jobId)))).every((e) => e?.revealTx !== undefined),
        )
      const before = await Promise.all([p1, p2].map(async (p) => (await readSlot(jobId, p.address)).commitment))
      let revealed: boolean[] = []
      await system.testClient.setAutomine(false)
      try {
        // The assign and all that followed are taken out, and stay out until the agents close their entries: the
        // round ended, deep, with nothing of theirs left on chain.
        await reorgFrom(assigned.blockNumber)
        await mineUntilClosed(jobId)
        // Whose reveal had left when the round closed: once the job is Committed an agent reveals at once, so even
        // in the commits case a busy machine may have sent one before the reorg.
        revealed = (await Promise.all(['p1', 'p2'].map((n) => journaled(n, jobId)))).map((e) => e?.revealTx !== undefined)
        // Then the same assign is mined again where it was, at the same timestamp: the same commit deadline.
        await reorgFrom(assigned.blockNumber, [[raw, 0]])
      } finally {
        await system.testClient.setAutomine(true)
      }
      expect((await readJob(jobId)).commitDeadline).toBe(commitDeadline)
      await publishAssignments(bed, jobId, [p1, p2])
      // Nobody is a no-show: both commit again and the job completes, nobody slashed.
      expect(await settled(jobId)).toEqual([])
      const after = await Promise.all([p1, p2].map(async (p) => (await readSlot(jobId, p.address)).commitment))
      // Only commitments nobody saw opened are used again: a reveal that left showed its salt.
      if (sent === 'reveals') expect(revealed).toEqual([true, true])
      for (const [k, commitment] of after.entries()) {
        if (revealed[k]) expect(commitment).not.toBe(before[k])
        else expect(commitment).toBe(before[k])
      }
    })

  it('reveal their commitment of a round a reorg took when a node mines it again into the next round of the job', async () => {
    const [p1, p2] = system.accounts.providers
    const { matcher } = system.accounts
    const jobId = await submitAndAssign([p1, p2], 53)
    const assigned = await assignedLog(jobId)
    await waitFor('job completed', async () => (await readJob(jobId)).status === JobStatus.Completed)
    const old = await waitFor('both reveals journaled', async () => {
      const entries = await Promise.all(['p1', 'p2'].map((n) => journaled(n, jobId)))
      return entries.every((e) => e?.revealTx !== undefined) && entries[0]
    })
    const commitRaw = (await system.publicClient.request({
      method: 'eth_getRawTransactionByHash',
      params: [old.commitTx],
    } as never)) as Hex
    const { commitDeadline } = await readJob(jobId)
    const assignCall = {
      address: system.market,
      abi: jobMarketAbi,
      functionName: 'assign',
      args: [jobId, [p1.address, p2.address]],
    } as const
    await system.testClient.setAutomine(false)
    try {
      // The assign and all that followed are taken out, and stay out until the agents close their entries.
      await reorgFrom(assigned.blockNumber)
      await mineUntilClosed(jobId)
      // Later the matcher assigns the job again, at a new commit deadline, and a node mines p1's commit of the round
      // that was taken out in the same block after it: geth puts the transactions of a dropped block back in its pool.
      const assignRaw = await matcher.signTransaction({
        type: 'eip1559',
        chainId: system.chain.id,
        nonce: await system.publicClient.getTransactionCount({ address: matcher.address, blockTag: 'pending' }),
        to: system.market,
        data: encodeFunctionData(assignCall),
        gas: (await system.publicClient.estimateContractGas({ ...assignCall, account: matcher })) * 2n,
        // Far above the commit's tip, so the block takes it first.
        maxFeePerGas: parseGwei('2000'),
        maxPriorityFeePerGas: parseGwei('1000'),
      })
      for (const serializedTransaction of [assignRaw, commitRaw]) await system.publicClient.sendRawTransaction({ serializedTransaction })
      await system.testClient.increaseTime({ seconds: 5 }) // the new round's deadline differs from the old one's
      await system.testClient.mine({ blocks: 1 })
    } finally {
      await system.testClient.setAutomine(true)
    }
    const again = await readJob(jobId)
    expect([again.status, again.commitDeadline === commitDeadline]).toEqual([JobStatus.Assigned, false])
    expect((await readSlot(jobId, p1.address)).commitment).toBe(old.commitment)
    await publishAssignments(bed, jobId, [p1, p2])
    // p1 reveals that commitment from the journal (the same job: its result still holds), p2 commits and reveals anew,
    // and they agree: nobody slashed.
    expect(await settled(jobId)).toEqual([])
    const slot = await readSlot(jobId, p1.address)
    expect([slot.commitment, slot.revealed]).toEqual([old.commitment, true])
  })

  it('stop waiting for an input the server refuses once a reorg gave the job id to another job, and run that job: nobody is a no-show', async () => {
    const [p1, p2] = system.accounts.providers
    // The server refuses the first job's input, as it does while the index hasn't the job yet: the agents retry.
    const heldInput = encodeTensorBlob({ dims: [3, 16], data: makeInput({ seed: 61, rows: 3, inputSize: 16 }) })
    const heldHash = sha256Hex(heldInput)
    bed.server.held.set(heldHash, 0)
    const before = await head()
    const jobId = await submitAndAssign([p1, p2], 61, heldInput)
    await waitFor('both agents verified and asked for the input', async () => (bed.server.held.get(heldHash) ?? 0) >= 2)
    // A reorg takes the submission and the assign; another job, of another input, takes the id, assigned to the same two.
    expect(await reorg(before + 1n, async () => (await readJob(jobId)).status)).toBe(JobStatus.None)
    expect(await submitAndAssign([p1, p2], 62)).toBe(jobId)
    // Waiting on the first job's input until its commit deadline would keep them from this round until it expired.
    expect(await settled(jobId)).toEqual([])
    expect((await readJob(jobId)).spec.inputHash).not.toBe(heldHash)
  })
})
