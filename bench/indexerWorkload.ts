/**
 * A marketplace history for the indexer bench, block by block on one anvil with automine off: providers registering
 * and staking, Redundant jobs (k = 2, every fourth k = 3) going through submit, assign, commit and reveal (the last reveal
 * settles: the providers agree) one block per step, every tenth cancelled instead, epochs closed and their rewards claimed, providers withdrawing
 * their fees and updating their asks, requesters depositing to the gateway. Every step of every job in flight goes
 * into the same block, sent by many accounts at once (anvil impersonates them), so a block holds as many events as
 * the caller asks for jobs.
 */
import { type Abi, type Address, decodeFunctionResult, encodeFunctionData, getAddress, type Hex, keccak256, maxUint256, toHex } from 'viem'
import { emissionControllerAbi, jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { defaultHardware, type TestSystem } from '../devnet/testSystem.ts'
import { commitmentOf } from '../protocol/fingerprint.ts'
import { encodeRegion } from '../protocol/region.ts'
import { TSR } from '../protocol/units.ts'
import { BenchRpcError, jsonRpc } from './jsonRpc.ts'

/** A log as `eth_getBlockReceipts` returns it. */
export type RpcLog = { address: Hex; topics: Hex[]; data: Hex }

/** One mined block of the workload. */
export type MinedBlock = {
  number: bigint
  transactions: number
  logs: RpcLog[]
  /** `performance.now()` when anvil answered `evm_mine`: the block exists from then on. */
  minedAt: number
}

export type MarketWorkloadParameters = {
  system: TestSystem
  /** Providers registered and staked at the start (default 8). */
  providers?: number
  /** Requesters submitting jobs, one per block in turn (default 4). */
  requesters?: number
}

/** The workload on its chain: {@link marketWorkload}. */
export type MarketWorkload = {
  /**
   * Sends the next step of every job in flight, `newJobs` new jobs, and the epoch's keeping when one ended, then mines
   * them in one block `seconds` after the last; throws `BenchRpcError` if a transaction failed.
   */
  mineBlock: (parameters: { newJobs: number; seconds: number }) => Promise<MinedBlock>
  /** Mines `count` empty blocks, `seconds` apart. */
  mineEmpty: (parameters: { count: number; seconds: number }) => Promise<void>
  /** Jobs submitted and not yet settled or cancelled. */
  inFlight: () => number
  /** Takes an `evm_snapshot` with the workload's own state; calling the result reverts the chain and the state to it. */
  snapshot: () => Promise<() => Promise<void>>
}

/** The gas each call may use: generous, so a cold slot never runs a transaction out of gas. */
const gasOf: Record<string, bigint> = {
  submitJob: 600_000n,
  assign: 1_200_000n,
  commitResult: 200_000n,
  // The last reveal settles the job: pays, burns, records usage.
  revealResult: 1_000_000n,
  cancel: 300_000n,
  advanceEpoch: 3_000_000n,
  claim: 300_000n,
  withdraw: 200_000n,
  update: 300_000n,
  register: 400_000n,
  stake: 400_000n,
  approve: 100_000n,
  transfer: 100_000n,
}
const gasPrice = toHex(10n ** 9n)
/** So a block of a thousand transactions never spills into the next: each stage of the pipeline is one block. */
const blockGasLimit = 2_000_000_000n

type Call = { from: Address; to: Address; abi: Abi | readonly unknown[]; functionName: string; args?: readonly unknown[] }

type Stage = 'submitted' | 'assigned' | 'committed'
type Job = { id: bigint; index: number; requester: Address; providers: Address[]; stage: Stage }

/** A bench account: an address anvil impersonates, derived from a label. */
const benchAddress = (label: string): Address => getAddress(keccak256(toHex(`tessera-bench-indexer:${label}`)).slice(0, 42))

const fingerprintOf = (jobId: bigint) => keccak256(toHex(`fingerprint:${jobId}`))
const outputHashOf = (jobId: bigint) => keccak256(toHex(`output:${jobId}`))
const saltOf = (jobId: bigint, provider: Address) => keccak256(toHex(`salt:${jobId}:${provider}`))
/** The input of the job submitted `index`-th: its spec names it, and its providers' commits name it again. */
const inputHashOf = (index: number) => keccak256(toHex(`input:${index}`))

/** Every fourth job asks for three providers, the rest for two; every tenth is cancelled before it is assigned. */
const redundancyOf = (index: number) => (index % 4 === 3 ? 3 : 2)
const cancelled = (index: number) => index % 10 === 9

/**
 * Sets up the workload's accounts on `system` (funded, providers registered and staked, requesters' escrow approved),
 * turns automine off and returns the block-by-block workload. The chain mines only when the workload says so.
 */
export async function marketWorkload(parameters: MarketWorkloadParameters): Promise<MarketWorkload> {
  const { system } = parameters
  const rpc = jsonRpc(system.rpcUrl)
  const providers = Array.from({ length: parameters.providers ?? 8 }, (_, i) => benchAddress(`provider:${i}`))
  const requesters = Array.from({ length: parameters.requesters ?? 4 }, (_, i) => benchAddress(`requester:${i}`))
  const { deployer, matcher } = system.accounts
  const { epochLength } = system.deployment.params.emission
  const genesis = system.deployment.emissionGenesis

  await rpc.call('anvil_autoImpersonateAccount', [true])
  await rpc.call('evm_setAutomine', [false])
  await rpc.call('evm_setBlockGasLimit', [toHex(blockGasLimit)])
  await rpc.batch([...providers, ...requesters].map((a) => ({ method: 'anvil_setBalance', params: [a, toHex(1_000n * TSR)] })))

  const latest = await rpc.call<{ number: Hex; timestamp: Hex }>('eth_getBlockByNumber', ['latest', false])
  const state = {
    nonces: new Map<Address, number>(),
    jobs: [] as Job[],
    nextJobId: await system.read<bigint>({ address: system.market, abi: jobMarketAbi, functionName: 'nextJobId' }),
    jobIndex: 0,
    blockIndex: 0,
    timestamp: BigInt(latest.timestamp),
    /** The first epoch not yet closed, and the closed ones whose rewards are still to claim. */
    nextEpoch: (await system.read<{ nextEpoch: bigint }>({ address: system.controller, abi: emissionControllerAbi, functionName: 'state' }))
      .nextEpoch,
    toClaim: [] as bigint[],
  }
  const pending: Call[] = []
  const queue = (call: Call) => pending.push(call)

  const nonceOf = async (address: Address): Promise<number> => {
    let nonce = state.nonces.get(address)
    if (nonce === undefined) nonce = Number(BigInt(await rpc.call<Hex>('eth_getTransactionCount', [address, 'latest'])))
    state.nonces.set(address, nonce + 1)
    return nonce
  }

  /** Sends everything queued, mines one block at the workload's clock (`state.timestamp`) and checks every transaction succeeded. */
  const mine = async (): Promise<MinedBlock> => {
    const calls = pending.splice(0)
    const requests = []
    for (const call of calls) {
      const data = encodeFunctionData({ abi: call.abi as Abi, functionName: call.functionName, args: call.args })
      const gas = toHex(gasOf[call.functionName] ?? 1_000_000n)
      const nonce = toHex(await nonceOf(call.from))
      requests.push({ method: 'eth_sendTransaction', params: [{ from: call.from, to: call.to, data, gas, gasPrice, nonce }] })
    }
    await rpc.batch<Hex>(requests)
    await rpc.call('anvil_setNextBlockBaseFeePerGas', [gasPrice])
    await rpc.call('evm_setNextBlockTimestamp', [toHex(state.timestamp)])
    await rpc.call('evm_mine')
    const minedAt = performance.now()
    const receipts = await rpc.call<{ status: Hex; logs: RpcLog[]; transactionHash: Hex }[]>('eth_getBlockReceipts', ['latest'])
    if (receipts.length !== calls.length)
      throw new BenchRpcError(`the workload sent ${calls.length} transactions, the block holds ${receipts.length}`)
    const failed = receipts.findIndex((r) => r.status !== '0x1')
    if (failed >= 0) {
      const call = calls[failed]
      throw new BenchRpcError(`${call.functionName} from ${call.from} reverted`, {
        details: `${receipts[failed].transactionHash} with arguments ${JSON.stringify(call.args, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
      })
    }
    const number = BigInt(await rpc.call<Hex>('eth_blockNumber'))
    state.blockIndex++
    return { number, transactions: calls.length, logs: receipts.flatMap((r) => r.logs), minedAt }
  }

  await setUpAccounts({ system, providers, requesters, queue, mine, advance: (s) => (state.timestamp += s) })

  /** The next step of every job in flight: assign (or cancel), commit, reveal (the providers agree: the last settles). */
  const stepJobs = () => {
    const still: Job[] = []
    for (const job of state.jobs) {
      const market = (from: Address, functionName: string, args: readonly unknown[]) =>
        queue({ from, to: system.market, abi: jobMarketAbi, functionName, args })
      if (job.stage === 'submitted' && cancelled(job.index)) {
        market(job.requester, 'cancel', [job.id])
        continue
      }
      if (job.stage === 'submitted') {
        market(matcher.address, 'assign', [job.id, job.providers])
        job.stage = 'assigned'
      } else if (job.stage === 'assigned') {
        for (const p of job.providers) {
          const commitment = commitmentOf({
            jobId: job.id,
            provider: p,
            fingerprint: fingerprintOf(job.id),
            outputHash: outputHashOf(job.id),
            salt: saltOf(job.id, p),
          })
          market(p, 'commitResult', [job.id, inputHashOf(job.index), commitment])
        }
        job.stage = 'committed'
      } else {
        for (const p of job.providers) market(p, 'revealResult', [job.id, fingerprintOf(job.id), outputHashOf(job.id), saltOf(job.id, p)])
        continue
      }
      still.push(job)
    }
    state.jobs = still
  }

  /** `count` new jobs from this block's requester, each for the next providers in turn. */
  const submitJobs = (count: number) => {
    const requester = requesters[state.blockIndex % requesters.length]
    for (let i = 0; i < count; i++) {
      const index = state.jobIndex++
      const k = redundancyOf(index)
      const spec = {
        modelHash: keccak256(toHex(`model:${index % 3}`)),
        inputHash: inputHashOf(index),
        units: 4n,
        maxPricePerUnit: TSR / 10n,
        minVramMiB: 0,
        gpuModel: 0,
        regions: [],
        redundancy: k,
        verification: 0,
        deadline: state.timestamp + 30n * 86_400n,
        outputTolerance: 10,
      }
      queue({ from: requester, to: system.market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
      const chosen = Array.from({ length: k }, (_, s) => providers[(index + s) % providers.length])
      state.jobs.push({ id: state.nextJobId++, index, requester, providers: chosen, stage: 'submitted' })
    }
  }

  /** The providers with rewards to claim from `epoch` (closed). */
  const paidIn = async (epoch: bigint): Promise<Address[]> => {
    const results = await rpc.batch<Hex>(
      providers.map((p) => ({
        method: 'eth_call',
        params: [
          { to: system.controller, data: encodeFunctionData({ abi: emissionControllerAbi, functionName: 'claimable', args: [epoch, p] }) },
          'latest',
        ],
      })),
    )
    return providers.filter((_, i) => {
      const [usage, availability] = decodeFunctionResult({ abi: emissionControllerAbi, functionName: 'claimable', data: results[i] })
      return usage + availability > 0n
    })
  }
  /** The providers JobMarket owes fees. */
  const owedFees = async (): Promise<Address[]> => {
    const results = await rpc.batch<Hex>(
      providers.map((p) => ({
        method: 'eth_call',
        params: [{ to: system.market, data: encodeFunctionData({ abi: jobMarketAbi, functionName: 'owed', args: [p] }) }, 'latest'],
      })),
    )
    return providers.filter((_, i) => BigInt(results[i]) > 0n)
  }

  /**
   * Once an epoch ended: closes it (and any other ended one); the block after, its paid providers claim, every
   * provider with fees owed withdraws them, one provider updates its ask and every requester deposits to the gateway.
   */
  const keepEpochs = async () => {
    const closed = state.toClaim.splice(0)
    for (const epoch of closed)
      for (const p of await paidIn(epoch))
        queue({ from: p, to: system.controller, abi: emissionControllerAbi, functionName: 'claim', args: [epoch] })
    const last = closed.at(-1)
    if (last !== undefined) {
      for (const p of await owedFees()) queue({ from: p, to: system.market, abi: jobMarketAbi, functionName: 'withdraw', args: [] })
      queue({
        from: providers[Number(last) % providers.length],
        to: system.registry,
        abi: providerRegistryAbi,
        functionName: 'update',
        args: [defaultHardware, TSR / 100n + last, encodeRegion('eu')],
      })
      for (const r of requesters)
        queue({ from: r, to: system.token, abi: tesseraTokenAbi, functionName: 'transfer', args: [matcher.address, TSR] })
    }
    const current = (state.timestamp - genesis) / epochLength
    if (current > state.nextEpoch) {
      queue({ from: deployer.address, to: system.controller, abi: emissionControllerAbi, functionName: 'advanceEpoch', args: [] })
      for (let e = state.nextEpoch; e < current; e++) state.toClaim.push(e)
      state.nextEpoch = current
    }
  }
  return {
    async mineBlock({ newJobs, seconds }) {
      state.timestamp += BigInt(seconds)
      stepJobs()
      submitJobs(newJobs)
      await keepEpochs()
      return mine()
    },
    async mineEmpty({ count, seconds }) {
      for (let i = 0; i < count; i++) {
        state.timestamp += BigInt(seconds)
        await rpc.call('evm_setNextBlockTimestamp', [toHex(state.timestamp)])
        await rpc.call('evm_mine')
      }
    },
    inFlight: () => state.jobs.length,
    async snapshot() {
      const id = await rpc.call<Hex>('evm_snapshot')
      const saved = structuredClone({ ...state, nonces: [...state.nonces] })
      return async () => {
        if (!(await rpc.call<boolean>('evm_revert', [id]))) throw new BenchRpcError(`evm_revert to ${id} failed`)
        Object.assign(state, { ...structuredClone(saved), nonces: new Map(saved.nonces) })
      }
    },
  }
}

/**
 * Three blocks of set-up: the deployer funds every account; providers approve the registry and register while
 * requesters approve the market; providers stake.
 */
async function setUpAccounts(parameters: {
  system: TestSystem
  providers: Address[]
  requesters: Address[]
  queue: (call: Call) => void
  mine: () => Promise<MinedBlock>
  advance: (seconds: bigint) => void
}): Promise<void> {
  const { system, providers, requesters, queue, mine, advance } = parameters
  const token = (from: Address, functionName: string, args: readonly unknown[]) =>
    queue({ from, to: system.token, abi: tesseraTokenAbi, functionName, args })
  const registry = (from: Address, functionName: string, args: readonly unknown[]) =>
    queue({ from, to: system.registry, abi: providerRegistryAbi, functionName, args })
  const stake = 10_000n * TSR
  for (const a of [...providers, ...requesters]) token(system.accounts.deployer.address, 'transfer', [a, 100_000n * TSR])
  advance(1n)
  await mine()
  for (const p of providers) {
    token(p, 'approve', [system.registry, maxUint256])
    registry(p, 'register', [defaultHardware, TSR / 100n, encodeRegion('eu'), '0x01'])
  }
  for (const r of requesters) token(r, 'approve', [system.market, maxUint256])
  advance(1n)
  await mine()
  for (const p of providers) registry(p, 'stake', [stake])
  advance(1n)
  await mine()
}
