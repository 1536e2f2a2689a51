import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { formatEther } from 'viem'
import type { GatewayRequest } from '../client/gateway.ts'
import type { EmissionsInterval } from '../economics/analytics.ts'
import type { ScenarioId } from '../economics/simulation/scenarios.ts'
import type { SweepGrid } from '../economics/simulation/sweep.ts'
import packageJson from '../package.json' with { type: 'json' }
import {
  addSettingOptions,
  type CommandSetting,
  ConfigError,
  commandLogger,
  describeConfig,
  exitAfterFlush,
  explainError,
  printJson,
  progress,
  requiredAccountKey,
  resolveSettings,
  settingsCommand,
  sourceOf,
} from './config.ts'
import { addJobCommands } from './jobCommands.ts'
import { requesterSettings, submitOptionsOf, submitSettings } from './jobSubmitOptions.ts'
import { jobVerificationOf } from './jobVerificationOf.ts'
import { addModelsCommands } from './modelsCommands.ts'
import { addProviderCommands } from './providerCommands.ts'
import { addServiceCommands } from './serviceCommands.ts'
import { waitForSignal } from './waitForSignal.ts'

// Settings: cli/settings.ts, each once (flag, TESSERA_* variable, config-file key, default, parser); a command names
// the ones it reads. Precedence: flag > variable > the JSON file of --config (or TESSERA_CONFIG) > default.
const program = addSettingOptions(
  new Command('tessera')
    .description('Tessera: an open marketplace for AI compute')
    .version(packageJson.version, '--version', 'print the version')
    .option('--config <path>', 'JSON config file of settings by name (flags beat TESSERA_* env vars beat this file) (env TESSERA_CONFIG)')
    .option('--print-config', "print the command's effective settings (secrets hidden, each with where it came from) and exit"),
  ['logLevel', 'logFormat'],
)

/** `--lie` alone: every job; `--lie 0.3`: that fraction of them. */
function lieOption(value: unknown): boolean | number {
  if (value === undefined || typeof value === 'boolean') return Boolean(value)
  const rate = Number(value)
  if (!Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new ConfigError(`--lie takes a fraction from 0 to 1, got ${JSON.stringify(value)}`)
  return rate
}

const devSettings = [
  'serverPort',
  { name: 'dataDir', description: 'data directory: Postgres in <dir>/pg, blobs in <dir>/server, agents in <dir>/agents' },
  'databaseUrl',
  'postgresPort',
  'rpcPort',
  'indexerPort',
  'agents',
  'cheaters',
  'cheatRate',
  'demo',
  'optimisticShare',
  'epochLength',
  'payoutInterval',
  'minWithdraw',
] as const

settingsCommand(
  program,
  'dev',
  'run the whole marketplace locally: Postgres, anvil, contracts, indexer, server, agents, demo jobs',
  devSettings,
).action(async (_options, command: Command) => {
  const config = resolveSettings(command, devSettings)
  const log = commandLogger(command, 'tessera')
  log.debug({ config: describeConfig(config) }, 'effective config')
  const { runDev } = await import('./dev.ts')
  await runDev({
    port: config.serverPort,
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    postgresPort: config.postgresPort,
    rpcPort: config.rpcPort,
    ponderPort: config.indexerPort,
    agents: config.agents,
    cheaters: config.cheaters,
    cheatRate: config.cheatRate,
    demo: config.demo,
    optimisticShare: config.optimisticShare,
    epochLength: config.epochLength,
    payoutIntervalMs: config.payoutInterval * 1000,
    minWithdraw: config.minWithdraw,
    log,
  })
  // Everything it started has stopped; leftover handles (pools, worker threads) must not keep the CLI up.
  await exitAfterFlush(log)
})

const agentSettings = [
  'server',
  'rpc',
  { name: 'keyFile', description: "file holding the provider's private key (or TESSERA_PRIVATE_KEY)" },
  'privateKey',
  { name: 'dataDir', description: 'data directory: the agent keeps its model cache and commit journal in <dir>/agent' },
  'price',
  'stake',
  'region',
  'httpPort',
  'workers',
  'gpuModel',
  'vramMib',
  'benchmarkScore',
  'confirmations',
  'commitMargin',
  'claim',
  'batchCalls',
  'chainWatch',
  'headPoll',
  'payoutInterval',
  'minWithdraw',
] as const

settingsCommand(
  program,
  'agent',
  'run a provider agent: register, stake, take assignments, run inference, commit and reveal',
  agentSettings,
)
  .option('--lie [fraction]', 'alter outputs, on every job or on this fraction of them (for testing the verification)')
  .action(async (flags, command: Command) => {
    const config = resolveSettings(command, agentSettings)
    const privateKey = requiredAccountKey(config, 'agent')
    const lie = lieOption(flags.lie)
    const log = commandLogger(command, 'agent')
    // TESSERA_AGENT_DATA_DIR named the agent's own folder; TESSERA_DATA_DIR names the folder above it.
    const legacyDir = process.env.TESSERA_AGENT_DATA_DIR
    const dataDir = legacyDir && sourceOf(config, 'dataDir')?.kind === 'default' ? legacyDir : join(config.dataDir, 'agent')
    if (legacyDir)
      log.warn(`TESSERA_AGENT_DATA_DIR is deprecated: set TESSERA_DATA_DIR (the agent keeps its files in <dir>/agent); using ${dataDir}`)
    log.info({ config: describeConfig(config) }, 'effective config')
    const { runAgent } = await import('../agent/runAgent.ts')
    const controller = new AbortController()
    const agent = await runAgent({
      privateKey,
      serverUrl: config.server,
      rpcUrl: config.rpc,
      dataDir,
      pricePerUnit: config.price,
      stake: config.stake,
      region: config.region,
      httpPort: config.httpPort,
      inferenceWorkers: config.workers,
      hardware: {
        ...(config.gpuModel !== undefined ? { gpuModel: config.gpuModel } : {}),
        ...(config.vramMib !== undefined ? { vramMiB: config.vramMib } : {}),
        ...(config.benchmarkScore !== undefined ? { benchmarkScore: config.benchmarkScore } : {}),
      },
      confirmations: config.confirmations,
      commitMarginMs: config.commitMargin * 1000,
      claimJobs: config.claim,
      batchCalls: config.batchCalls,
      chainWatchIntervalMs: config.chainWatch * 1000,
      headIntervalMs: Math.round(config.headPoll * 1000),
      payoutIntervalMs: config.payoutInterval * 1000,
      minWithdraw: config.minWithdraw,
      lie,
      log,
      signal: controller.signal,
    })
    await waitForSignal()
    controller.abort()
    await agent.stop()
    await exitAfterFlush(log)
  })

const job = program
  .command('job')
  .description('requester commands: submit a job, follow it, fetch its result, cancel it, list yours (dev account 7 unless given a key)')
settingsCommand(
  job,
  'submit',
  'upload a model and an input tensor blob, then submit a job through the job gateway (or, with --direct, with escrow from your key); prints its id',
  submitSettings,
)
  .option('--public-model', 'let anyone download the model (by default only you and the providers of jobs that use it may)')
  .action(async (options, command: Command) => {
    // Every option is read and checked before any file is uploaded or anything signed or approved: a bad value costs nothing.
    const {
      flags: checked,
      verification,
      redundancy,
      name,
      privateKey,
      model,
      input,
      tensor,
      maxPricePerUnit,
      outputTolerance,
    } = await submitOptionsOf(command)
    const flags = { ...options, ...checked }
    const { fetchDeployment, uploadBlob } = await import('../client/serverClient.ts')
    const deployment = await fetchDeployment({ serverUrl: flags.server })
    // Signed by the requester's key: the server keeps the input for the job's parties, and the model too unless --public-model.
    const { privateKeyToAccount } = await import('viem/accounts')
    const credentials = { account: privateKeyToAccount(privateKey), chainId: deployment.chainId }
    const { sha256: modelHash } = await uploadBlob({
      serverUrl: flags.server,
      bytes: model,
      kind: 'model',
      public: Boolean(flags.publicModel),
      credentials,
    })
    const { sha256: inputHash } = await uploadBlob({ serverUrl: flags.server, bytes: input, kind: 'input', credentials })
    const spec = {
      serverUrl: flags.server,
      rpcUrl: flags.rpc,
      deployment,
      privateKey,
      modelHash,
      inputHash,
      units: BigInt(tensor.dims[0]),
      maxPricePerUnit,
      redundancy,
      verification,
      outputTolerance,
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

const quoteSettings = [
  'server',
  'input',
  'units',
  'maxPrice',
  { name: 'redundancy', default: '2', description: 'providers that must agree in the redundant quote (2 to 16)' },
] as const

settingsCommand(
  job,
  'quote',
  'what a job would cost run redundant (k providers agree) and optimistic (one run, spot-checked), and whether it would be matched now',
  quoteSettings,
).action(async (_options, command: Command) => {
  const config = resolveSettings(command, quoteSettings)
  const { redundancy } = jobVerificationOf({ verification: 'redundant', redundancy: config.redundancy })
  const units = await quoteUnitsOf(config)
  const { quoteJob } = await import('../client/quoteJob.ts')
  const quote = await quoteJob({ serverUrl: config.server, units, maxPricePerUnit: config.maxPrice, redundancy })
  const show = (mode: typeof quote.redundant) => ({
    ...mode,
    pricePerUnit: mode.pricePerUnit?.toString() ?? null,
    fees: mode.fees?.toString() ?? null,
    escrow: mode.escrow.toString(),
    cost: mode.cost?.toString() ?? null,
  })
  console.log(JSON.stringify({ units: units.toString(), redundant: show(quote.redundant), optimistic: show(quote.optimistic) }))
})

/** A quote's units: the rows of `--input`, or `--units`; one of the two. */
async function quoteUnitsOf(config: { input?: string; units?: number }): Promise<bigint> {
  if (config.input !== undefined && config.units !== undefined) throw new ConfigError('give --input or --units, not both')
  if (config.input !== undefined) {
    const { decodeTensorBlob } = await import('../protocol/tensorBlob.ts')
    const input = await readFile(config.input).catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError(`--input ${config.input}: ${error.code === 'ENOENT' ? 'no such file' : (error.code ?? error.message)}`)
    })
    try {
      return BigInt(decodeTensorBlob(input).dims[0])
    } catch (error) {
      throw new ConfigError(`--input ${config.input} is not a tensor blob: ${(error as Error).message}`)
    }
  }
  if (config.units === undefined) throw new ConfigError('give --units <n> or --input <file> (whose rows are the units)')
  return BigInt(config.units)
}

const gateway = program
  .command('gateway')
  .description("the job gateway: deposit TSR to the server's key, submit signed jobs it pays from your balance, withdraw")

/** The settings and key of a gateway command, and the deployment it signs for. */
async function gatewayContext<const S extends readonly CommandSetting[]>(command: Command, list: S) {
  const config = resolveSettings(command, list)
  const privateKey = requiredAccountKey(config, `gateway ${command.name()}`)
  const { fetchDeployment } = await import('../client/serverClient.ts')
  return { config, privateKey, deployment: await fetchDeployment({ serverUrl: (config as { server: string }).server }) }
}

/** A gateway request as JSON: amounts and ids as decimal strings. */
function requestJson(request: GatewayRequest) {
  return { ...request, nonce: request.nonce.toString(), amount: request.amount.toString(), jobId: request.jobId?.toString() ?? null }
}

const depositSettings = [...requesterSettings, { name: 'amount', description: 'TSR to deposit (required)' }, 'wait'] as const
settingsCommand(gateway, 'deposit', 'transfer TSR to the gateway and wait until it counts toward your balance', depositSettings).action(
  async (_options, command: Command) => {
    const { config, deployment, privateKey } = await gatewayContext(command, depositSettings)
    if (config.amount === undefined) throw new ConfigError('--amount <tsr> is required: the TSR to deposit')
    const amount = config.amount
    const { depositToGateway, readGatewayAccount, waitForGatewayDeposit } = await import('../client/gateway.ts')
    const context = { serverUrl: config.server, deployment, privateKey }
    const before = config.wait ? await readGatewayAccount({ ...context, first: 1 }) : undefined
    const { txHash } = await depositToGateway({ rpcUrl: config.rpc, deployment, privateKey, amount })
    if (!before) return printJson({ txHash, amount })
    progress(`deposited in ${txHash}; waiting for the gateway to count it…`)
    const account = await waitForGatewayDeposit({ ...context, deposited: before.deposited + amount })
    printJson({ txHash, amount, balance: account.balance })
  },
)

const balanceSettings = [...requesterSettings, 'requests'] as const
settingsCommand(
  gateway,
  'balance',
  'your gateway balance (deposited + refunded − held − withdrawn) and recent requests',
  balanceSettings,
).action(async (_options, command: Command) => {
  const { config, deployment, privateKey } = await gatewayContext(command, balanceSettings)
  const { readGatewayAccount } = await import('../client/gateway.ts')
  const account = await readGatewayAccount({ serverUrl: config.server, deployment, privateKey, first: config.requests })
  printJson({ ...account, requests: account.requests.map(requestJson) })
})

const gatewayWithdrawSettings = [...requesterSettings, { name: 'amount', description: 'TSR to withdraw (required)' }] as const
settingsCommand(gateway, 'withdraw', 'pay TSR from your gateway balance back to your address', gatewayWithdrawSettings).action(
  async (_options, command: Command) => {
    const { config, deployment, privateKey } = await gatewayContext(command, gatewayWithdrawSettings)
    if (config.amount === undefined) throw new ConfigError('--amount <tsr> is required: the TSR to withdraw')
    const amount = config.amount
    const { waitForGatewayRequest, withdrawFromGateway } = await import('../client/gateway.ts')
    const request = await withdrawFromGateway({ serverUrl: config.server, deployment, privateKey, amount })
    progress(`gateway request ${request.id} ${request.status.toLowerCase()}; waiting for the transfer…`)
    const done = await waitForGatewayRequest({ serverUrl: config.server, id: request.id })
    printJson({ txHash: done.txHash, amount, gatewayRequest: request.id })
  },
)

const gatewayCancelSettings = [...requesterSettings, { name: 'job', description: 'job id (required)' }] as const
settingsCommand(
  gateway,
  'cancel',
  'cancel one of your gateway jobs while it is still open; its escrow returns to your balance (`tessera job cancel` does either kind)',
  gatewayCancelSettings,
).action(async (_options, command: Command) => {
  const { config, deployment, privateKey } = await gatewayContext(command, gatewayCancelSettings)
  if (config.job === undefined) throw new ConfigError('--job <id> is required: the job to cancel')
  const jobId = config.job
  const { cancelViaGateway, waitForGatewayRequest } = await import('../client/gateway.ts')
  const request = await cancelViaGateway({ serverUrl: config.server, deployment, privateKey, jobId })
  progress(`gateway request ${request.id} ${request.status.toLowerCase()}; waiting for the cancel…`)
  const done = await waitForGatewayRequest({ serverUrl: config.server, id: request.id })
  printJson({ jobId, txHash: done.txHash, gatewayRequest: request.id })
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

const simulateSettings = [
  'scenario',
  'years',
  'seed',
  'interval',
  { name: 'economicsOut', description: 'folder for the CSV, the SVG charts and report.md' },
] as const

addSettingOptions(
  economics
    .command('simulate')
    .description("run a scenario of ECONOMICS.md (or all): write each run's CSV, SVG charts and report.md with its bars' verdicts"),
  simulateSettings,
).action(async (_options, command: Command) => {
  const config = resolveSettings(command, simulateSettings)
  const { runScenario, scenarioIds } = await import('../economics/simulation/scenarios.ts')
  const ids = scenarioSetting(config.scenario, '--scenario', scenarioIds)
  const years = wholeNumber(config.years, '--years', 1, 100)
  const seed = wholeNumber(config.seed, '--seed', 0, 2 ** 32 - 1)
  const interval = intervalSetting(config.interval, '--interval')
  const out = await outDirSetting(config.economicsOut, '--out', 'TESSERA_ECONOMICS_OUT')
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

const sweepSettings = [
  'kappa',
  'takeBps',
  'halfLife',
  'stepUp',
  'stepDown',
  'baseAvailability',
  'phiMin',
  'stakePerUnit',
  'minTake',
  'scenarios',
  { name: 'years', description: 'horizon in years' },
  { name: 'seed', description: 'random seed' },
  { name: 'economicsOut', description: 'folder for sweep.md and sweep.csv' },
] as const

addSettingOptions(
  economics
    .command('sweep')
    .description('run the scenarios at every point of a parameter grid (the product of the lists given) and tabulate which pass'),
  sweepSettings,
).action(async (_options, command: Command) => {
  const config = resolveSettings(command, sweepSettings)
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
  const out = await outDirSetting(config.economicsOut, '--out', 'TESSERA_ECONOMICS_OUT')
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

const reportSettings = [
  'server',
  'from',
  'to',
  { name: 'interval', default: 'EPOCH', description: 'what a point spans: EPOCH, D7 or D30' },
  { name: 'economicsOut', description: 'folder for emissions.csv, the SVG charts and report.md' },
] as const

addSettingOptions(
  economics
    .command('report')
    .description("chart the live server's emissionsVsUsage: the simulated runs' charts, its CSV and report.md with the range's totals"),
  reportSettings,
).action(async (_options, command: Command) => {
  const config = resolveSettings(command, reportSettings)
  const url = URL.parse('/graphql', config.server)
  if (!url) throw new ConfigError(`--server must be a URL, got ${JSON.stringify(config.server)}`)
  const epoch = (value: string | undefined, flag: string) =>
    value === undefined ? undefined : BigInt(wholeNumber(value, flag, 0, Number.MAX_SAFE_INTEGER))
  const from = epoch(config.from, '--from')
  const to = epoch(config.to, '--to')
  if (from !== undefined && to !== undefined && from > to) throw new ConfigError(`--from must be ≤ --to, got --from ${from} --to ${to}`)
  const interval = intervalSetting(config.interval, '--interval')
  const out = await outDirSetting(config.economicsOut, '--out', 'TESSERA_ECONOMICS_OUT')
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

addJobCommands(job)
addProviderCommands(
  program
    .command('provider')
    .description("a provider's account without running an agent: status, register, stake, unstake, withdraw earnings, claim rewards"),
)
addModelsCommands(program.command('models').description('the models the repository builds in code'))
addServiceCommands(program)

program.parseAsync().catch((error) => {
  const { lines, exitCode } = explainError(error)
  for (const line of lines) console.error(line)
  process.exit(exitCode)
})
