/**
 * What verification costs in executions and gas: optimistic jobs (one run, spot-checked by the next block's hash)
 * against redundant k = 2 jobs, interleaved on one real anvil with the real contracts (`startTestSystem`, devnet
 * parameters). Every job is run by honest providers and finalized by the contract's rules; executions are counted from
 * the chain afterwards (`JobAssigned`, one per slot, checked against `ResultRevealed`). Transactions go out in
 * JSON-RPC batches with automine off, a step of every job at a time, so a thousand jobs of each kind take seconds.
 * `TESSERA_BENCH_OVERHEAD_JOBS` changes the number of jobs of each kind; run this file alone
 * (`npx tsx bench/verificationOverhead.ts`) for the numbers as JSON without the other benches.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type Address,
  encodeAbiParameters,
  encodeFunctionData,
  type Hex,
  keccak256,
  type Log,
  maxUint256,
  type PrivateKeyAccount,
  parseEventLogs,
  toHex,
} from 'viem'
import { jobMarketAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { fund, registerProvider, sampleInputHash, sampleJobSpec, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { JobStatus, Verification } from '../protocol/enums.ts'
import { escrowOf } from '../protocol/settlement.ts'
import { AuditKind } from '../protocol/spotCheck.ts'
import { BPS, TSR } from '../protocol/units.ts'
import { BenchRpcError, type JsonRpc, jsonRpc } from './jsonRpc.ts'

/** One kind of job as measured: how many ran, how often they were executed, and their gas. */
export type ModeOverhead = {
  jobs: number
  /** Executions: slots assigned (`JobAssigned`), each revealed (`ResultRevealed`). */
  executions: number
  /** Jobs that went to an audit (optimistic: spot-checked; redundant: none). */
  audited: number
  /** Executions beyond the first per job, in % of one execution. */
  extraPercent: number
  /** The standard error of {@link extraPercent}: the jobs' standard deviation / √n (binomial for optimistic jobs). */
  standardErrorPercent: number
  /** Σ gasUsed of every transaction of a job (submit, assign, commits, reveals, finalizes), over the jobs. */
  gasPerJob: bigint
}

export type VerificationOverheadReturnType = {
  /** The devnet's spot-check rate (`spotCheckBps`) and the challenge window an unaudited job waits out. */
  spotCheckBps: bigint
  challengeWindow: bigint
  optimistic: ModeOverhead & { unauditedGasPerJob: bigint; auditedGasPerJob: bigint | undefined }
  redundant: ModeOverhead
  seconds: number
}

export type VerificationOverheadParameters = {
  /** Jobs of each kind; default `TESSERA_BENCH_OVERHEAD_JOBS` or 1,000. */
  jobs?: number
}

const GAS_PRICE = toHex(10n ** 9n)
/** Gas limits per call: above what each uses (the receipts are checked), low enough to fill a block with them. */
const GAS_LIMIT = { submitJob: 500_000n, assign: 800_000n, commitResult: 200_000n, revealResult: 1_500_000n, finalize: 1_500_000n }
const fingerprint = keccak256(toHex('fingerprint'))
const outputHash = keccak256(toHex('output'))
const saltOf = (provider: Address) => keccak256(toHex(`salt:${provider}`))
const commitmentOf = (jobId: bigint, provider: Address): Hex =>
  keccak256(
    encodeAbiParameters(
      [{ type: 'uint256' }, { type: 'address' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }],
      [jobId, provider, fingerprint, outputHash, saltOf(provider)],
    ),
  )

type Job = { id: bigint; verification: Verification; gas: bigint; audit: AuditKind }
type Call = { job: Job; from: Address; functionName: keyof typeof GAS_LIMIT; args: readonly unknown[] }
type Receipt = { status: Hex; gasUsed: Hex; logs: Log[]; transactionHash: Hex }

/**
 * Runs `jobs` optimistic and `jobs` redundant k = 2 jobs, interleaved, through submit, assignment, commit, reveal and
 * `finalize` on a fresh devnet deployment, with audits where the contract starts them, and reports executions per
 * job and gas per job of both.
 */
export async function verificationOverhead(parameters: VerificationOverheadParameters = {}): Promise<VerificationOverheadReturnType> {
  const jobs = parameters.jobs ?? Number(process.env.TESSERA_BENCH_OVERHEAD_JOBS ?? 1000)
  if (!Number.isInteger(jobs) || jobs < 1) throw new BenchRpcError(`verificationOverhead: jobs must be a positive integer, got ${jobs}`)
  const started = performance.now()
  const sys = await startTestSystem()
  try {
    return { ...(await measure(sys, jobs)), seconds: (performance.now() - started) / 1000 }
  } finally {
    await sys.stop()
  }
}

async function measure(sys: TestSystem, count: number): Promise<Omit<VerificationOverheadReturnType, 'seconds'>> {
  const rpc = jsonRpc(sys.rpcUrl)
  const market = sys.deployment.params.market
  const { deployer, matcher, providers, requesters } = sys.accounts
  // The original provider of every job, the second redundant slot, and the auditor of optimistic jobs: each its own.
  const [original, second, auditor] = providers
  const [requester] = requesters
  // One clock read for every spec: each deadline an hour from the start.
  const now = await sys.now()
  const spec = (verification: Verification) =>
    sampleJobSpec({ now: async () => now }, { verification, redundancy: verification === Verification.Optimistic ? 1 : 2 })

  // Set-up, automined. Every job is in flight at once, so the original provider locks collateral for all of them:
  // 12.5× (optimistic) or 1× (redundant) its ask × units, 0.01 TSR (registerProvider) × 100 units (sampleJobSpec).
  const slotValue = (TSR / 100n) * 100n
  const stake = (BigInt(count) * slotValue * (market.optimisticCollateralBps + market.collateralBps)) / BPS + 1_000n * TSR
  for (const p of [original, second, auditor]) await registerProvider(sys, p, { stake })
  const sample = await spec(Verification.Optimistic)
  const escrows = BigInt(count) * (escrowOf(sample, market) + escrowOf({ ...sample, redundancy: 2, verification: 0 }, market))
  await fund(sys, requester.address, escrows)
  await sys.write(requester, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
  const firstBlock = BigInt(await rpc.call<Hex>('eth_blockNumber')) + 1n

  await rpc.call('anvil_autoImpersonateAccount', [true])
  await rpc.call('evm_setAutomine', [false])
  const send = (calls: readonly Call[]) => sendAll(rpc, sys.market, calls)

  // Submitted alternately, so both kinds share every block, epoch and state the run goes through.
  const specs = await Promise.all(
    Array.from({ length: 2 * count }, (_, i) => spec(i % 2 === 0 ? Verification.Optimistic : Verification.Redundant)),
  )
  const placeholder = (s: (typeof specs)[number]): Job => ({
    id: 0n,
    verification: s.verification as Verification,
    gas: 0n,
    audit: AuditKind.None,
  })
  const all = specs.map(placeholder)
  const submitted = await send(specs.map((s, i) => ({ job: all[i], from: requester.address, functionName: 'submitJob', args: [s] })))
  for (const [i, receipt] of submitted.entries()) {
    const [event] = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobSubmitted' })
    if (!event) throw new BenchRpcError(`submitJob emitted no JobSubmitted in ${receipt.transactionHash}`)
    all[i].id = event.args.jobId
  }
  const optimistic = all.filter((j) => j.verification === Verification.Optimistic)
  const redundant = all.filter((j) => j.verification === Verification.Redundant)
  const workersOf = (job: Job) => (job.verification === Verification.Optimistic ? [original] : [original, second])

  /** Assigns each job to `who`, then each of them commits and reveals the one honest result. */
  const runRound = async (round: readonly Job[], who: (job: Job) => PrivateKeyAccount[]) => {
    await send(round.map((job) => ({ job, from: matcher.address, functionName: 'assign', args: [job.id, who(job).map((p) => p.address)] })))
    const each = (functionName: 'commitResult' | 'revealResult', args: (job: Job, p: PrivateKeyAccount) => readonly unknown[]) =>
      round.flatMap((job) => who(job).map((p): Call => ({ job, from: p.address, functionName, args: args(job, p) })))
    await send(each('commitResult', (job, p) => [job.id, sampleInputHash, commitmentOf(job.id, p.address)]))
    await send(each('revealResult', (job, p) => [job.id, fingerprint, outputHash, saltOf(p.address)]))
  }
  const finalize = (round: readonly Job[]) =>
    send(round.map((job) => ({ job, from: deployer.address, functionName: 'finalize', args: [job.id] })))
  await runRound(all, workersOf)

  // Two blocks past the last reveal: the block deciding each spot check exists, and a call can read its hash.
  await mine(rpc, 2)
  const audits = await rpc.batch<Hex>(
    optimistic.map((job) => ({
      method: 'eth_call',
      params: [{ to: sys.market, data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'spotCheckOf', args: [job.id] }) }, 'latest'],
    })),
  )
  for (const [i, job] of optimistic.entries()) job.audit = Number(BigInt(audits[i])) as AuditKind
  const spotChecked = optimistic.filter((job) => job.audit !== AuditKind.None)
  const unaudited = optimistic.filter((job) => job.audit === AuditKind.None)

  // Redundant jobs settled at their last reveal (the two agree); spot-checked ones go to their audit, which one fresh
  // provider runs, its reveal settling it (it agrees with the original).
  const decided = await finalize(spotChecked)
  const started = decided.flatMap((r) => parseEventLogs({ abi: jobMarketAbi, logs: r.logs, eventName: 'AuditStarted' }))
  if (started.length !== spotChecked.length || started.some((e) => e.args.kind !== AuditKind.Spot))
    throw new BenchRpcError(`finalize started ${started.length} spot checks, spotCheckOf chose ${spotChecked.length}`)
  await runRound(spotChecked, () => [auditor])
  // The rest wait out the challenge window, then settle, each paying its premium into the audit fund.
  await rpc.call('evm_increaseTime', [Number(market.challengeWindow) + 1])
  const settled = await finalize(unaudited)
  const premiums = settled.flatMap((r) => parseEventLogs({ abi: jobMarketAbi, logs: r.logs, eventName: 'AuditSettled' }))
  if (premiums.length !== unaudited.length || premiums.some((e) => e.args.premium === 0n))
    throw new BenchRpcError('an unaudited optimistic job settled without paying its premium')
  await rpc.call('evm_setAutomine', [true])

  // Executions from the chain: one per slot assigned; every job completed.
  const range = { address: sys.market, abi: jobMarketAbi, fromBlock: firstBlock, toBlock: 'latest' } as const
  const tally = (logs: { args: { jobId?: bigint } }[]) => {
    const byJob = new Map<bigint, number>()
    for (const { args } of logs) if (args.jobId !== undefined) byJob.set(args.jobId, (byJob.get(args.jobId) ?? 0) + 1)
    return byJob
  }
  const assigned = tally(await sys.publicClient.getContractEvents({ ...range, eventName: 'JobAssigned' }))
  const revealed = tally(await sys.publicClient.getContractEvents({ ...range, eventName: 'ResultRevealed' }))
  const finalized = await sys.publicClient.getContractEvents({ ...range, eventName: 'JobFinalized' })
  if (finalized.length !== all.length || finalized.some((e) => e.args.status !== JobStatus.Completed))
    throw new BenchRpcError(`${finalized.filter((e) => e.args.status === JobStatus.Completed).length} of ${all.length} jobs completed`)
  for (const job of all)
    if (assigned.get(job.id) !== revealed.get(job.id)) throw new BenchRpcError(`job ${job.id}: an assigned slot did not reveal`)

  const overhead = (kind: readonly Job[]): ModeOverhead => {
    const extras = kind.map((job) => (assigned.get(job.id) ?? 0) - 1)
    const mean = extras.reduce((s, x) => s + x, 0) / kind.length
    const variance = extras.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, kind.length - 1)
    return {
      jobs: kind.length,
      executions: extras.reduce((s, x) => s + x + 1, 0),
      audited: kind.filter((job) => job.audit !== AuditKind.None).length,
      extraPercent: 100 * mean,
      standardErrorPercent: 100 * Math.sqrt(variance / kind.length),
      gasPerJob: gasPerJob(kind) ?? 0n,
    }
  }
  return {
    spotCheckBps: market.spotCheckBps,
    challengeWindow: market.challengeWindow,
    optimistic: { ...overhead(optimistic), unauditedGasPerJob: gasPerJob(unaudited) ?? 0n, auditedGasPerJob: gasPerJob(spotChecked) },
    redundant: overhead(redundant),
  }
}

/** The mean gas of `jobs`, undefined for none. */
function gasPerJob(jobs: readonly Job[]): bigint | undefined {
  return jobs.length ? jobs.reduce((sum, job) => sum + job.gas, 0n) / BigInt(jobs.length) : undefined
}

/**
 * Sends `calls` in JSON-RPC batches (automine off; each sender's nonces in order), a chunk at a time (anvil slows
 * down with thousands of pending transactions), mining each until the pool is empty, and returns the receipts in
 * order, each job charged its transaction's gas. Throws on a revert.
 */
async function sendAll(rpc: JsonRpc, market: Address, calls: readonly Call[], chunk = 250): Promise<Receipt[]> {
  const receipts: Receipt[] = []
  for (let start = 0; start < calls.length; start += chunk)
    receipts.push(...(await sendAndMine(rpc, market, calls.slice(start, start + chunk))))
  return receipts
}

async function sendAndMine(rpc: JsonRpc, market: Address, calls: readonly Call[]): Promise<Receipt[]> {
  const senders = [...new Set(calls.map((c) => c.from))]
  const counts = await rpc.batch<Hex>(senders.map((from) => ({ method: 'eth_getTransactionCount', params: [from, 'latest'] })))
  const nonces = new Map(senders.map((from, i) => [from, Number(BigInt(counts[i]))]))
  // The pool checks the fee against the next block's base fee, which the last full block raised.
  await rpc.call('anvil_setNextBlockBaseFeePerGas', [GAS_PRICE])
  const hashes = await rpc.batch<Hex>(
    calls.map(({ from, functionName, args }) => {
      const nonce = nonces.get(from) ?? 0
      nonces.set(from, nonce + 1)
      const data = encodeFunctionData({ abi: jobMarketAbi, functionName, args } as never)
      return {
        method: 'eth_sendTransaction',
        params: [{ from, to: market, data, gas: toHex(GAS_LIMIT[functionName]), gasPrice: GAS_PRICE, nonce: toHex(nonce) }],
      }
    }),
  )
  for (;;) {
    const { pending } = await rpc.call<{ pending: Hex }>('txpool_status')
    if (BigInt(pending) === 0n) break
    await mine(rpc, 1)
  }
  const receipts = await rpc.batch<Receipt | null>(hashes.map((hash) => ({ method: 'eth_getTransactionReceipt', params: [hash] })))
  return receipts.map((receipt, i) => {
    const { job, functionName } = calls[i]
    if (receipt?.status !== '0x1')
      throw new BenchRpcError(`${functionName} of job ${job.id} ${receipt ? 'reverted' : 'was not mined'}`, { details: hashes[i] })
    job.gas += BigInt(receipt.gasUsed)
    return receipt
  })
}

/** Mines `blocks` blocks at a fixed base fee (full blocks would raise it past the batches' gas price). */
async function mine(rpc: JsonRpc, blocks: number): Promise<void> {
  for (let i = 0; i < blocks; i++) {
    await rpc.call('anvil_setNextBlockBaseFeePerGas', [GAS_PRICE])
    await rpc.call('evm_mine')
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  verificationOverhead()
    .then((result) =>
      process.stdout.write(`${JSON.stringify(result, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`),
    )
    .catch((error) => {
      console.error(error)
      process.exit(1)
    })
}
