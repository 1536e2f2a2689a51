import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { formatEther, type Hex, parseEther } from 'viem'
import type { GatewayRequest } from '../client/gateway.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { EmissionsInterval } from '../economics/analytics.ts'
import type { ScenarioId } from '../economics/simulation/scenarios.ts'
import type { SweepGrid } from '../economics/simulation/sweep.ts'
import { TesseraError } from '../protocol/errors.ts'
import { addSettingOptions, ConfigError, createLogger, describeConfig, readSecret, resolveConfig, type Setting } from './config.ts'
import { jobVerificationOf } from './jobVerificationOf.ts'
import { waitForSignal } from './waitForSignal.ts'

const program = new Command('tessera')
  .description('Tessera: an open marketplace for AI compute')
  .option('--config <path>', 'JSON config file (flags beat TESSERA_* env vars beat this file)')
  .option('--log-level <level>', 'trace | debug | info | warn | error')
  .option('--log-format <format>', 'pretty | json')

function logger(name: string) {
  const opts = program.opts()
  return createLogger({
    level: opts.logLevel ?? process.env.TESSERA_LOG_LEVEL,
    format: opts.logFormat ?? process.env.TESSERA_LOG_FORMAT,
    name,
  })
}

/** A subcommand of `tessera` with an option for every setting that has a flag. */
function settingsCommand(name: string, description: string, settings: Record<string, Setting>) {
  return addSettingOptions(program.command(name).description(description), settings)
}

/** A number of seconds ≥ 0 from a setting, or a ConfigError naming the flag. */
function seconds(value: unknown, flag: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${flag} must be a number of seconds ≥ 0, got ${JSON.stringify(value)}`)
  return n
}

/** An amount of TSR ≥ 0 from a setting, in wei, or a ConfigError naming the flag. */
function tsrSetting(value: unknown, flag: string): bigint {
  const text = String(value).trim()
  if (!/^\d+(\.\d{1,18})?$/.test(text))
    throw new ConfigError(`${flag} must be an amount of TSR ≥ 0 (up to 18 decimals), got ${JSON.stringify(value)}`)
  return parseEther(text)
}

/** `--lie` alone: every job; `--lie 0.3`: that fraction of them. */
function lieOption(value: unknown): boolean | number {
  if (value === undefined || typeof value === 'boolean') return Boolean(value)
  const rate = Number(value)
  if (!Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new ConfigError(`--lie takes a fraction from 0 to 1, got ${JSON.stringify(value)}`)
  return rate
}

/** Exits once the logger's transport (a worker thread for pretty output) has written every line. */
async function exitAfterFlush(log: { flush: (cb?: (err?: Error) => void) => void }, code = 0): Promise<never> {
  await new Promise<void>((resolve) => log.flush(() => resolve()))
  process.exit(code)
}

const devSettings = {
  port: { flag: '--port <port>', env: 'TESSERA_PORT', default: 4000, description: 'GraphQL server port' },
  dataDir: { flag: '--data-dir <dir>', env: 'TESSERA_DATA_DIR', default: '.tessera', description: 'data directory' },
  databaseUrl: {
    flag: '--database-url <url>',
    env: 'DATABASE_URL',
    secret: true,
    description: 'Postgres URL (default: embedded Postgres)',
  },
  postgresPort: { flag: '--postgres-port <port>', env: 'TESSERA_PG_PORT', default: 54329, description: 'embedded Postgres port' },
  rpcPort: { flag: '--rpc-port <port>', env: 'TESSERA_RPC_PORT', default: 8545, description: 'anvil port' },
  ponderPort: { flag: '--ponder-port <port>', env: 'TESSERA_PONDER_PORT', default: 42069, description: 'Ponder port' },
  agents: { flag: '--agents <n>', env: 'TESSERA_AGENTS', default: 2, description: 'local agents to run (at most 5)' },
  cheaters: {
    flag: '--cheaters <n>',
    env: 'TESSERA_CHEATERS',
    default: 0,
    description: 'how many of the local agents cheat (alter outputs), to watch the verification slash them',
  },
  cheatRate: {
    flag: '--cheat-rate <fraction>',
    env: 'TESSERA_CHEAT_RATE',
    default: 0.5,
    description: 'fraction of its jobs a cheating agent alters, 0–1',
  },
  demo: { flag: '--no-demo', env: 'TESSERA_DEMO', default: 'true', description: 'do not submit demo jobs' },
  optimisticShare: {
    flag: '--optimistic-share <fraction>',
    env: 'TESSERA_OPTIMISTIC_SHARE',
    default: 0.5,
    description: 'fraction of the demo jobs submitted Optimistic (one run, spot-checked), 0–1; the rest are Redundant',
  },
  epochLength: {
    flag: '--epoch-length <seconds>',
    env: 'TESSERA_EPOCH_LENGTH',
    default: 30,
    description: 'devnet epoch length in seconds',
  },
  payoutInterval: {
    flag: '--payout-interval <seconds>',
    env: 'TESSERA_AGENT_PAYOUT_INTERVAL',
    default: 60,
    description: 'how often the local agents claim their emission rewards and withdraw their earnings (0: never)',
  },
  minWithdraw: {
    flag: '--min-withdraw <tsr>',
    env: 'TESSERA_AGENT_MIN_WITHDRAW',
    default: '0',
    description: 'smallest JobMarket balance the local agents withdraw, in TSR (0: any)',
  },
} satisfies Record<string, Setting>

settingsCommand(
  'dev',
  'run the whole marketplace locally: Postgres, anvil, contracts, indexer, server, agents, demo jobs',
  devSettings,
).action(async (flags) => {
  const config = resolveConfig({
    settings: devSettings,
    flags: { ...flags, demo: flags.demo === false ? 'false' : undefined },
    configPath: program.opts().config,
  })
  const log = logger('tessera')
  log.debug({ config: describeConfig(devSettings, config) }, 'effective config')
  const { runDev } = await import('./dev.ts')
  await runDev({
    port: Number(config.port),
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    postgresPort: Number(config.postgresPort),
    rpcPort: Number(config.rpcPort),
    ponderPort: Number(config.ponderPort),
    agents: Number(config.agents),
    cheaters: Number(config.cheaters),
    cheatRate: Number(config.cheatRate),
    demo: config.demo !== 'false',
    optimisticShare: Number(config.optimisticShare),
    epochLength: Number(config.epochLength),
    payoutIntervalMs: seconds(config.payoutInterval, '--payout-interval') * 1000,
    minWithdraw: tsrSetting(config.minWithdraw, '--min-withdraw'),
    log,
  })
  // Everything it started has stopped; leftover handles (pools, worker threads) must not keep the CLI up.
  await exitAfterFlush(log)
})

const agentSettings = {
  privateKey: { flag: '--private-key <key>', env: 'TESSERA_PRIVATE_KEY', secret: true, description: 'provider key (0x… or a file path)' },
  server: { flag: '--server <url>', env: 'TESSERA_SERVER_URL', default: 'http://127.0.0.1:4000', description: 'Tessera server URL' },
  rpc: { flag: '--rpc <url>', env: 'TESSERA_RPC_URL', default: 'http://127.0.0.1:8545', description: 'chain RPC URL' },
  dataDir: {
    flag: '--data-dir <dir>',
    env: 'TESSERA_AGENT_DATA_DIR',
    default: '.tessera/agent',
    description: 'model cache and commit journal',
  },
  price: { flag: '--price <tsr>', env: 'TESSERA_PRICE', default: '0.001', description: 'ask per unit, in TSR' },
  stake: { flag: '--stake <tsr>', env: 'TESSERA_STAKE', description: 'stake to hold, in TSR (default 10 × the minimum)' },
  region: { flag: '--region <name>', env: 'TESSERA_REGION', description: 'region label' },
  httpPort: { flag: '--http-port <port>', env: 'TESSERA_AGENT_HTTP_PORT', description: 'serve /health, /ready, /metrics on this port' },
  workers: { flag: '--workers <n>', env: 'TESSERA_AGENT_WORKERS', default: 1, description: 'inference worker threads' },
  gpuModel: { flag: '--gpu-model <id>', env: 'TESSERA_GPU_MODEL', description: 'override the detected GPU model id' },
  vramMib: { flag: '--vram-mib <mib>', env: 'TESSERA_VRAM_MIB', description: 'override the detected VRAM per GPU, MiB' },
  benchmarkScore: {
    flag: '--benchmark-score <units>',
    env: 'TESSERA_BENCHMARK_SCORE',
    description: 'override the measured units per epoch per GPU',
  },
  confirmations: {
    flag: '--confirmations <blocks>',
    env: 'TESSERA_AGENT_CONFIRMATIONS',
    default: 2,
    description: 'blocks deep a commit or reveal must be before the journal counts it (more than the chain reorgs)',
  },
  commitMargin: {
    flag: '--commit-margin <seconds>',
    env: 'TESSERA_AGENT_COMMIT_MARGIN',
    default: 20,
    description: 'seconds before the commit deadline an inference must be done by, else the agent reports TIMEOUT',
  },
  claim: {
    flag: '--no-claim',
    env: 'TESSERA_AGENT_CLAIM',
    default: 'true',
    description: 'do not claim jobs the matcher left waiting past the claim grace (claimJob)',
  },
  chainWatch: {
    flag: '--chain-watch <seconds>',
    env: 'TESSERA_AGENT_CHAIN_WATCH',
    default: 5,
    description: "how often to read this provider's assignments from the chain too (0: only the server's feed)",
  },
  payoutInterval: {
    flag: '--payout-interval <seconds>',
    env: 'TESSERA_AGENT_PAYOUT_INTERVAL',
    default: 60,
    description: 'how often to claim emission rewards of closed epochs and withdraw JobMarket earnings (0: never)',
  },
  minWithdraw: {
    flag: '--min-withdraw <tsr>',
    env: 'TESSERA_AGENT_MIN_WITHDRAW',
    default: '0',
    description: 'leave JobMarket earnings below this many TSR until they grow (0: withdraw any)',
  },
} satisfies Record<string, Setting>

settingsCommand('agent', 'run a provider agent: register, stake, take assignments, run inference, commit and reveal', agentSettings)
  .option('--lie [fraction]', 'alter outputs, on every job or on this fraction of them (for testing the verification)')
  .action(async (flags) => {
    const config = resolveConfig({ settings: agentSettings, flags, configPath: program.opts().config })
    const log = logger('agent')
    if (!config.privateKey) throw new ConfigError('--private-key (or TESSERA_PRIVATE_KEY) is required')
    const commitMargin = seconds(config.commitMargin, '--commit-margin')
    const chainWatch = seconds(config.chainWatch, '--chain-watch')
    const payoutInterval = seconds(config.payoutInterval, '--payout-interval')
    const minWithdraw = tsrSetting(config.minWithdraw, '--min-withdraw')
    log.info({ config: describeConfig(agentSettings, config) }, 'effective config')
    const { runAgent } = await import('../agent/runAgent.ts')
    const controller = new AbortController()
    const agent = await runAgent({
      privateKey: readSecret(config.privateKey) as Hex,
      serverUrl: config.server,
      rpcUrl: config.rpc,
      dataDir: config.dataDir,
      pricePerUnit: parseEther(config.price),
      stake: config.stake ? parseEther(config.stake) : undefined,
      region: config.region,
      httpPort: config.httpPort ? Number(config.httpPort) : undefined,
      inferenceWorkers: Number(config.workers),
      hardware: {
        ...(config.gpuModel ? { gpuModel: Number(config.gpuModel) } : {}),
        ...(config.vramMib ? { vramMiB: Number(config.vramMib) } : {}),
        ...(config.benchmarkScore ? { benchmarkScore: Number(config.benchmarkScore) } : {}),
      },
      confirmations: Number(config.confirmations),
      commitMarginMs: commitMargin * 1000,
      claimJobs: config.claim !== 'false',
      chainWatchIntervalMs: chainWatch * 1000,
      payoutIntervalMs: payoutInterval * 1000,
      minWithdraw,
      lie: lieOption(flags.lie),
      log,
      signal: controller.signal,
    })
    await waitForSignal()
    controller.abort()
    await agent.stop()
    await exitAfterFlush(log)
  })

/** `--server`, `--rpc` and `--private-key` of the requester commands, with their TESSERA_* defaults. */
function addRequesterOptions(command: Command): Command {
  return command
    .option('--server <url>', 'Tessera server URL', process.env.TESSERA_SERVER_URL ?? 'http://127.0.0.1:4000')
    .option('--rpc <url>', 'chain RPC URL', process.env.TESSERA_RPC_URL ?? 'http://127.0.0.1:8545')
    .option('--private-key <key>', 'requester key (0x… or a file path)', process.env.TESSERA_PRIVATE_KEY ?? devKeys[5])
}

/** An amount of TSR from a flag, in wei: a positive decimal, or a ConfigError naming the flag. */
function tsrOption(value: string | undefined, flag: string): bigint {
  const amount = value !== undefined && /^\d+(\.\d{1,18})?$/.test(value.trim()) ? parseEther(value.trim()) : 0n
  if (amount <= 0n)
    throw new ConfigError(`${flag} must be an amount of TSR above 0 (up to 18 decimals), got ${JSON.stringify(value ?? null)}`)
  return amount
}

/** Progress for a person, on stderr, so stdout stays the one JSON line. */
function progress(line: string): void {
  console.error(line)
}

const job = program.command('job').description('requester commands')
addRequesterOptions(
  job
    .command('submit')
    .description(
      'upload a model and an input tensor blob, then submit a job through the job gateway (or, with --direct, with escrow from your key)',
    )
    .requiredOption('--model <file>', 'ONNX model file')
    .requiredOption('--input <file>', 'input tensor blob (JSON: dims, dtype float32, base64 data)'),
)
  .option('--max-price <tsr>', 'max price per unit, in TSR', '0.01')
  .option(
    '--verification <mode>',
    'redundant: k providers run it and must agree; optimistic: one runs it, spot-checked and open to challenges (k = 1)',
    'redundant',
  )
  .option('--redundancy <k>', 'providers that must agree (redundant: 2 to 16, default 2; optimistic: 1 only)')
  .option('--tolerance <bits>', 'significant mantissa bits compared', '16')
  .option('--direct', "submit from the key's own address, approving the escrow itself, instead of through the gateway")
  .action(async (flags) => {
    // Before any file is read, uploaded or approved: a bad combination costs nothing.
    const { verification, redundancy, name } = jobVerificationOf(flags)
    const { fetchDeployment, uploadBlob } = await import('../client/serverClient.ts')
    const { decodeTensorBlob } = await import('../protocol/tensorBlob.ts')
    const privateKey = readSecret(flags.privateKey) as Hex
    const model = await readFile(flags.model)
    const input = await readFile(flags.input)
    const tensor = decodeTensorBlob(input)
    const deployment = await fetchDeployment({ serverUrl: flags.server })
    const { sha256: modelHash } = await uploadBlob({ serverUrl: flags.server, bytes: model, kind: 'model' })
    const { sha256: inputHash } = await uploadBlob({ serverUrl: flags.server, bytes: input, kind: 'input' })
    const spec = {
      serverUrl: flags.server,
      rpcUrl: flags.rpc,
      deployment,
      privateKey,
      modelHash,
      inputHash,
      units: BigInt(tensor.dims[0]),
      maxPricePerUnit: parseEther(flags.maxPrice),
      redundancy,
      verification,
      outputTolerance: Number(flags.tolerance),
    }
    if (flags.direct) {
      const { submitJob } = await import('../client/submitJob.ts')
      const result = await submitJob(spec)
      console.log(
        JSON.stringify({
          jobId: result.jobId.toString(),
          verification: name,
          redundancy,
          escrow: result.escrow.toString(),
          txHash: result.txHash,
        }),
      )
      return
    }
    const { GatewayRejectedError, submitViaGateway, waitForGatewayJob } = await import('../client/gateway.ts')
    const request = await submitViaGateway(spec).catch(async (error) => {
      if (!(error instanceof GatewayRejectedError && /balance/i.test(error.reason))) throw error
      const { escrowOf } = await import('../protocol/settlement.ts')
      const escrow = escrowOf(spec, deployment.params.market)
      throw new GatewayRejectedError(error.shortMessage, {
        reason: error.reason,
        cause: error,
        details: error.details,
        metaMessages: [
          `This job escrows ${formatEther(escrow)} TSR: deposit with \`tessera gateway deposit --amount <tsr>\`, or use --direct.`,
        ],
      })
    })
    progress(`gateway request ${request.id} ${request.status.toLowerCase()}; waiting for its job…`)
    const { jobId, txHash } = await waitForGatewayJob({ serverUrl: flags.server, id: request.id })
    console.log(
      JSON.stringify({
        jobId: jobId.toString(),
        verification: name,
        redundancy,
        escrow: request.amount.toString(),
        txHash,
        gatewayRequest: request.id,
      }),
    )
  })

job
  .command('quote')
  .description(
    'what a job would cost run redundant (k providers agree) and optimistic (one run, spot-checked), and whether it would be matched now',
  )
  .option('--input <file>', 'input tensor blob: its rows are the units')
  .option('--units <n>', 'units, when no --input is given')
  .option('--server <url>', 'Tessera server URL', process.env.TESSERA_SERVER_URL ?? 'http://127.0.0.1:4000')
  .option('--max-price <tsr>', 'max price per unit, in TSR', '0.01')
  .option('--redundancy <k>', 'providers that must agree in the redundant quote (2 to 16)', '2')
  .action(async (flags) => {
    const { redundancy } = jobVerificationOf({ verification: 'redundant', redundancy: flags.redundancy })
    const units = await quoteUnitsOf(flags)
    const { quoteJob } = await import('../client/quoteJob.ts')
    const quote = await quoteJob({ serverUrl: flags.server, units, maxPricePerUnit: parseEther(flags.maxPrice), redundancy })
    const show = (mode: typeof quote.redundant) => ({
      ...mode,
      pricePerUnit: mode.pricePerUnit?.toString() ?? null,
      fees: mode.fees?.toString() ?? null,
      escrow: mode.escrow.toString(),
      cost: mode.cost?.toString() ?? null,
    })
    console.log(JSON.stringify({ units: units.toString(), redundant: show(quote.redundant), optimistic: show(quote.optimistic) }))
  })

/** A quote's units: the rows of `--input`, or `--units`; one of the two, a positive whole number. */
async function quoteUnitsOf(flags: { input?: string; units?: string }): Promise<bigint> {
  if (flags.input !== undefined && flags.units !== undefined) throw new ConfigError('give --input or --units, not both')
  if (flags.input !== undefined) {
    const { decodeTensorBlob } = await import('../protocol/tensorBlob.ts')
    return BigInt(decodeTensorBlob(await readFile(flags.input)).dims[0])
  }
  if (flags.units === undefined || !/^[1-9][0-9]*$/.test(flags.units))
    throw new ConfigError(`--units must be a positive whole number (or give --input), got ${JSON.stringify(flags.units ?? null)}`)
  return BigInt(flags.units)
}

const gateway = program
  .command('gateway')
  .description("the job gateway: deposit TSR to the server's key, submit signed jobs it pays from your balance, withdraw")

/** The deployment and the key of a gateway command. */
async function gatewayContext(flags: { server: string; privateKey: string }) {
  const { fetchDeployment } = await import('../client/serverClient.ts')
  return { deployment: await fetchDeployment({ serverUrl: flags.server }), privateKey: readSecret(flags.privateKey) as Hex }
}

/** A gateway request as JSON: amounts and ids as decimal strings. */
function requestJson(request: GatewayRequest) {
  return { ...request, nonce: request.nonce.toString(), amount: request.amount.toString(), jobId: request.jobId?.toString() ?? null }
}

addRequesterOptions(gateway.command('deposit').description('transfer TSR to the gateway and wait until it counts toward your balance'))
  .requiredOption('--amount <tsr>', 'TSR to deposit')
  .option('--no-wait', 'return once the transfer is mined, without waiting for the gateway to count it (2 blocks deep)')
  .action(async (flags) => {
    const amount = tsrOption(flags.amount, '--amount')
    const { depositToGateway, readGatewayAccount, waitForGatewayDeposit } = await import('../client/gateway.ts')
    const { deployment, privateKey } = await gatewayContext(flags)
    const context = { serverUrl: flags.server, deployment, privateKey }
    const before = flags.wait ? await readGatewayAccount({ ...context, first: 1 }) : undefined
    const { txHash } = await depositToGateway({ rpcUrl: flags.rpc, deployment, privateKey, amount })
    if (!before) return console.log(JSON.stringify({ txHash, amount: amount.toString() }))
    progress(`deposited in ${txHash}; waiting for the gateway to count it…`)
    const account = await waitForGatewayDeposit({ ...context, deposited: before.deposited + amount })
    console.log(JSON.stringify({ txHash, amount: amount.toString(), balance: account.balance.toString() }))
  })

addRequesterOptions(
  gateway.command('balance').description('your gateway balance (deposited + refunded − held − withdrawn) and recent requests'),
)
  .option('--requests <n>', 'how many recent requests to list', '20')
  .action(async (flags) => {
    const first = Number(flags.requests)
    if (!Number.isInteger(first) || first < 0)
      throw new ConfigError(`--requests must be a whole number ≥ 0, got ${JSON.stringify(flags.requests)}`)
    const { readGatewayAccount } = await import('../client/gateway.ts')
    const account = await readGatewayAccount({ serverUrl: flags.server, ...(await gatewayContext(flags)), first })
    console.log(
      JSON.stringify({
        account: account.account,
        deposited: account.deposited.toString(),
        refunded: account.refunded.toString(),
        held: account.held.toString(),
        withdrawn: account.withdrawn.toString(),
        balance: account.balance.toString(),
        requests: account.requests.map(requestJson),
      }),
    )
  })

addRequesterOptions(gateway.command('withdraw').description('pay TSR from your gateway balance back to your address'))
  .requiredOption('--amount <tsr>', 'TSR to withdraw')
  .action(async (flags) => {
    const amount = tsrOption(flags.amount, '--amount')
    const { waitForGatewayRequest, withdrawFromGateway } = await import('../client/gateway.ts')
    const request = await withdrawFromGateway({ serverUrl: flags.server, ...(await gatewayContext(flags)), amount })
    progress(`gateway request ${request.id} ${request.status.toLowerCase()}; waiting for the transfer…`)
    const done = await waitForGatewayRequest({ serverUrl: flags.server, id: request.id })
    console.log(JSON.stringify({ txHash: done.txHash, amount: amount.toString(), gatewayRequest: request.id }))
  })

addRequesterOptions(
  gateway.command('cancel').description('cancel one of your gateway jobs while it is still open; its escrow returns to your balance'),
)
  .requiredOption('--job <id>', 'job id')
  .action(async (flags) => {
    if (!/^\d+$/.test(flags.job)) throw new ConfigError(`--job must be a job id (a whole number), got ${JSON.stringify(flags.job)}`)
    const { cancelViaGateway, waitForGatewayRequest } = await import('../client/gateway.ts')
    const request = await cancelViaGateway({ serverUrl: flags.server, ...(await gatewayContext(flags)), jobId: BigInt(flags.job) })
    progress(`gateway request ${request.id} ${request.status.toLowerCase()}; waiting for the cancel…`)
    const done = await waitForGatewayRequest({ serverUrl: flags.server, id: request.id })
    console.log(JSON.stringify({ jobId: flags.job, txHash: done.txHash, gatewayRequest: request.id }))
  })

const economics = program
  .command('economics')
  .description("the emission economics: run ECONOMICS.md's scenarios, sweep parameters, chart the live server's emissions")

/** A whole number from a setting, from `min` to `max`, or a ConfigError naming the flag. */
function wholeNumber(value: unknown, flag: string, min: number, max: number): number {
  const text = String(value).trim()
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new ConfigError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return n
}

/** A comma-separated list of numbers from `min` to `max` (whole ones if `whole`), or a ConfigError naming the flag. */
function numberList(value: string | undefined, flag: string, range: { min: number; max: number; whole?: boolean }): number[] | undefined {
  if (value === undefined) return undefined
  return value.split(',').map((item) => {
    const text = item.trim()
    const n = Number(text)
    if (text === '' || !Number.isFinite(n) || n < range.min || n > range.max || (range.whole && !Number.isInteger(n)))
      throw new ConfigError(
        `${flag} takes a comma-separated list of ${range.whole ? 'whole numbers' : 'numbers'} from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`,
      )
    return n
  })
}

/** EPOCH, D7 or D30 from a setting, or a ConfigError naming the flag. */
function intervalSetting(value: unknown, flag: string): EmissionsInterval {
  if (value === 'EPOCH' || value === 'D7' || value === 'D30') return value
  throw new ConfigError(`${flag} must be EPOCH, D7 or D30, got ${JSON.stringify(value)}`)
}

/** The scenarios a setting names: ids from a comma-separated list, or every one for `all`; a wrong id lists the valid ones. */
function scenarioSetting(value: string | undefined, flag: string, ids: readonly ScenarioId[]): ScenarioId[] {
  if (value === undefined) throw new ConfigError(`${flag} is required: one of ${ids.join(', ')}, or all`)
  if (value.trim() === 'all') return [...ids]
  return value.split(',').map((item) => {
    const id = ids.find((known) => known === item.trim().toUpperCase())
    if (!id) throw new ConfigError(`${flag} must be one of ${ids.join(', ')}, or all; got ${JSON.stringify(item.trim())}`)
    return id
  })
}

/** The output folder from a setting, made and checked writable before any long work, or a ConfigError naming the flag. */
async function outDirSetting(value: string | undefined, flag: string, env: string): Promise<string> {
  if (!value) throw new ConfigError(`${flag} (or ${env}) is required: the folder to write the report into`)
  const { prepareOutDir } = await import('../economics/report/report.ts')
  await prepareOutDir(value).catch((cause) => {
    throw new ConfigError(`${flag}: cannot write to ${value}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  })
  return value
}

const simulateSettings = {
  scenario: { flag: '--scenario <id>', env: 'TESSERA_ECONOMICS_SCENARIO', description: 'scenario id (S1 … S11, or a list: S1,S6) or all' },
  years: {
    flag: '--years <n>',
    env: 'TESSERA_ECONOMICS_YEARS',
    default: 4,
    description: 'horizon in years (a scenario runs at least what its bars need; S6, S7, S9 and S10 have fixed horizons)',
  },
  seed: { flag: '--seed <n>', env: 'TESSERA_ECONOMICS_SEED', default: 1, description: 'random seed: the same seed, the same run' },
  interval: {
    flag: '--interval <interval>',
    env: 'TESSERA_ECONOMICS_INTERVAL',
    default: 'D7',
    description: 'what a chart point spans: EPOCH, D7 or D30 (the CSV is always per epoch)',
  },
  out: { flag: '--out <dir>', env: 'TESSERA_ECONOMICS_OUT', description: 'folder for the CSV, the SVG charts and report.md' },
} satisfies Record<string, Setting>

addSettingOptions(
  economics
    .command('simulate')
    .description("run a scenario of ECONOMICS.md (or all): write each run's CSV, SVG charts and report.md with its bars' verdicts"),
  simulateSettings,
).action(async (flags) => {
  const config = resolveConfig({ settings: simulateSettings, flags, configPath: program.opts().config })
  const { runScenario, scenarioIds } = await import('../economics/simulation/scenarios.ts')
  const ids = scenarioSetting(config.scenario, '--scenario', scenarioIds)
  const years = wholeNumber(config.years, '--years', 1, 100)
  const seed = wholeNumber(config.seed, '--seed', 0, 2 ** 32 - 1)
  const interval = intervalSetting(config.interval, '--interval')
  const out = await outDirSetting(config.out, '--out', simulateSettings.out.env)
  const { fileNameOf, runsPassed, simulationSummary, writeSimulationIndex, writeSimulationReport } = await import(
    '../economics/report/report.ts'
  )
  const reports: Awaited<ReturnType<typeof writeSimulationReport>>[] = []
  const folders = new Set<string>()
  for (const [i, id] of ids.entries()) {
    progress(`running ${id} (${i + 1} of ${ids.length}), seed ${seed}, ${years} year${years === 1 ? '' : 's'}…`)
    const runs = runScenario(id, { seed, years })
    for (const run of runs) {
      // One run writes into --out itself; several each into a folder of their own, beside an index.
      let folder = fileNameOf(run.name)
      for (let n = 2; folders.has(folder); n++) folder = `${fileNameOf(run.name)}-${n}`
      folders.add(folder)
      const outDir = ids.length === 1 && runs.length === 1 ? out : join(out, folder)
      const report = await writeSimulationReport({ run, outDir, interval })
      reports.push(report)
      console.log(simulationSummary(report).join('\n'))
    }
  }
  if (reports.length > 1) {
    const title = `Scenarios ${ids.join(', ')}: seed ${seed}, ${years} years`
    const index = await writeSimulationIndex({ reports, outDir: out, title })
    console.log(`${runsPassed(reports)}; index ${index.path} (${index.bytes.toLocaleString('en-US')} bytes)`)
  }
})

const sweepSettings = {
  kappa: { flag: '--kappa <list>', env: 'TESSERA_SWEEP_KAPPA', description: 'κ values, fractions: 0.03,0.05' },
  takeBps: { flag: '--take-bps <list>', env: 'TESSERA_SWEEP_TAKE_BPS', description: 'τ values in bps: 800,1000' },
  halfLife: {
    flag: '--half-life <list>',
    env: 'TESSERA_SWEEP_HALF_LIFE',
    description: 'T_B values in epochs: 365,540 (540 is the contract’s)',
  },
  stepUp: { flag: '--step-up <list>', env: 'TESSERA_SWEEP_STEP_UP', description: 'max step-up values, fractions: 0.02,0.03' },
  stepDown: { flag: '--step-down <list>', env: 'TESSERA_SWEEP_STEP_DOWN', description: 'max step-down values, fractions: 0.01,0.015' },
  baseAvailability: {
    flag: '--base-availability <list>',
    env: 'TESSERA_SWEEP_BASE_AVAILABILITY',
    description: 'B0 values in TSR: 6000,8000',
  },
  phiMin: { flag: '--phi-min <list>', env: 'TESSERA_SWEEP_PHI_MIN', description: 'φ_min values, fractions: 0.5,0.6' },
  stakePerUnit: {
    flag: '--stake-per-unit <list>',
    env: 'TESSERA_SWEEP_STAKE_PER_UNIT',
    description: 'stake per unit values in TSR: 0.1,1',
  },
  minTake: { flag: '--min-take <list>', env: 'TESSERA_SWEEP_MIN_TAKE', description: 'minimum take values in TSR: 0.01,0.1' },
  scenarios: {
    flag: '--scenarios <ids>',
    env: 'TESSERA_SWEEP_SCENARIOS',
    default: 'all',
    description: 'scenarios to run at each point: S1,S2 or all',
  },
  years: { flag: '--years <n>', env: 'TESSERA_ECONOMICS_YEARS', default: 4, description: 'horizon in years' },
  seed: { flag: '--seed <n>', env: 'TESSERA_ECONOMICS_SEED', default: 1, description: 'random seed' },
  out: { flag: '--out <dir>', env: 'TESSERA_ECONOMICS_OUT', description: 'folder for sweep.md and sweep.csv' },
} satisfies Record<string, Setting>

addSettingOptions(
  economics
    .command('sweep')
    .description('run the scenarios at every point of a parameter grid (the product of the lists given) and tabulate which pass'),
  sweepSettings,
).action(async (flags) => {
  const config = resolveConfig({ settings: sweepSettings, flags, configPath: program.opts().config })
  const { scenarioIds } = await import('../economics/simulation/scenarios.ts')
  const { pointsOf, sweep } = await import('../economics/simulation/sweep.ts')
  const fraction = { min: 0, max: 1 }
  const grid = {
    kappa: numberList(config.kappa, '--kappa', fraction),
    takeBps: numberList(config.takeBps, '--take-bps', { min: 0, max: 10_000, whole: true }),
    halfLife: numberList(config.halfLife, '--half-life', { min: 1, max: 100_000, whole: true }),
    maxStepUp: numberList(config.stepUp, '--step-up', fraction),
    maxStepDown: numberList(config.stepDown, '--step-down', fraction),
    baseAvailability0: numberList(config.baseAvailability, '--base-availability', { min: 0, max: 1e9 }),
    phiMin: numberList(config.phiMin, '--phi-min', fraction),
    stakePerUnit: numberList(config.stakePerUnit, '--stake-per-unit', { min: 0, max: 1e9 }),
    minTake: numberList(config.minTake, '--min-take', { min: 0, max: 1e9 }),
  }
  const ids = scenarioSetting(config.scenarios, '--scenarios', scenarioIds)
  const years = wholeNumber(config.years, '--years', 1, 100)
  const seed = wholeNumber(config.seed, '--seed', 0, 2 ** 32 - 1)
  const out = await outDirSetting(config.out, '--out', sweepSettings.out.env)
  const points = pointsOf(grid)
  const results: ReturnType<typeof sweep> = []
  for (const [i, point] of points.entries()) {
    const values = Object.entries(point).map(([axis, value]) => `${axis} ${value}`)
    progress(`point ${i + 1} of ${points.length} (${values.join(', ') || 'defaults'}): running ${ids.join(', ')}…`)
    const single: SweepGrid = Object.fromEntries(Object.entries(point).map(([axis, value]) => [axis, [value]]))
    results.push(...sweep({ ...single, scenarios: ids, seed, years }))
  }
  const { sweepTable, writeSweepReport } = await import('../economics/report/sweepReport.ts')
  const title = `Sweep of ${ids.join(', ')}: seed ${seed}, ${years} years`
  const files = await writeSweepReport({ results, scenarios: ids, outDir: out, title })
  console.log(sweepTable({ results, scenarios: ids }))
  for (const f of files) console.log(`wrote ${f.path} (${f.bytes.toLocaleString('en-US')} bytes)`)
})

const reportSettings = {
  server: { flag: '--server <url>', env: 'TESSERA_SERVER_URL', default: 'http://127.0.0.1:4000', description: 'Tessera server URL' },
  from: { flag: '--from <epoch>', env: 'TESSERA_ECONOMICS_FROM', description: "first epoch (default: the server's, 99 before --to)" },
  to: { flag: '--to <epoch>', env: 'TESSERA_ECONOMICS_TO', description: 'last epoch (default: the last closed one)' },
  interval: {
    flag: '--interval <interval>',
    env: 'TESSERA_ECONOMICS_INTERVAL',
    default: 'EPOCH',
    description: 'what a point spans: EPOCH, D7 or D30',
  },
  out: { flag: '--out <dir>', env: 'TESSERA_ECONOMICS_OUT', description: 'folder for emissions.csv, the SVG charts and report.md' },
} satisfies Record<string, Setting>

addSettingOptions(
  economics
    .command('report')
    .description("chart the live server's emissionsVsUsage: the simulated runs' charts, its CSV and report.md with the range's totals"),
  reportSettings,
).action(async (flags) => {
  const config = resolveConfig({ settings: reportSettings, flags, configPath: program.opts().config })
  const url = URL.parse('/graphql', config.server)
  if (!url) throw new ConfigError(`--server must be a URL, got ${JSON.stringify(config.server)}`)
  const epoch = (value: string | undefined, flag: string) =>
    value === undefined ? undefined : BigInt(wholeNumber(value, flag, 0, Number.MAX_SAFE_INTEGER))
  const from = epoch(config.from, '--from')
  const to = epoch(config.to, '--to')
  if (from !== undefined && to !== undefined && from > to) throw new ConfigError(`--from must be ≤ --to, got --from ${from} --to ${to}`)
  const interval = intervalSetting(config.interval, '--interval')
  const out = await outDirSetting(config.out, '--out', reportSettings.out.env)
  const { fetchEmissionsVsUsage } = await import('../economics/report/fetchEmissionsVsUsage.ts')
  const { ServerRequestError } = await import('../client/serverClient.ts')
  progress(`reading emissionsVsUsage from ${url.href}…`)
  const report = await fetchEmissionsVsUsage({ serverUrl: config.server, from, to, interval }).catch((error) => {
    if (!(error instanceof ServerRequestError) || error.status !== undefined) throw error
    throw new ServerRequestError(`cannot reach the server at ${url.href} (set by --server or TESSERA_SERVER_URL)`, {
      cause: error,
      retryable: true,
      details: error.details,
    })
  })
  const { writeLiveReport } = await import('../economics/report/report.ts')
  const files = await writeLiveReport({ report, outDir: out, source: url.origin })
  console.log(`epochs ${report.from} to ${report.to}, ${report.points.length} points ${report.interval}`)
  for (const f of files) console.log(`wrote ${f.path} (${f.bytes.toLocaleString('en-US')} bytes)`)
})

program.parseAsync().catch((error) => {
  console.error(`tessera: ${error instanceof Error ? error.message : (JSON.stringify(error) ?? 'failed without a reason')}`)
  if (error instanceof TesseraError)
    for (const line of [...(error.metaMessages ?? []), ...(error.details ? [error.details] : [])]) console.error(`  ${line}`)
  process.exit(1)
})
