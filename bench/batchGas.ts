/**
 * Gas of JobBatcher's `…Many` calls (the leader's) and of ProviderBatcher's `callMany` (a provider's commits and
 * reveals, its account delegated to it) against the same JobMarket calls sent one transaction per job, from the same
 * chain state: for each batch size, the jobs are brought to the action's state, the chain is snapshotted, the per-job
 * calls are sent and their gas summed, the chain is reverted to the snapshot, and the one batch is sent. Gas is
 * deterministic, so one run is exact.
 * `npx tsx bench/batchGas.ts` refreshes its section of BENCHMARKS.md alone.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import {
  createWalletClient,
  encodeFunctionData,
  http,
  keccak256,
  maxUint256,
  type PrivateKeyAccount,
  type PublicClient,
  parseEventLogs,
  toHex,
} from 'viem'
import { delegateToBatcher } from '../agent/marketCalls.ts'
import { jobBatcherAbi, jobMarketAbi, providerBatcherAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import {
  defaultHardware,
  sampleInputHash,
  sampleJobSpec,
  startTestSystem,
  type TestSystem,
  type WriteParameters,
} from '../devnet/testSystem.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'
import { defaultBatchSize } from '../server/leader/batches.ts'
import { BLOCK_GAS_LIMIT } from './epochCloseGas.ts'
import { fingerprint, outputHash, saltOf } from './lifecycleGas.ts'
import { benchmarksFile, writeSection } from './writeSection.ts'

/** The per-job JobMarket calls JobBatcher and ProviderBatcher batch, in the order a job meets them. */
export const batchedCalls = ['assign', 'commitResult', 'revealResult', 'finalize', 'expire', 'expireAssignment'] as const
/** The calls a provider batches through its own account (ProviderBatcher); the rest are the leader's (JobBatcher). */
const providerCalls: readonly BatchedCall[] = ['commitResult', 'revealResult']
export type BatchedCall = (typeof batchedCalls)[number]

export type BatchGasRow = {
  call: BatchedCall
  jobs: number
  /** Sum of the `jobs` direct transactions' gas. */
  directGas: bigint
  /** The one `…Many` transaction's gas. */
  batchedGas: bigint
}

export type BatchGasReturnType = { rows: BatchGasRow[]; sizes: number[] }

/** Every job's case: Redundant(k=2), two providers of the devnet's hardware, both committing and revealing alike. */
const what: Record<BatchedCall, string> = {
  assign: 'k=2, locks 2 collaterals',
  commitResult: 'k=2, the first of the two commits',
  revealResult: 'k=2, the first of the two reveals',
  finalize: 'k=2, results differ (none proven apart), the proof window passed: completed, pays 2 providers (already paid this epoch)',
  expire: 'open job past its deadline, refunds the escrow',
  expireAssignment: 'k=2, both no-shows slashed, job reopened',
}

/** Batch sizes measured: one job, a small batch, the leader's default. */
export const batchGasSizes = [1, 16, defaultBatchSize]

export async function batchGas(sizes: readonly number[] = batchGasSizes): Promise<BatchGasReturnType> {
  // A day-long epoch: every finalize below lands in the epoch the warm-up job opened, on either side of a comparison.
  // Room for a batch of 64 assigns (21M gas) sent as every test write is, with half again its estimate.
  const sys = await startTestSystem({ params: { emission: { epochLength: 86_400n } }, gasLimit: 60_000_000n })
  try {
    return { rows: await measure(sys, sizes), sizes: [...sizes] }
  } finally {
    await sys.stop()
  }
}

async function measure(sys: TestSystem, sizes: readonly number[]): Promise<BatchGasRow[]> {
  const { deployer, matcher, providers, requesters } = sys.accounts
  const pair = providers.slice(0, 2) as PrivateKeyAccount[]
  const [requester] = requesters
  const batcher = sys.deployment.contracts.JobBatcher.address
  const market = (functionName: string, args: readonly unknown[]): WriteParameters => ({
    address: sys.market,
    abi: jobMarketAbi,
    functionName,
    args,
  })
  const many = (call: BatchedCall, jobIds: bigint[]): WriteParameters => ({
    address: batcher,
    abi: jobBatcherAbi,
    functionName: `${call}Many`,
    args: call === 'assign' ? [jobIds, jobIds.map(() => pair.map((p) => p.address))] : [jobIds],
  })
  const direct = (call: BatchedCall, jobId: bigint): WriteParameters =>
    market(call, call === 'assign' ? [jobId, pair.map((p) => p.address)] : [jobId])
  const senderOf = (call: BatchedCall) => (call === 'assign' ? matcher : deployer)
  const [batching, other] = pair as [PrivateKeyAccount, PrivateKeyAccount]
  const commitment = (jobId: bigint, p: PrivateKeyAccount) =>
    commitmentOf({ jobId, provider: p.address, fingerprint, outputHash, salt: saltOf(p.address) })
  // The other provider's machine rounds differently: the last reveal then leaves the job to `finalize`, which the
  // leader sends once the proof window has passed (jobs whose results agree settle at their last reveal).
  const otherFingerprint = keccak256(toHex('fingerprint of another machine'))
  const othersCommitment = (jobId: bigint) =>
    commitmentOf({ jobId, provider: other.address, fingerprint: otherFingerprint, outputHash, salt: saltOf(other.address) })
  const providerCall = (call: BatchedCall, jobId: bigint, p: PrivateKeyAccount): { functionName: string; args: readonly unknown[] } =>
    call === 'commitResult'
      ? { functionName: call, args: [jobId, sampleInputHash, commitment(jobId, p)] }
      : { functionName: call, args: [jobId, fingerprint, outputHash, saltOf(p.address)] }
  const callMany = (call: BatchedCall, jobIds: bigint[]): WriteParameters => ({
    address: batching.address,
    abi: providerBatcherAbi,
    functionName: 'callMany',
    args: [jobIds.map((jobId) => encodeFunctionData({ abi: jobMarketAbi, ...providerCall(call, jobId, batching) } as never))],
  })

  for (const p of [...pair, requester]) {
    await sys.write(deployer, { address: sys.token, abi: tesseraTokenAbi, functionName: 'transfer', args: [p.address, 100_000n * TSR] })
  }
  for (const p of pair) {
    await sys.write(p, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.registry, maxUint256] })
    const register = [defaultHardware, TSR / 100n, encodeRegion('eu'), '0x01']
    await sys.write(p, { address: sys.registry, abi: providerRegistryAbi, functionName: 'register', args: register })
    await sys.write(p, { address: sys.registry, abi: providerRegistryAbi, functionName: 'stake', args: [50_000n * TSR] })
  }
  await sys.write(requester, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })

  const submit = async (count: number): Promise<bigint[]> => {
    const ids: bigint[] = []
    for (let i = 0; i < count; i++) {
      const receipt = await sys.write(requester, market('submitJob', [await sampleJobSpec(sys)]))
      const [submitted] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobSubmitted' })
      if (!submitted) throw new Error('submitJob emitted no JobSubmitted')
      ids.push(submitted.args.jobId)
    }
    return ids
  }
  const commitAndReveal = async (jobIds: bigint[]) => {
    for (const jobId of jobIds) {
      for (const p of pair) await sys.write(p, market('commitResult', [jobId, sampleInputHash, commitment(jobId, p)]))
    }
    for (const jobId of jobIds) {
      for (const p of pair) await sys.write(p, market('revealResult', [jobId, fingerprint, outputHash, saltOf(p.address)]))
    }
  }
  const rows: BatchGasRow[] = []
  /** Direct calls from a snapshot, back to it, then the batch; the chain goes on from the batch. */
  const compare = async (call: BatchedCall, jobIds: bigint[]) => {
    const byProvider = providerCalls.includes(call)
    const snapshot = await sys.snapshot()
    let directGas = 0n
    for (const jobId of jobIds) {
      const receipt = byProvider
        ? await sys.write(batching, market(call, providerCall(call, jobId, batching).args))
        : await sys.write(senderOf(call), direct(call, jobId))
      directGas += receipt.gasUsed
    }
    await sys.revert(snapshot)
    const receipt = byProvider ? await sys.write(batching, callMany(call, jobIds)) : await sys.write(senderOf(call), many(call, jobIds))
    const failed = parseEventLogs({ abi: byProvider ? providerBatcherAbi : jobBatcherAbi, eventName: 'CallFailed', logs: receipt.logs })
    if (failed.length > 0) throw new Error(`${call}Many: ${failed.length} of ${jobIds.length} calls failed`)
    rows.push({ call, jobs: jobIds.length, directGas, batchedGas: receipt.gasUsed })
  }

  // Warm-up: one job completed (its last reveal settles it), so both providers are already paid in the epoch every
  // finalize below is in.
  const [warm] = await submit(1)
  if (warm === undefined) throw new Error('no warm-up job')
  await sys.write(matcher, direct('assign', warm))
  await commitAndReveal([warm])

  // The first provider's account runs ProviderBatcher's code, as its agent's does.
  const wallet = createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account: batching })
  const delegated = await delegateToBatcher({
    publicClient: sys.publicClient as PublicClient,
    walletClient: wallet,
    account: batching,
    batcher: sys.deployment.contracts.ProviderBatcher.address,
    log: pino({ level: 'silent' }),
  })
  if (!delegated) throw new Error('the provider account did not take up ProviderBatcher')

  for (const size of sizes) {
    const completed = await submit(size)
    await compare('assign', completed)
    await compare('commitResult', completed)
    for (const jobId of completed) await sys.write(other, market('commitResult', [jobId, sampleInputHash, othersCommitment(jobId)]))
    await compare('revealResult', completed)
    for (const jobId of completed)
      await sys.write(other, market('revealResult', [jobId, otherFingerprint, outputHash, saltOf(other.address)]))
    await sys.increaseTime(sys.deployment.params.market.proofWindow + 1n)
    await compare('finalize', completed)

    const stale = await submit(size)
    await sys.increaseTime(3_601n)
    await compare('expire', stale)

    const noShows = await submit(size)
    await sys.write(matcher, many('assign', noShows))
    await sys.increaseTime(sys.deployment.params.market.commitWindow + 1n)
    await compare('expireAssignment', noShows)
  }
  return rows.sort((a, b) => batchedCalls.indexOf(a.call) - batchedCalls.indexOf(b.call) || a.jobs - b.jobs)
}

const n = (x: bigint | number) => x.toLocaleString('en-US')

export function batchGasSection(bench: BatchGasReturnType): string[] {
  const perJob = (gas: bigint, jobs: number) => gas / BigInt(jobs)
  return [
    '## JobBatcher and ProviderBatcher against one transaction per job',
    '',
    `Gas, as in the sections above: \`npx tsx bench/batchGas.ts\` (\`bench/batchGas.ts\`). For each batch size, the same ` +
      'jobs from the same chain state (an anvil snapshot, reverted between the two): the JobMarket call sent once per ' +
      'job, its gas summed, against the one JobBatcher `…Many` transaction the leader sends instead, or for commits and ' +
      "reveals the one `callMany` a provider's agent sends to its own account (delegated to ProviderBatcher, EIP-7702). " +
      'The per-job side ' +
      "pays each transaction's 21,000 and its cold reads once per job; the batch pays them once, plus its own loop, the " +
      'call into JobMarket and the results it returns. Jobs are Redundant(k=2) for the same two providers, who were ' +
      `paid in the epoch by a warm-up job first. "Jobs per block" is how many such jobs one ${n(BLOCK_GAS_LIMIT)}-gas ` +
      'block holds batched.',
    '',
    '| call | case | jobs | per job, direct | per job, batched | batched / direct | jobs per block |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...bench.rows.map((row) => {
      const batched = perJob(row.batchedGas, row.jobs)
      const ratio = Number(row.batchedGas) / Number(row.directGas)
      return (
        `| ${providerCalls.includes(row.call) ? `\`callMany\` (\`${row.call}\`)` : `\`${row.call}Many\``} | ${what[row.call]} | ${n(row.jobs)} | ${n(perJob(row.directGas, row.jobs))} | ` +
        `${n(batched)} | ${ratio.toFixed(2)} | ${n(BLOCK_GAS_LIMIT / batched)} |`
      )
    }),
    '',
  ]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bench = await batchGas()
  writeSection(benchmarksFile, batchGasSection(bench))
  console.log(bench.rows.map((r) => `${r.call} ${r.jobs}: ${r.directGas} direct, ${r.batchedGas} batched`).join('\n'))
  process.exit(0)
}
