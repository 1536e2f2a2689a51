import type { Logger } from 'pino'
import { createPublicClient, createWalletClient, http, type LocalAccount, type PublicClient } from 'viem'
import { fetchDeployment } from '../client/serverClient.ts'
import { chainOf } from '../protocol/chain.ts'
import type { Deployment } from '../protocol/deployment.ts'
import type { Hardware } from '../protocol/hardware.ts'
import { encodeRegion } from '../protocol/region.ts'
import { retry } from '../protocol/retry.ts'
import type { AgentMetrics } from './agentMetrics.ts'
import { benchmarkThroughput, cachedBenchmark } from './cachedBenchmark.ts'
import { detectHardware } from './detectHardware.ts'
import { AgentSetupError, type EnsureProviderReturnType, ensureProvider } from './ensureProvider.ts'
import { createHeadWatch, type HeadWatch } from './headWatch.ts'
import { InferencePool } from './inferencePool.ts'
import { Journal } from './journal.ts'
import { BatchedMarketCalls, delegateToBatcher, directMarketCalls, type MarketCalls } from './marketCalls.ts'
import type { RunAgentParameters } from './runAgent.ts'
import { TxSender } from './txSender.ts'

export type SetupAgentParameters = Pick<
  RunAgentParameters,
  | 'serverUrl'
  | 'rpcUrl'
  | 'dataDir'
  | 'pricePerUnit'
  | 'stake'
  | 'hardware'
  | 'region'
  | 'pollIntervalMs'
  | 'headIntervalMs'
  | 'inferenceWorkers'
  | 'startupTimeoutMs'
  | 'batchCalls'
> & {
  account: LocalAccount
  log: Logger
  metrics: AgentMetrics
  signal: AbortSignal
  /** Registers what must be closed when the agent stops (journal, pool), even when a later step fails. */
  defer: (cleanup: () => Promise<void>) => void
}

export type SetupAgentReturnType = {
  deployment: Deployment
  publicClient: PublicClient
  /** The head, read once for the agent's jobs and its transactions' receipts. */
  heads: HeadWatch
  sender: TxSender
  /** How the agent's commits and reveals go out (`batchCalls`). */
  calls: MarketCalls
  journal: Journal
  pool: InferencePool
  hardware: Hardware
  /** Makes the on-chain provider match this agent again (`ensureProvider` with the same arguments). */
  ensure: () => Promise<EnsureProviderReturnType>
}

/**
 * How the agent's contract reads are batched: reads of one block (every job the agent follows looks at the same block
 * after each one) go out together as one multicall, the multicall3 code run by `eth_call` itself, so no contract needs
 * deploying on the chain. Such a call returns its results as the code of a contract it creates, which may not pass
 * 24,576 bytes (EIP-170): a batch is at most 512 bytes of calldata, some fourteen `getJob`s, whose results take about
 * half the limit.
 */
export const agentReadBatching = { multicall: { deployless: true, wait: 5, batchSize: 512 } } as const

/**
 * How the agent's JSON-RPC requests are batched: those of one tick go out as one HTTP request. Each multicall above
 * carries the multicall3 code, some 8 KB of JSON; at 64 a batch stays near half a megabyte, well under the 2 MB anvil
 * takes in one request (a bigger body is refused whole, "Invalid request", failing every read in it).
 */
export const agentRpcBatching = { batchSize: 64, wait: 5 } as const

/**
 * Brings an agent up to where it can take work: reads the deployment from the server (retried while the server
 * comes up, for `startupTimeoutMs`), checks the RPC serves that chain, opens the deployment's journal, starts the
 * inference pool, detects hardware (the benchmark cached in the data dir) and registers and stakes the provider.
 */
export async function setupAgent(parameters: SetupAgentParameters): Promise<SetupAgentReturnType> {
  const { account, log, metrics, signal, defer } = parameters
  const region = encodeRegion(parameters.region)
  const deployment = await retry(() => fetchDeployment({ serverUrl: parameters.serverUrl, signal }), {
    untilMs: Date.now() + (parameters.startupTimeoutMs ?? 60_000),
    signal,
    onRetry: (error) => log.warn({ err: error }, 'waiting for the server'),
  })

  const chain = chainOf(deployment.chainId, parameters.rpcUrl)
  const transport = http(parameters.rpcUrl, { retryCount: 3, batch: agentRpcBatching })
  const pollingInterval = Math.min(500, parameters.pollIntervalMs ?? 1000)
  const publicClient = createPublicClient({ chain, transport, pollingInterval, batch: agentReadBatching }) as PublicClient
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval })
  const rpcChainId = await publicClient.getChainId()
  if (rpcChainId !== deployment.chainId)
    throw new AgentSetupError(
      `RPC ${parameters.rpcUrl} serves chain ${rpcChainId} but the server's deployment is on chain ${deployment.chainId}`,
    )

  // One journal per deployment: a devnet restarted from scratch reuses chain id and addresses, but not the
  // hash of the block the JobMarket was deployed in, and its job ids and feed cursors mean other things.
  const market = deployment.contracts.JobMarket
  const marketBlock = await publicClient.getBlock({ blockNumber: BigInt(market.blockNumber) })
  const journalName = `journal-${deployment.chainId}-${market.address.slice(2, 10).toLowerCase()}-${marketBlock.hash.slice(2, 10)}.jsonl`
  const journal = await Journal.open({ dataDir: parameters.dataDir, name: journalName })
  defer(() => journal.close())
  // The head, read once for everything the agent follows: its jobs' rounds and its own transactions' receipts.
  const heads = createHeadWatch({
    publicClient,
    intervalMs: parameters.headIntervalMs ?? Math.min(250, parameters.pollIntervalMs ?? 1000),
  })
  const sender = new TxSender(
    publicClient,
    walletClient,
    account,
    log,
    (fn, result) => metrics.transactions.inc({ function: fn, result }),
    {
      heads,
    },
  )

  const pool = new InferencePool({ size: parameters.inferenceWorkers ?? 1 })
  defer(() => pool.close())
  const hardware = await detectHardware({
    overrides: parameters.hardware,
    epochLength: deployment.params.emission.epochLength,
    benchmark: () => cachedBenchmark({ dataDir: parameters.dataDir, measure: () => benchmarkThroughput(pool), log }),
  })
  log.info({ hardware, chainId: deployment.chainId }, 'hardware detected')

  const ensure = () =>
    ensureProvider({
      publicClient,
      sender,
      provider: account.address,
      registry: deployment.contracts.ProviderRegistry.address,
      token: deployment.contracts.TesseraToken.address,
      hardware,
      pricePerUnit: parameters.pricePerUnit,
      region,
      stake: parameters.stake,
      log,
    })
  const provider = await ensure()
  log.info(
    { registered: provider.registered, stake: provider.stake.toString(), staked: provider.staked.toString() },
    'provider ready on chain',
  )
  const jobMarket = market.address
  const batched =
    parameters.batchCalls !== false &&
    (await delegateToBatcher({ publicClient, walletClient, account, batcher: deployment.contracts.ProviderBatcher.address, log }))
  const calls = batched
    ? new BatchedMarketCalls({ sender, publicClient, account, jobMarket, log, onBatch: (size) => metrics.batchedCalls.observe(size) })
    : directMarketCalls({ sender, jobMarket })
  return { deployment, publicClient, heads, sender, calls, journal, pool, hardware, ensure }
}
