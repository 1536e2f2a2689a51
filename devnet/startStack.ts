import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { type Address, type Hex, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { runAgent } from '../agent/runAgent.ts'
import { buildContracts } from '../contracts/build.ts'
import { deployAll } from '../contracts/deploy.ts'
import { startIndexer } from '../indexer/startIndexer.ts'
import type { Deployment } from '../protocol/deployment.ts'
import { describeDatabaseUrl, ensureDatabase } from '../server/db/ensureDatabase.ts'
import type { ChallengeIssuerOptions } from '../server/leader/challengeIssuer.ts'
import { type StartServerParameters, startServer } from '../server/startServer.ts'
import { devKeys } from './devAccounts.ts'
import { DevnetError } from './devnetError.ts'
import { fund } from './fund.ts'
import { devnetBlockGasLimit, startAnvil } from './startAnvil.ts'
import { startEmbeddedPostgres } from './startPostgres.ts'

/**
 * One local provider agent the stack starts; `lie`: whether (or on what fraction of jobs) it alters its outputs;
 * `payoutIntervalMs` and `minWithdraw`: its payouts (runAgent's; absent: none, so tests see the balances they made).
 */
export type StackAgent = { privateKey: Hex; pricePerUnit: bigint; lie?: boolean | number; payoutIntervalMs?: number; minWithdraw?: bigint }

export type StartStackParameters = {
  /** Where Postgres data, blobs and agent journals live (`.tessera` for `tessera dev`). */
  dataDir: string
  /** Use this Postgres instead of starting the embedded one. */
  databaseUrl?: string
  /** Port for the embedded Postgres. */
  postgresPort: number
  /** Port for anvil. */
  rpcPort: number
  ponderPort: number
  serverPort: number
  agents: StackAgent[]
  /** TSR the deployer sends each requester key. */
  requesters?: Hex[]
  /** Provider keys funded like the agents' without starting an agent (for `tessera agent` by hand). */
  spareProviders?: Hex[]
  /** Seconds per devnet epoch. */
  epochLength?: number
  /** Seconds JobMarket's proof window stays open after reveals that differ (devnet default 30). */
  proofWindow?: number
  /** Largest blob the server accepts. */
  maxBlobBytes?: number
  /** Blocks deep the leader watches its transactions (the server's default when absent). */
  leaderConfirmations?: number
  /** Most jobs the leader assigns or keeps per transaction (the server's default when absent; 1: a transaction per job). */
  leaderBatch?: number
  /**
   * The leader's known-answer challenge jobs (server/leader/challengeIssuer.ts), on by default (a round each emission
   * epoch); `false` turns them off. While on, the server key is funded with TSR to pay them like a requester.
   */
  challenges?: ChallengeIssuerOptions | false
  log: Logger
}

/** Everything `startStack` started, and one `stop` that ends it all in reverse order. */
export type Stack = {
  serverUrl: string
  graphqlUrl: string
  rpcUrl: string
  databaseUrl: string
  deployment: Deployment
  deploymentPath: string
  agents: { address: Address; stop: () => Promise<void> }[]
  /**
   * Holds the indexer back without stopping it (its process paused, SIGSTOP), so the index trails the chain as a slow
   * indexer's would; returns what lets it go on (SIGCONT).
   */
  holdIndexer: () => () => void
  /**
   * Stops the server (and with it the leader, its in-memory state lost as in a crash) and starts it again on the same
   * port and database; agents reconnect on their own. What a replica dying and coming back looks like to the rest.
   * `whileDown`, when given, runs between the stop and the start: an outage as long as it takes.
   */
  restartServer: (whileDown?: () => Promise<void>) => Promise<void>
  stop: () => Promise<void>
}

/**
 * Boots the whole marketplace: Postgres, anvil, contracts, Ponder, the server (with the leader) and agents.
 * Each step that fails stops what was already started before rethrowing, so nothing is left running.
 */
export async function startStack(parameters: StartStackParameters): Promise<Stack> {
  const { log, dataDir } = parameters
  const challenges = parameters.challenges ?? {}
  const stops: { name: string; stop: () => Promise<void> }[] = []
  const stopAll = async () => {
    for (const { name, stop } of stops.reverse()) {
      const started = Date.now()
      try {
        await stop()
        log.info({ part: name, ms: Date.now() - started }, 'part stopped')
      } catch (error) {
        log.warn({ part: name, err: error }, 'stop failed')
      }
    }
    stops.length = 0
  }
  try {
    await assertPortsFree([
      ...(parameters.databaseUrl
        ? []
        : [{ port: parameters.postgresPort, what: 'embedded Postgres (--postgres-port, TESSERA_POSTGRES_PORT)' }]),
      { port: parameters.rpcPort, what: 'anvil (--rpc-port, TESSERA_RPC_PORT)' },
      { port: parameters.ponderPort, what: 'the indexer (--indexer-port, TESSERA_INDEXER_PORT)' },
      { port: parameters.serverPort, what: 'the GraphQL server (--server-port, TESSERA_SERVER_PORT)' },
    ])
    // Before the chain starts: a wrong DATABASE_URL fails now, not after the deployment; a missing database is made.
    if (parameters.databaseUrl) {
      const { created } = await ensureDatabase({
        databaseUrl: parameters.databaseUrl,
        create: true,
        setBy: '--database-url or DATABASE_URL',
      })
      if (created) log.info({ database: describeDatabaseUrl(parameters.databaseUrl) }, 'database created')
    }
    await mkdir(dataDir, { recursive: true })

    let databaseUrl = parameters.databaseUrl
    if (!databaseUrl) {
      const postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: parameters.postgresPort })
      stops.push({ name: 'postgres', stop: postgres.stop })
      databaseUrl = postgres.url
    }
    log.info({ databaseUrl: redactUrl(databaseUrl) }, 'postgres ready')

    const anvil = await startAnvil({ port: parameters.rpcPort, blockTime: 1, gasLimit: devnetBlockGasLimit })
    stops.push({ name: 'anvil', stop: anvil.stop })
    log.info({ rpcUrl: anvil.rpcUrl }, 'anvil ready')

    await buildContracts({})
    const deploymentPath = path.join(dataDir, 'deployments', `${31337}.json`)
    const deployment = await deployAll({
      rpcUrl: anvil.rpcUrl,
      deployerKey: devKeys[0],
      matcher: privateKeyToAccount(devKeys[1]).address,
      params: {
        emission: parameters.epochLength ? { epochLength: BigInt(parameters.epochLength) } : {},
        market: parameters.proofWindow ? { proofWindow: BigInt(parameters.proofWindow) } : {},
      },
      out: deploymentPath,
    })
    log.info({ contracts: Object.fromEntries(Object.entries(deployment.contracts).map(([k, v]) => [k, v.address])) }, 'contracts deployed')

    await fund({
      rpcUrl: anvil.rpcUrl,
      token: deployment.contracts.TesseraToken.address,
      to: [
        ...[...parameters.agents.map((a) => a.privateKey), ...(parameters.spareProviders ?? [])].map((key) => ({
          address: privateKeyToAccount(key).address,
          amount: parseEther('10000'),
        })),
        ...(parameters.requesters ?? []).map((k) => ({ address: privateKeyToAccount(k).address, amount: parseEther('1000000') })),
        // The challenge issuer (the server key) pays escrow and challenge bonds like any requester.
        ...(challenges ? [{ address: privateKeyToAccount(devKeys[1]).address, amount: parseEther('1000000') }] : []),
      ],
    })

    // Every run is a fresh chain, so a fresh Ponder schema; the dev database serves only this deployment.
    const viewsSchema = 'chain'
    const indexer = await startIndexer({
      databaseUrl,
      rpcUrl: anvil.rpcUrl,
      deploymentPath,
      viewsSchema,
      port: parameters.ponderPort,
      pruneOtherSchemas: true,
      log: (line) => log.debug({ part: 'ponder' }, line),
    })
    const { schema } = indexer
    stops.push({ name: 'ponder', stop: indexer.stop })
    log.info({ url: indexer.url, schema, prunedSchemas: indexer.prunedSchemas }, 'indexer ready')

    const serverOptions: StartServerParameters = {
      databaseUrl,
      viewsSchema,
      rpcUrl: anvil.rpcUrl,
      deployment,
      serverKey: devKeys[1],
      port: parameters.serverPort,
      dataDir: path.join(dataDir, 'server'),
      redisUrl: process.env.REDIS_URL,
      maxBlobBytes: parameters.maxBlobBytes,
      leader: true,
      confirmations: parameters.leaderConfirmations,
      batchSize: parameters.leaderBatch,
      // The first round waits for every agent of the stack, so none starts with only the first one up.
      challenges: challenges ? { minProviders: parameters.agents.length, ...challenges } : undefined,
      indexerState: indexer.state,
      // The dashboard may sign with anvil's well-known keys, through anvil itself.
      web: { publicRpcUrl: anvil.rpcUrl, devnet: true },
      log: log.child({ part: 'server' }),
    }
    let server = await startServer(serverOptions)
    stops.push({ name: 'server', stop: () => server.stop() })
    log.info({ url: server.url }, 'server ready')

    const agents: Stack['agents'] = []
    for (const [i, agent] of parameters.agents.entries()) {
      const address = privateKeyToAccount(agent.privateKey).address
      const handle = await runAgent({
        privateKey: agent.privateKey,
        serverUrl: server.url,
        rpcUrl: anvil.rpcUrl,
        dataDir: path.join(dataDir, 'agents', `${schema}-${address.toLowerCase()}`),
        pricePerUnit: agent.pricePerUnit,
        lie: agent.lie,
        payoutIntervalMs: agent.payoutIntervalMs,
        minWithdraw: agent.minWithdraw,
        log: log.child({ part: `agent${i + 1}` }),
      })
      stops.push({ name: `agent${i + 1}`, stop: handle.stop })
      agents.push({ address, stop: handle.stop })
    }
    log.info({ agents: agents.map((a) => a.address) }, 'agents running')

    return {
      serverUrl: server.url,
      graphqlUrl: new URL('/graphql', server.url).toString(),
      rpcUrl: anvil.rpcUrl,
      databaseUrl,
      deployment,
      deploymentPath,
      agents,
      holdIndexer() {
        indexer.process.kill('SIGSTOP')
        return () => void indexer.process.kill('SIGCONT')
      },
      async restartServer(whileDown) {
        const port = Number(new URL(server.url).port)
        await server.stop()
        await whileDown?.()
        server = await startServer({ ...serverOptions, port })
        log.info({ url: server.url }, 'server restarted')
      },
      stop: stopAll,
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}

/** Fails before anything starts when a port is taken, naming what wanted it and the variable that moves it. */
async function assertPortsFree(ports: { port: number; what: string }[]) {
  const { createServer } = await import('node:net')
  for (const { port, what } of ports) {
    if (!port) continue
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const probe = createServer()
      probe.once('error', (e: NodeJS.ErrnoException) => resolve(e))
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(undefined)))
    })
    if (error?.code === 'EADDRINUSE')
      throw new DevnetError(
        `port ${port} for ${what} is already in use: is another \`tessera dev\` running? Stop it or choose another port`,
      )
    if (error) throw error
  }
}

function redactUrl(url: string) {
  const u = new URL(url)
  if (u.password) u.password = '***'
  return u.toString()
}
