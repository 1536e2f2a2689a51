import path from 'node:path'
import type { Command } from 'commander'
import type { Address, Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { devKeys } from '../devnet/devAccounts.ts'
import { devnetChainId } from '../protocol/chain.ts'
import {
  accountKey,
  ConfigError,
  commandLogger,
  describeConfig,
  exitAfterFlush,
  progress,
  resolveSettings,
  type SettingSource,
  settingsCommand,
  sourceOf,
} from './config.ts'
import { waitForSignal } from './waitForSignal.ts'

/** How a database URL is set, for messages. */
const databaseUrlSetBy = (source: SettingSource | undefined) => `${source?.name ?? '--database-url'} (--database-url, DATABASE_URL)`

/** Checks the database before anything starts, creating it unless --no-create-database. */
async function checkDatabase(config: { databaseUrl: string; createDatabase: boolean }, source: SettingSource | undefined) {
  const { ensureDatabase } = await import('../server/db/ensureDatabase.ts')
  return ensureDatabase({ databaseUrl: config.databaseUrl, create: config.createDatabase, setBy: databaseUrlSetBy(source) })
}

const serverSettings = [
  'databaseUrl',
  'createDatabase',
  'rpc',
  'chainId',
  'deployment',
  'viewsSchema',
  'serverPort',
  'serverHost',
  'serverDomain',
  { name: 'dataDir', description: 'data directory: the server keeps its blobs in <dir>/server (replicas share it)' },
  'serverKeyFile',
  'serverKey',
  'redisUrl',
  'maxBlobBytes',
  'leader',
  'leaderConfirmations',
  'challengeEpochs',
  'webDir',
  'publicRpcUrl',
] as const

const indexerSettings = [
  'databaseUrl',
  'createDatabase',
  'rpc',
  'chainId',
  'deployment',
  'viewsSchema',
  'ponderSchema',
  'indexerPort',
] as const

const deploySettings = [
  'rpc',
  { name: 'keyFile', description: 'file holding the deployer’s private key (or TESSERA_PRIVATE_KEY; on the devnet default dev account 0)' },
  'privateKey',
  'matcher',
  { name: 'deployment', description: 'where to write the deployment file (default contracts/deployments/<the RPC’s chain id>.json)' },
  'epochLength',
] as const

/** Adds `tessera server`, `tessera indexer` and `tessera deploy`: the start functions the dev stack uses, on their own. */
export function addServiceCommands(program: Command): void {
  settingsCommand(
    program,
    'server',
    'run one GraphQL server replica: API, blobs, the job gateway and (as leader) the matcher and keeper; as many as you like on one database',
    serverSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, serverSettings)
    if (!config.databaseUrl) throw new ConfigError('--database-url (or DATABASE_URL) is required: the database the indexer writes to')
    const databaseUrl = config.databaseUrl
    const serverKey = accountKey(config, 'server')
    // serverConfigFromEnv stays the one reader of a replica's settings; it is handed the table's, flags and file included.
    const env: NodeJS.ProcessEnv = { ...process.env }
    const set = (name: string, value: string | number | boolean | undefined) => {
      if (value === undefined) delete env[name]
      else env[name] = String(value)
    }
    set('DATABASE_URL', config.databaseUrl)
    set('TESSERA_VIEWS_SCHEMA', config.viewsSchema)
    set('TESSERA_RPC_URL', config.rpc)
    set('TESSERA_DEPLOYMENT', config.deployment)
    set('TESSERA_SERVER_KEY', serverKey)
    set('TESSERA_SERVER_KEY_FILE', undefined)
    set('TESSERA_SERVER_PORT', config.serverPort)
    set('TESSERA_SERVER_HOST', config.serverHost)
    set('TESSERA_SERVER_DOMAIN', config.serverDomain)
    set('TESSERA_DATA_DIR', path.join(config.dataDir, 'server'))
    set('REDIS_URL', config.redisUrl)
    set('TESSERA_MAX_BLOB_BYTES', config.maxBlobBytes)
    set('TESSERA_LEADER', config.leader)
    set('TESSERA_LEADER_CONFIRMATIONS', config.leaderConfirmations)
    set('TESSERA_WEB_DIR', config.webDir)
    set('TESSERA_PUBLIC_RPC_URL', config.publicRpcUrl)
    const { serverConfigFromEnv } = await import('../server/serverConfigFromEnv.ts')
    const serverConfig = serverConfigFromEnv(env)
    const log = commandLogger(command, 'tessera-server')
    log.info({ config: describeConfig(config) }, 'effective config')
    try {
      const { created } = await checkDatabase({ ...config, databaseUrl }, sourceOf(config, 'databaseUrl'))
      if (created) log.info('database created')
      const { startServer } = await import('../server/startServer.ts')
      const server = await startServer({
        ...serverConfig,
        challenges: config.challengeEpochs ? { epochsPerRound: config.challengeEpochs } : undefined,
        log,
      })
      log.info({ url: server.url, graphql: `${server.url}/graphql` }, 'server ready')
      await waitForSignal()
      log.info('stopping')
      await server.stop()
    } catch (error) {
      log.fatal({ err: error }, 'server failed to start')
      await exitAfterFlush(log, 1)
    }
    await exitAfterFlush(log)
  })

  settingsCommand(
    program,
    'indexer',
    'run the Ponder indexer of one deployment: every contract event into Postgres, read by the servers through its views schema',
    indexerSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, indexerSettings)
    const log = commandLogger(command, 'tessera-indexer')
    if (!config.databaseUrl) throw new ConfigError('--database-url (or DATABASE_URL) is required: the database to index into')
    const { created } = await checkDatabase({ ...config, databaseUrl: config.databaseUrl }, sourceOf(config, 'databaseUrl'))
    if (created) log.info('database created')
    const { startIndexer } = await import('../indexer/startIndexer.ts')
    const indexer = await startIndexer({
      databaseUrl: config.databaseUrl,
      rpcUrl: config.rpc,
      deploymentPath: config.deployment,
      chainId: sourceOf(config, 'chainId')?.kind === 'default' ? undefined : config.chainId,
      schema: config.ponderSchema,
      viewsSchema: config.viewsSchema,
      port: config.indexerPort,
      log: (line) => log.debug({ part: 'ponder' }, line),
    })
    log.info({ url: indexer.url, schema: indexer.schema, viewsSchema: config.viewsSchema }, 'indexer ready')
    const exited = new Promise<number>((resolve) => indexer.process.once('exit', (code) => resolve(code ?? 1)))
    const ended = await Promise.race([waitForSignal().then(() => 'signal' as const), exited])
    if (ended === 'signal') {
      log.info('stopping')
      await indexer.stop()
      await exitAfterFlush(log)
    }
    log.error({ code: ended, lastError: indexer.state().lastError }, 'the indexer exited')
    await exitAfterFlush(log, typeof ended === 'number' && ended !== 0 ? ended : 1)
  })

  settingsCommand(
    program,
    'deploy',
    'compile (when the sources changed) and deploy the seven contracts, wire them and write the deployment file; prints it',
    deploySettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, deploySettings)
    const { createPublicClient, http } = await import('viem')
    const chainId = await createPublicClient({ transport: http(config.rpc) }).getChainId()
    const devnet = chainId === devnetChainId
    const deployerKey: Hex | undefined = accountKey(config) ?? (devnet ? devKeys[0] : undefined)
    if (!deployerKey)
      throw new ConfigError(`chain ${chainId} is not the devnet: give the deployer's key (--key-file or TESSERA_PRIVATE_KEY)`)
    const matcher: Address | undefined = config.matcher ?? (devnet ? privateKeyToAccount(devKeys[1]).address : undefined)
    if (!matcher) throw new ConfigError(`chain ${chainId} is not the devnet: give --matcher <the server key's address>`)
    const { deployAll, deploymentFileOf } = await import('../contracts/deploy.ts')
    const out = sourceOf(config, 'deployment')?.kind === 'default' ? deploymentFileOf(chainId) : config.deployment
    const { buildContracts } = await import('../contracts/build.ts')
    // Quiet: stdout is the deployment file alone.
    const built = await buildContracts({ quiet: true })
    if (!built.skipped) progress(`compiled ${built.contracts.length} contracts`)
    progress(`deploying to chain ${chainId} at ${config.rpc} from ${privateKeyToAccount(deployerKey).address}…`)
    const deployment = await deployAll({
      rpcUrl: config.rpc,
      deployerKey,
      matcher,
      params: { emission: { epochLength: BigInt(config.epochLength) } },
      out,
    })
    const { stringifyDeployment } = await import('../protocol/deployment.ts')
    progress(`wrote ${out}`)
    process.stdout.write(stringifyDeployment(deployment))
  })
}
