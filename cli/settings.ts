import path from 'node:path'
import { type Address, getAddress, type Hex, isAddress, parseEther } from 'viem'
import { devnetChainId } from '../protocol/chain.ts'
import { type JobStatusName, jobStatusNames } from '../protocol/enums.ts'
import { TesseraError } from '../protocol/errors.ts'

/** A flag, variable or config-file value that can't be used. Not retryable: the message names where it came from. */
export class ConfigError extends TesseraError {
  override name = 'ConfigError'
}

/** What a derived default may read: another setting's text, resolved with the same precedence. */
export type SettingLookup = (name: string) => string | undefined

/**
 * One setting of the `tessera` command, defined once for every command that reads it. Its config-file key is its
 * name in {@link settings}. Operands of a single invocation (a job id, a file to write) have a flag and no variable.
 */
export type Setting<T> = {
  /** commander syntax: `--server <url>`, `--direct`, `--no-demo`; none for a setting read only from env or file. */
  flag?: string
  /** The `TESSERA_*` variable (or the conventional name every tool reads: `DATABASE_URL`, `REDIS_URL`). */
  env?: string
  /** Other variables read without a warning: the same value under a name another tool also reads. */
  aliasEnv?: readonly string[]
  /** Older variables still read, each with a warning naming the new one. */
  deprecatedEnv?: readonly string[]
  /** Older flags still taken (hidden from --help), each with a warning naming the new one. */
  deprecatedFlags?: readonly string[]
  /** Older config-file keys still read, each with a warning. */
  deprecatedKeys?: readonly string[]
  /** Text parsed like any other value; a function derives it from other settings (the dev stack's ports). */
  default?: string | ((lookup: SettingLookup) => string | undefined)
  description: string
  /** Never printed: `--print-config` shows `***`, errors never echo it. */
  secret?: boolean
  /** Turns the text into the value, or throws a {@link ConfigError} naming `from` (the flag, variable or file key). */
  parse: (text: string, from: string) => T
}

// ---------------------------------------------------------------- parsers

/** The text quoted for a message, or `(hidden)` for a secret. */
const shown = (text: string) => JSON.stringify(text)

const text = (value: string, from: string): string => {
  if (value.trim() === '') throw new ConfigError(`${from} must not be empty`)
  return value
}

/** An http(s) URL. */
export const httpUrl = (value: string, from: string): string => {
  const url = URL.parse(value.trim())
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new ConfigError(`${from} must be an http:// or https:// URL, got ${shown(value)}`)
  return value.trim().replace(/\/+$/, '')
}

/** A Postgres URL; never echoed, since it may hold a password. */
const postgresUrl = (value: string, from: string): string => {
  const url = URL.parse(value.trim())
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:'))
    throw new ConfigError(`${from} must be a postgres:// URL (its value is not shown: it may hold a password)`)
  return value.trim()
}

/** A redis:// URL; never echoed. */
const redisUrl = (value: string, from: string): string => {
  const url = URL.parse(value.trim())
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:'))
    throw new ConfigError(`${from} must be a redis:// or rediss:// URL (its value is not shown: it may hold a password)`)
  return value.trim()
}

/** A whole number from `min` to `max`. */
export const wholeNumber =
  (min: number, max: number) =>
  (value: string, from: string): number => {
    const n = Number(value.trim())
    if (!/^\d+$/.test(value.trim()) || n < min || n > max)
      throw new ConfigError(`${from} must be a whole number from ${min} to ${max}, got ${shown(value)}`)
    return n
  }

const port = (value: string, from: string): number => {
  const n = Number(value.trim())
  if (!/^\d+$/.test(value.trim()) || n > 65_535) throw new ConfigError(`${from} must be a port number (0 to 65535), got ${shown(value)}`)
  return n
}

/** A number of seconds ≥ 0 (fractions allowed). */
const seconds = (value: string, from: string): number => {
  const n = Number(value.trim())
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new ConfigError(`${from} must be a number of seconds ≥ 0, got ${shown(value)}`)
  return n
}

/** A number of seconds from 0.01 to 60 (fractions allowed): an interval something is polled at. */
const pollSeconds = (value: string, from: string): number => {
  const n = Number(value.trim())
  if (value.trim() === '' || !Number.isFinite(n) || n < 0.01 || n > 60)
    throw new ConfigError(`${from} must be a number of seconds from 0.01 to 60, got ${shown(value)}`)
  return n
}

/** A fraction from 0 to 1. */
const fraction = (value: string, from: string): number => {
  const n = Number(value.trim())
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new ConfigError(`${from} must be a fraction from 0 to 1, got ${shown(value)}`)
  return n
}

const tsrPattern = /^\d+(\.\d{1,18})?$/

/** An amount of TSR ≥ 0, up to 18 decimals, in wei. */
export const tsr = (value: string, from: string): bigint => {
  if (!tsrPattern.test(value.trim())) throw new ConfigError(`${from} must be an amount of TSR ≥ 0 (up to 18 decimals), got ${shown(value)}`)
  return parseEther(value.trim())
}

/** An amount of TSR above 0, in wei. */
export const positiveTsr = (value: string, from: string): bigint => {
  const amount = tsrPattern.test(value.trim()) ? parseEther(value.trim()) : 0n
  if (amount <= 0n) throw new ConfigError(`${from} must be an amount of TSR above 0 (up to 18 decimals), got ${shown(value)}`)
  return amount
}

/** true / false (also yes / no, 1 / 0, on / off). */
const bool = (value: string, from: string): boolean => {
  const v = value.trim().toLowerCase()
  if (['true', 'yes', '1', 'on'].includes(v)) return true
  if (['false', 'no', '0', 'off'].includes(v)) return false
  throw new ConfigError(`${from} must be true or false, got ${shown(value)}`)
}

const oneOf =
  <const T extends string>(choices: readonly T[]) =>
  (value: string, from: string): T => {
    const found = choices.find((c) => c === value.trim().toLowerCase() || c === value.trim().toUpperCase() || c === value.trim())
    if (!found) throw new ConfigError(`${from} must be one of ${choices.join(', ')}, got ${shown(value)}`)
    return found
  }

/** A private key: 0x and 64 hex digits. Never echoed. */
export const privateKey = (value: string, from: string): Hex => {
  const key = value.trim()
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new ConfigError(`${from} is not a private key (0x and 64 hex digits; its value is not shown)`)
  return key as Hex
}

/** A key file's path: refused when the text is a key itself, which must not go on a command line. */
const keyFilePath = (value: string, from: string): string => {
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(value.trim()))
    throw new ConfigError(
      `${from} takes the path of a file holding the key, not the key: a key on the command line shows in \`ps\` and shell history (not echoed here)`,
      { metaMessages: ['Write the key to a file (chmod 600) and give its path, or set TESSERA_PRIVATE_KEY.'] },
    )
  return text(value, from)
}

const address = (value: string, from: string): Address => {
  if (!isAddress(value.trim(), { strict: false }))
    throw new ConfigError(`${from} must be an address (0x and 40 hex digits), got ${shown(value)}`)
  return getAddress(value.trim())
}

/** A job id: a whole number. */
export const jobId = (value: string, from: string): bigint => {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${from} must be a job id (a whole number), got ${shown(value)}`)
  return BigInt(value.trim())
}

const jobStatus = (value: string, from: string): JobStatusName => oneOf(jobStatusNames)(value.toUpperCase(), from)

// ---------------------------------------------------------------- the table

const localhost = (portSetting: 'serverPort' | 'rpcPort') => (lookup: SettingLookup) => `http://127.0.0.1:${lookup(portSetting)}`

/**
 * Every setting of every `tessera` command. A command names the ones it reads (`settingsCommand`); each is read with
 * the precedence flag > variable > `--config` file > default, and parsed and checked before the command does anything.
 */
export const settings = {
  // -------------------------------------------------------------- every command
  logLevel: {
    flag: '--log-level <level>',
    env: 'TESSERA_LOG_LEVEL',
    default: 'info',
    description: 'trace | debug | info | warn | error | silent',
    parse: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  },
  logFormat: {
    flag: '--log-format <format>',
    env: 'TESSERA_LOG_FORMAT',
    default: 'pretty',
    description: 'pretty | json',
    parse: oneOf(['pretty', 'json']),
  },

  // -------------------------------------------------------------- where the marketplace is
  server: {
    flag: '--server <url>',
    env: 'TESSERA_SERVER_URL',
    default: localhost('serverPort'),
    description: 'Tessera server URL (default: the dev stack’s, http://127.0.0.1:<server port>)',
    parse: httpUrl,
  },
  rpc: {
    flag: '--rpc <url>',
    env: 'TESSERA_RPC_URL',
    default: localhost('rpcPort'),
    description: 'chain RPC URL (default: the dev stack’s anvil, http://127.0.0.1:<rpc port>)',
    parse: httpUrl,
  },
  privateKey: {
    env: 'TESSERA_PRIVATE_KEY',
    secret: true,
    description: 'the account’s private key (0x…); prefer --key-file',
    parse: (value: string, from: string): Hex | { file: string } =>
      value.trim().startsWith('0x') ? privateKey(value, from) : { file: text(value, from) },
  },
  keyFile: {
    flag: '--key-file <path>',
    env: 'TESSERA_KEY_FILE',
    deprecatedFlags: ['--private-key <file>'],
    description: 'file holding the account’s private key (or set TESSERA_PRIVATE_KEY; never a key on the command line)',
    parse: keyFilePath,
  },

  // -------------------------------------------------------------- the services and their ports
  serverPort: {
    flag: '--server-port <port>',
    env: 'TESSERA_SERVER_PORT',
    deprecatedEnv: ['TESSERA_PORT'],
    deprecatedFlags: ['--port <port>'],
    deprecatedKeys: ['port'],
    default: '4000',
    description: 'GraphQL server port',
    parse: port,
  },
  serverHost: {
    flag: '--host <address>',
    env: 'TESSERA_SERVER_HOST',
    default: '127.0.0.1',
    description: 'address the server binds',
    parse: text,
  },
  serverDomain: {
    flag: '--domain <host>',
    env: 'TESSERA_SERVER_DOMAIN',
    description: 'host[:port] agents reach the server at, which their heartbeats are signed for (default: each request’s Host)',
    parse: text,
  },
  webDir: {
    flag: '--web-dir <path>',
    env: 'TESSERA_WEB_DIR',
    description: 'the built dashboard the server serves at / (default web/dist, built by npm run web:build; none: no page)',
    parse: text,
  },
  publicRpcUrl: {
    flag: '--public-rpc-url <url>',
    env: 'TESSERA_PUBLIC_RPC_URL',
    description: 'a JSON-RPC URL the dashboard may send wallets’ transactions through (shown to every visitor: never one with a key)',
    parse: text,
  },
  indexerPort: {
    flag: '--indexer-port <port>',
    env: 'TESSERA_INDEXER_PORT',
    deprecatedEnv: ['TESSERA_PONDER_PORT'],
    deprecatedFlags: ['--ponder-port <port>'],
    deprecatedKeys: ['ponderPort'],
    default: '42069',
    description: 'indexer (Ponder) port',
    parse: port,
  },
  rpcPort: { flag: '--rpc-port <port>', env: 'TESSERA_RPC_PORT', default: '8545', description: 'anvil port', parse: port },
  postgresPort: {
    flag: '--postgres-port <port>',
    env: 'TESSERA_POSTGRES_PORT',
    deprecatedEnv: ['TESSERA_PG_PORT'],
    default: '54329',
    description: 'embedded Postgres port (when no --database-url)',
    parse: port,
  },
  dataDir: {
    flag: '--data-dir <dir>',
    env: 'TESSERA_DATA_DIR',
    default: '.tessera',
    description: 'data directory; each part keeps its files in a folder of its own there (pg/, server/, agent/, …)',
    parse: text,
  },
  databaseUrl: {
    flag: '--database-url <url>',
    env: 'DATABASE_URL',
    aliasEnv: ['TESSERA_DATABASE_URL'],
    secret: true,
    description: 'Postgres URL (dev: default an embedded Postgres)',
    parse: postgresUrl,
  },
  createDatabase: {
    flag: '--no-create-database',
    env: 'TESSERA_CREATE_DATABASE',
    default: 'true',
    description: 'fail, rather than create it, when the database --database-url names does not exist',
    parse: bool,
  },
  chainId: {
    flag: '--chain-id <id>',
    env: 'TESSERA_CHAIN_ID',
    default: String(devnetChainId),
    description: 'chain id: picks the default deployment file',
    parse: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  },
  deployment: {
    flag: '--deployment <file>',
    env: 'TESSERA_DEPLOYMENT',
    deprecatedFlags: ['--out <file>'],
    default: (lookup: SettingLookup) => path.join('contracts', 'deployments', `${lookup('chainId')}.json`),
    description: 'deployment file (default contracts/deployments/<chain id>.json)',
    parse: text,
  },
  viewsSchema: {
    flag: '--views-schema <name>',
    env: 'TESSERA_VIEWS_SCHEMA',
    default: 'chain',
    description: 'the indexer’s views schema',
    parse: text,
  },
  ponderSchema: {
    flag: '--ponder-schema <name>',
    env: 'TESSERA_PONDER_SCHEMA',
    description: 'Ponder’s own schema (default: one per chain, deployment and indexer code)',
    parse: text,
  },
  serverKey: { env: 'TESSERA_SERVER_KEY', secret: true, description: 'the server’s matcher/keeper key (0x…)', parse: privateKey },
  serverKeyFile: {
    flag: '--server-key-file <path>',
    env: 'TESSERA_SERVER_KEY_FILE',
    description: 'file holding the server’s matcher/keeper key (or TESSERA_SERVER_KEY; without one the leader only indexes)',
    parse: keyFilePath,
  },
  redisUrl: {
    flag: '--redis-url <url>',
    env: 'REDIS_URL',
    aliasEnv: ['TESSERA_REDIS_URL'],
    secret: true,
    description: 'share live events over Redis instead of Postgres LISTEN/NOTIFY (every replica or none)',
    parse: redisUrl,
  },
  maxBlobBytes: {
    flag: '--max-blob-bytes <n>',
    env: 'TESSERA_MAX_BLOB_BYTES',
    description: 'largest blob the server accepts (default 64 MiB)',
    parse: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  },
  leader: { flag: '--no-leader', env: 'TESSERA_LEADER', default: 'true', description: 'never compete for the leader lock', parse: bool },
  leaderConfirmations: {
    flag: '--leader-confirmations <blocks>',
    env: 'TESSERA_LEADER_CONFIRMATIONS',
    default: '12',
    description: 'blocks deep the leader watches its transactions',
    parse: wholeNumber(0, 10_000),
  },
  challengeEpochs: {
    flag: '--challenge-epochs <n>',
    env: 'TESSERA_CHALLENGE_EPOCHS',
    description: 'issue known-answer challenge jobs every n emission epochs (default: none)',
    parse: wholeNumber(1, 1_000_000),
  },
  matcher: {
    flag: '--matcher <address>',
    env: 'TESSERA_MATCHER',
    description: 'the server key’s address, granted MATCHER_ROLE (default on the devnet: dev account 1)',
    parse: address,
  },
  epochLength: {
    flag: '--epoch-length <seconds>',
    env: 'TESSERA_EPOCH_LENGTH',
    default: '30',
    description: 'emission epoch length in seconds (a devnet deployment’s)',
    parse: wholeNumber(1, 1_000_000_000),
  },

  // -------------------------------------------------------------- tessera dev
  agents: {
    flag: '--agents <n>',
    env: 'TESSERA_AGENTS',
    default: '2',
    description: 'local agents to run (at most 5)',
    parse: wholeNumber(0, 5),
  },
  cheaters: {
    flag: '--cheaters <n>',
    env: 'TESSERA_CHEATERS',
    default: '0',
    description: 'how many of the local agents cheat (alter outputs), to watch the verification slash them',
    parse: wholeNumber(0, 5),
  },
  cheatRate: {
    flag: '--cheat-rate <fraction>',
    env: 'TESSERA_CHEAT_RATE',
    default: '0.5',
    description: 'fraction of its jobs a cheating agent alters, 0–1',
    parse: fraction,
  },
  demo: { flag: '--no-demo', env: 'TESSERA_DEMO', default: 'true', description: 'do not submit demo jobs', parse: bool },
  optimisticShare: {
    flag: '--optimistic-share <fraction>',
    env: 'TESSERA_OPTIMISTIC_SHARE',
    default: '0.5',
    description: 'fraction of the demo jobs submitted Optimistic (one run, spot-checked), 0–1; the rest are Redundant',
    parse: fraction,
  },

  // -------------------------------------------------------------- providers: tessera agent and tessera provider
  price: { flag: '--price <tsr>', env: 'TESSERA_PRICE', default: '0.001', description: 'ask per unit, in TSR', parse: positiveTsr },
  stake: { flag: '--stake <tsr>', env: 'TESSERA_STAKE', description: 'stake to hold, in TSR (default 10 × the minimum)', parse: tsr },
  region: { flag: '--region <name>', env: 'TESSERA_REGION', description: 'region label', parse: text },
  httpPort: {
    flag: '--http-port <port>',
    env: 'TESSERA_AGENT_HTTP_PORT',
    description: 'serve /health, /ready, /metrics on this port',
    parse: port,
  },
  workers: {
    flag: '--workers <n>',
    env: 'TESSERA_AGENT_WORKERS',
    default: '1',
    description: 'inference worker threads',
    parse: wholeNumber(1, 256),
  },
  gpuModel: {
    flag: '--gpu-model <id>',
    env: 'TESSERA_GPU_MODEL',
    description: 'override the detected GPU model id',
    parse: wholeNumber(0, 2 ** 32 - 1),
  },
  vramMib: {
    flag: '--vram-mib <mib>',
    env: 'TESSERA_VRAM_MIB',
    description: 'override the detected VRAM per GPU, MiB',
    parse: wholeNumber(0, 2 ** 32 - 1),
  },
  benchmarkScore: {
    flag: '--benchmark-score <units>',
    env: 'TESSERA_BENCHMARK_SCORE',
    description: 'override the measured units per epoch per GPU',
    parse: wholeNumber(1, 2 ** 32 - 1),
  },
  confirmations: {
    flag: '--confirmations <blocks>',
    env: 'TESSERA_AGENT_CONFIRMATIONS',
    default: '2',
    description: 'blocks deep a commit or reveal must be before the journal counts it (more than the chain reorgs)',
    parse: wholeNumber(1, 10_000),
  },
  commitMargin: {
    flag: '--commit-margin <seconds>',
    env: 'TESSERA_AGENT_COMMIT_MARGIN',
    default: '20',
    description: 'seconds before the commit deadline an inference must be done by, else the agent reports TIMEOUT',
    parse: seconds,
  },
  claim: {
    flag: '--no-claim',
    env: 'TESSERA_AGENT_CLAIM',
    default: 'true',
    description: 'do not claim jobs the matcher left waiting past the claim grace (claimJob)',
    parse: bool,
  },
  batchCalls: {
    flag: '--no-batch-calls',
    env: 'TESSERA_AGENT_BATCH_CALLS',
    default: 'true',
    description: "send each commit and reveal alone, leaving the provider's account undelegated (no ProviderBatcher, EIP-7702)",
    parse: bool,
  },
  chainWatch: {
    flag: '--chain-watch <seconds>',
    env: 'TESSERA_AGENT_CHAIN_WATCH',
    default: '5',
    description:
      "how often to read the last 256 blocks for this provider's assignments, besides each new block (0: only the server's feed)",
    parse: seconds,
  },
  headPoll: {
    flag: '--head-poll <seconds>',
    env: 'TESSERA_AGENT_HEAD_POLL',
    default: '0.25',
    description: 'how often to read the head for new blocks (their assignments, receipts and rounds); raise it on a chain with long blocks',
    parse: pollSeconds,
  },
  payoutInterval: {
    flag: '--payout-interval <seconds>',
    env: 'TESSERA_AGENT_PAYOUT_INTERVAL',
    default: '60',
    description: 'how often agents claim emission rewards of closed epochs and withdraw JobMarket earnings (0: never)',
    parse: seconds,
  },
  minWithdraw: {
    flag: '--min-withdraw <tsr>',
    env: 'TESSERA_AGENT_MIN_WITHDRAW',
    default: '0',
    description: 'leave JobMarket earnings below this many TSR until they grow (0: withdraw any)',
    parse: tsr,
  },
  address: {
    flag: '--address <address>',
    env: 'TESSERA_ADDRESS',
    description: 'the account to read (default: the key’s address)',
    parse: address,
  },
  amount: { flag: '--amount <tsr>', description: 'amount in TSR', parse: positiveTsr },
  complete: { flag: '--complete', description: 'pay out stake whose unbonding period has passed, instead of requesting more', parse: bool },
  epochs: {
    flag: '--epochs <n>',
    env: 'TESSERA_CLAIM_EPOCHS',
    default: '100',
    description: 'how many of the latest closed epochs to check for a reward',
    parse: wholeNumber(1, 100_000),
  },

  // -------------------------------------------------------------- requesters: tessera job and tessera gateway
  model: { flag: '--model <file>', description: 'ONNX model file', parse: text },
  input: {
    flag: '--input <file>',
    description: 'input tensor blob (JSON: dims, dtype float32, base64 data); its rows are the units',
    parse: text,
  },
  units: { flag: '--units <n>', description: 'units, when no --input is given', parse: wholeNumber(1, Number.MAX_SAFE_INTEGER) },
  maxPrice: {
    flag: '--max-price <tsr>',
    env: 'TESSERA_MAX_PRICE',
    default: '0.01',
    description: 'max price per unit, in TSR',
    parse: positiveTsr,
  },
  verification: {
    flag: '--verification <mode>',
    env: 'TESSERA_VERIFICATION',
    default: 'redundant',
    description: 'redundant: k providers run it and must agree; optimistic: one runs it, spot-checked and open to challenges (k = 1)',
    parse: oneOf(['redundant', 'optimistic']),
  },
  redundancy: {
    flag: '--redundancy <k>',
    env: 'TESSERA_REDUNDANCY',
    description: 'providers that must agree (redundant: 2 to 16, default 2; optimistic: 1 only)',
    parse: text,
  },
  tolerance: {
    flag: '--tolerance <bits>',
    env: 'TESSERA_TOLERANCE',
    default: '16',
    description: 'significant mantissa bits compared, 1 to 23',
    parse: wholeNumber(1, 23),
  },
  direct: {
    flag: '--direct',
    env: 'TESSERA_DIRECT',
    default: 'false',
    description: "submit from the key's own address, approving the escrow itself, instead of through the gateway",
    parse: bool,
  },
  resultOut: { flag: '--out <file>', description: 'write the output here: <file>.json (a tensor blob) or <file>.npy (NumPy)', parse: text },
  timeout: {
    flag: '--timeout <seconds>',
    env: 'TESSERA_JOB_TIMEOUT',
    default: '900',
    description: 'give up waiting after this long (exit code 3)',
    parse: seconds,
  },
  pollInterval: {
    flag: '--poll-interval <seconds>',
    env: 'TESSERA_POLL_INTERVAL',
    default: '1',
    description: 'how often to ask the server',
    parse: seconds,
  },
  status: { flag: '--status <status>', description: `only jobs in this status: ${jobStatusNames.join(', ')}`, parse: jobStatus },
  first: { flag: '--first <n>', default: '20', description: 'how many, newest first', parse: wholeNumber(1, 1000) },
  requester: {
    flag: '--requester <address>',
    description: 'list this address’s own jobs, not yours (gateway jobs need your key)',
    parse: address,
  },
  job: { flag: '--job <id>', description: 'job id', parse: jobId },
  wait: {
    flag: '--no-wait',
    default: 'true',
    description: 'return once the transfer is mined, without waiting for the gateway to count it (2 blocks deep)',
    parse: bool,
  },
  requests: { flag: '--requests <n>', default: '20', description: 'how many recent requests to list', parse: wholeNumber(0, 1000) },

  // -------------------------------------------------------------- tessera models
  modelsOut: {
    flag: '--out <dir>',
    env: 'TESSERA_MODELS_OUT',
    default: 'models',
    description: 'folder for the catalogue: <name>.onnx, <name>.input.json and catalogue.json',
    parse: text,
  },

  // -------------------------------------------------------------- tessera economics (checked where they are used)
  scenario: {
    flag: '--scenario <id>',
    env: 'TESSERA_ECONOMICS_SCENARIO',
    description: 'scenario id (S1 … S11, or a list: S1,S6) or all',
    parse: text,
  },
  years: {
    flag: '--years <n>',
    env: 'TESSERA_ECONOMICS_YEARS',
    default: '4',
    description: 'horizon in years (a scenario runs at least what its bars need; S6, S7, S9 and S10 have fixed horizons)',
    parse: text,
  },
  seed: {
    flag: '--seed <n>',
    env: 'TESSERA_ECONOMICS_SEED',
    default: '1',
    description: 'random seed: the same seed, the same run',
    parse: text,
  },
  interval: {
    flag: '--interval <interval>',
    env: 'TESSERA_ECONOMICS_INTERVAL',
    default: 'D7',
    description: 'what a chart point spans: EPOCH, D7 or D30 (the CSV is always per epoch)',
    parse: text,
  },
  economicsOut: {
    flag: '--out <dir>',
    env: 'TESSERA_ECONOMICS_OUT',
    deprecatedKeys: ['out'],
    description: 'folder for the CSV, the SVG charts and the report',
    parse: text,
  },
  kappa: { flag: '--kappa <list>', env: 'TESSERA_SWEEP_KAPPA', description: 'κ values, fractions: 0.03,0.05', parse: text },
  takeBps: { flag: '--take-bps <list>', env: 'TESSERA_SWEEP_TAKE_BPS', description: 'τ values in bps: 800,1000', parse: text },
  halfLife: {
    flag: '--half-life <list>',
    env: 'TESSERA_SWEEP_HALF_LIFE',
    description: 'T_B values in epochs: 365,540 (540 is the contract’s)',
    parse: text,
  },
  stepUp: { flag: '--step-up <list>', env: 'TESSERA_SWEEP_STEP_UP', description: 'max step-up values, fractions: 0.02,0.03', parse: text },
  stepDown: {
    flag: '--step-down <list>',
    env: 'TESSERA_SWEEP_STEP_DOWN',
    description: 'max step-down values, fractions: 0.01,0.015',
    parse: text,
  },
  baseAvailability: {
    flag: '--base-availability <list>',
    env: 'TESSERA_SWEEP_BASE_AVAILABILITY',
    description: 'B0 values in TSR: 6000,8000',
    parse: text,
  },
  phiMin: { flag: '--phi-min <list>', env: 'TESSERA_SWEEP_PHI_MIN', description: 'φ_min values, fractions: 0.5,0.6', parse: text },
  stakePerUnit: {
    flag: '--stake-per-unit <list>',
    env: 'TESSERA_SWEEP_STAKE_PER_UNIT',
    description: 'stake per unit values in TSR: 0.1,1',
    parse: text,
  },
  minTake: { flag: '--min-take <list>', env: 'TESSERA_SWEEP_MIN_TAKE', description: 'minimum take values in TSR: 0.01,0.1', parse: text },
  scenarios: {
    flag: '--scenarios <ids>',
    env: 'TESSERA_SWEEP_SCENARIOS',
    default: 'all',
    description: 'scenarios to run at each point: S1,S2 or all',
    parse: text,
  },
  from: {
    flag: '--from <epoch>',
    env: 'TESSERA_ECONOMICS_FROM',
    description: "first epoch (default: the server's, 99 before --to)",
    parse: text,
  },
  to: { flag: '--to <epoch>', env: 'TESSERA_ECONOMICS_TO', description: 'last epoch (default: the last closed one)', parse: text },
} satisfies Record<string, Setting<unknown>>

/** The table's type, each setting's parser with its own value type. */
export type Settings = typeof settings
/** A setting's name: its key in the table and in a `--config` file. */
export type SettingName = keyof Settings

/** The value a setting parses to; `undefined` is possible unless the table gives it a default. */
export type SettingValue<N extends SettingName> = Settings[N] extends { parse: (text: string, from: string) => infer T }
  ? Settings[N] extends { default: string | ((lookup: SettingLookup) => string | undefined) }
    ? T
    : T | undefined
  : never
