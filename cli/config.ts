import { readFileSync } from 'node:fs'
import { type Command, Option } from 'commander'
import pino, { type Logger } from 'pino'
import type { Hex } from 'viem'
import { ServerRequestError } from '../client/serverClient.ts'
import { TesseraError } from '../protocol/errors.ts'
import { logSerializers } from '../protocol/logSerializers.ts'
import { decodeRevert, formatRevert } from '../protocol/revert.ts'
import { ConfigError, privateKey, type Setting, type SettingName, type SettingValue, settings } from './settings.ts'

export { ConfigError }

/** A setting a command reads, by name, or with a default or description of its own for that command. */
export type CommandSetting = SettingName | { name: SettingName; default?: string; description?: string }

type NameOf<S> = S extends SettingName ? S : S extends { name: infer N extends SettingName } ? N : never

/** The parsed values of a command's settings. */
export type ResolvedSettings<S extends readonly CommandSetting[]> = { [K in NameOf<S[number]>]: SettingValue<K> }

/** Where a setting's value came from: its flag, its variable, the config file's key, or its default. */
export type SettingSource = { kind: 'flag' | 'env' | 'file' | 'default'; name: string }

const specOf = (setting: CommandSetting) => (typeof setting === 'string' ? { name: setting } : setting)

/** The options a command added for each setting (its flag, then its deprecated flags), and its own defaults. */
const commandSettings = new WeakMap<Command, Map<SettingName, { options: Option[]; default?: string }>>()

/** Adds an option to `command` for every setting that has a flag (deprecated flags hidden), help naming its variable and default. */
export function addSettingOptions(command: Command, list: readonly CommandSetting[]): Command {
  const known = commandSettings.get(command) ?? new Map()
  commandSettings.set(command, known)
  for (const item of list) {
    const spec = specOf(item)
    const setting = settings[spec.name] as SettingInfo
    const options: Option[] = []
    if (setting.flag) {
      const defaultText = spec.default ?? (typeof setting.default === 'string' ? setting.default : undefined)
      const hints = [
        setting.env ? `env ${setting.env}` : undefined,
        defaultText !== undefined && !setting.secret && !setting.flag.startsWith('--no-') && defaultText !== 'false'
          ? `default ${defaultText}`
          : undefined,
      ].filter(Boolean)
      const description = spec.description ?? setting.description
      options.push(new Option(setting.flag, hints.length ? `${description} (${hints.join('; ')})` : description))
    }
    for (const flag of setting.deprecatedFlags ?? []) options.push(new Option(flag).hideHelp())
    for (const option of options) command.addOption(option)
    known.set(spec.name, { options, default: spec.default })
  }
  return command
}

/** A subcommand of `parent` with an option for every setting in `list` that has a flag. */
export function settingsCommand(parent: Command, name: string, description: string, list: readonly CommandSetting[]): Command {
  return addSettingOptions(parent.command(name).description(description), list)
}

/** The table's entry, seen without its literal types. */
type SettingInfo = Setting<unknown>

const warned = new Set<string>()

/** A warning on stderr, once per message. */
export function warn(message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  process.stderr.write(`tessera: warning: ${message}\n`)
}

const configFiles = new Map<string, Record<string, unknown>>()

/** Every key a config file may hold: the settings' names and their deprecated keys. */
const knownKeys = new Set<string>(Object.entries(settings).flatMap(([name, s]) => [name, ...((s as SettingInfo).deprecatedKeys ?? [])]))

/** The `--config` file (or `TESSERA_CONFIG`), read once: a JSON object of setting names, checked for unknown keys. */
function readConfigFile(file: string): Record<string, unknown> {
  const cached = configFiles.get(file)
  if (cached) return cached
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${file}: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`the config file ${file} must hold a JSON object of settings, e.g. {"server": "http://127.0.0.1:4000"}`)
  const unknown = Object.keys(parsed).filter((key) => !knownKeys.has(key))
  if (unknown.length)
    throw new ConfigError(`the config file ${file} has unknown settings: ${unknown.join(', ')}`, {
      metaMessages: ['Its keys are setting names as `--print-config` shows them (serverUrl is "server", --max-price is "maxPrice").'],
    })
  configFiles.set(file, parsed as Record<string, unknown>)
  return parsed as Record<string, unknown>
}

/** The option of `command` or one of its parents that carries the setting, with the command's own default for it. */
function findSetting(command: Command, name: SettingName) {
  for (let c: Command | null = command; c; c = c.parent) {
    const found = commandSettings.get(c)?.get(name)
    if (found) return { command: c, ...found }
  }
  return undefined
}

type Raw = { text?: string; source: SettingSource }

/** Reads one setting's text: flag > variable > config file > default, warning about deprecated names. */
function rawSetting(command: Command, name: SettingName, seen: Set<SettingName> = new Set()): Raw {
  const setting = settings[name] as SettingInfo
  const found = findSetting(command, name)
  for (const [i, option] of (found?.options ?? []).entries()) {
    const attribute = option.attributeName()
    if (found?.command.getOptionValueSource(attribute) !== 'cli') continue
    const value = found.command.getOptionValue(attribute)
    const flag = option.long ?? option.flags
    const deprecated = i > 0 || (setting.flag !== undefined && option.flags !== setting.flag)
    if (deprecated) warn(`${flag} is deprecated: use ${setting.flag?.split(' ')[0] ?? setting.env}`)
    return { text: String(value), source: { kind: 'flag', name: flag } }
  }
  const env = process.env
  const fromEnv = (variable: string) => (env[variable] !== undefined && env[variable] !== '' ? env[variable] : undefined)
  if (setting.env && fromEnv(setting.env) !== undefined) {
    for (const old of setting.deprecatedEnv ?? [])
      if (fromEnv(old) !== undefined) warn(`${old} is deprecated and ignored while ${setting.env} is set`)
    return { text: fromEnv(setting.env), source: { kind: 'env', name: setting.env } }
  }
  for (const alias of setting.aliasEnv ?? [])
    if (fromEnv(alias) !== undefined) return { text: fromEnv(alias), source: { kind: 'env', name: alias } }
  for (const old of setting.deprecatedEnv ?? [])
    if (fromEnv(old) !== undefined) {
      warn(`${old} is deprecated: use ${setting.env}`)
      return { text: fromEnv(old), source: { kind: 'env', name: old } }
    }
  const configPath = (command.optsWithGlobals().config as string | undefined) ?? fromEnv('TESSERA_CONFIG')
  if (configPath) {
    const file = readConfigFile(configPath)
    for (const key of [name, ...(setting.deprecatedKeys ?? [])]) {
      const value = file[key]
      if (value === undefined || value === null) continue
      if (typeof value === 'object') throw new ConfigError(`"${key}" in the config file ${configPath} must be a string, number or boolean`)
      if (key !== name) warn(`"${key}" in the config file ${configPath} is deprecated: use "${name}"`)
      return { text: String(value), source: { kind: 'file', name: `"${key}" in ${configPath}` } }
    }
  }
  const fallback = found?.default ?? setting.default
  if (typeof fallback === 'function') {
    if (seen.has(name)) throw new Error(`setting ${name}: its default depends on itself`)
    seen.add(name)
    return { text: fallback((other) => rawSetting(command, other as SettingName, seen).text), source: { kind: 'default', name: 'default' } }
  }
  return { text: fallback, source: { kind: 'default', name: 'default' } }
}

/** How a message names a setting's source: `--server`, `TESSERA_SERVER_URL`, `"server" in cfg.json`, or its default. */
function fromOf(name: SettingName, source: SettingSource): string {
  if (source.kind !== 'default') return source.name
  const setting = settings[name] as SettingInfo
  return `the default of ${setting.flag?.split(' ')[0] ?? setting.env ?? name}`
}

const sourcesOf = new WeakMap<object, { sources: Record<string, SettingSource>; texts: Record<string, string | undefined> }>()

/** The endpoints the last command resolved, for naming them in network errors. */
const endpoints: Partial<Record<'server' | 'rpc', { url: string; source: SettingSource }>> = {}

/**
 * Resolves `command`'s settings: flag > `TESSERA_*` variable > `--config` file > default, each parsed and checked
 * (a {@link ConfigError} names the flag, variable or key). With `--print-config`, prints the effective settings (secrets
 * as `***`, each with where it came from) and exits 0 before the command does anything.
 */
export function resolveSettings<const S extends readonly CommandSetting[]>(command: Command, list: S): ResolvedSettings<S> {
  const values: Record<string, unknown> = {}
  const sources: Record<string, SettingSource> = {}
  const texts: Record<string, string | undefined> = {}
  const names = list.map((item) => specOf(item).name)
  for (const name of names) {
    const { text, source } = rawSetting(command, name)
    const setting = settings[name] as SettingInfo
    sources[name] = source
    texts[name] = text
    values[name] = text === undefined ? undefined : setting.parse(text, fromOf(name, source))
    if ((name === 'server' || name === 'rpc') && text !== undefined) endpoints[name] = { url: text, source }
  }
  sourcesOf.set(values, { sources, texts })
  if (command.optsWithGlobals().printConfig) {
    const shown = Object.fromEntries(
      names.map((name) => {
        const secret = (settings[name] as SettingInfo).secret
        const text = texts[name]
        return [name, { value: text === undefined ? null : secret ? '***' : text, from: sources[name].name }]
      }),
    )
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`)
    process.exit(0)
  }
  return values as ResolvedSettings<S>
}

/** Where a resolved setting came from. */
export function sourceOf(config: object, name: SettingName): SettingSource | undefined {
  return sourcesOf.get(config)?.sources[name]
}

/** A key file's key, or a ConfigError naming the file and where its path came from (never the key). */
function readKeyFile(file: string, from: string): Hex {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(
      `cannot read the key file ${file} (${from}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    )
  }
  return privateKey(text, `the key file ${file} (${from})`)
}

const rank = { flag: 3, env: 2, file: 1, default: 0 } as const

/**
 * The private key of a resolved config: from `--key-file` / `TESSERA_KEY_FILE` / `"keyFile"` or `TESSERA_PRIVATE_KEY` /
 * `"privateKey"` (whichever has the higher precedence; both at once is an error), else the command's default key.
 * `which: 'server'` reads the server's key (`--server-key-file`, `TESSERA_SERVER_KEY`) instead. Undefined when none.
 */
export function accountKey(config: object, which: 'account' | 'server' = 'account'): Hex | undefined {
  const [keyName, fileName] = which === 'account' ? (['privateKey', 'keyFile'] as const) : (['serverKey', 'serverKeyFile'] as const)
  const known = sourcesOf.get(config)
  if (!known) throw new Error('accountKey takes a config from resolveSettings')
  const values = config as Record<string, unknown>
  const key = values[keyName] as Hex | { file: string } | undefined
  const file = values[fileName] as string | undefined
  const keySource = known.sources[keyName]
  const fileSource = known.sources[fileName]
  if (key !== undefined && file !== undefined && keySource && fileSource) {
    if (rank[keySource.kind] === rank[fileSource.kind] && keySource.kind !== 'default')
      throw new ConfigError(`${fromOf(keyName, keySource)} and ${fromOf(fileName, fileSource)} both give a key: keep one`)
  }
  const useFile = file !== undefined && (key === undefined || rank[fileSource?.kind ?? 'default'] > rank[keySource?.kind ?? 'default'])
  if (useFile) return readKeyFile(file, fromOf(fileName, fileSource ?? { kind: 'default', name: 'default' }))
  if (key === undefined) return undefined
  if (typeof key === 'object') return readKeyFile(key.file, fromOf(keyName, keySource ?? { kind: 'default', name: 'default' }))
  return key
}

/** {@link accountKey}, or a ConfigError saying how to give one. */
export function requiredAccountKey(config: object, what: string): Hex {
  const key = accountKey(config)
  if (!key)
    throw new ConfigError(`${what} needs a private key: --key-file <path> (a file holding it) or TESSERA_PRIVATE_KEY`, {
      metaMessages: ['A key is never taken as a flag value: the command line shows in `ps` and shell history.'],
    })
  return key
}

/** The resolved settings as texts, secrets as `***`: what a long-running command logs at start. */
export function describeConfig(config: object): Record<string, string | undefined> {
  const known = sourcesOf.get(config)
  if (!known) return {}
  return Object.fromEntries(
    Object.entries(known.texts).map(([name, text]) => [
      name,
      text !== undefined && (settings[name as SettingName] as SettingInfo).secret ? '***' : text,
    ]),
  )
}

/** A pino logger honouring `--log-level` and `--log-format pretty|json` (flags, variables or config file). */
export function commandLogger(command: Command, name: string): Logger {
  const config = resolveLogSettings(command)
  return createLogger({ level: config.logLevel, format: config.logFormat, name })
}

const resolveLogSettings = (command: Command) => {
  const level = rawSetting(command, 'logLevel')
  const format = rawSetting(command, 'logFormat')
  return {
    logLevel: settings.logLevel.parse(level.text ?? 'info', fromOf('logLevel', level.source)),
    logFormat: settings.logFormat.parse(format.text ?? 'pretty', fromOf('logFormat', format.source)),
  }
}

/** A pino logger at `level` (info by default), pretty-printed unless `format` is `json`. */
export function createLogger(parameters: { level?: string; format?: string; name?: string }): Logger {
  const level = parameters.level ?? 'info'
  if (parameters.format === 'json') return pino({ level, name: parameters.name, serializers: logSerializers })
  return pino({
    level,
    name: parameters.name,
    serializers: logSerializers,
    transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' } },
  })
}

/** A command that ends with an exit code of its own (a job that failed, a wait that timed out), after its message. */
export class CommandExit extends TesseraError {
  override name = 'CommandExit'
  readonly exitCode: number
  constructor(shortMessage: string, parameters: { exitCode: number; metaMessages?: string[]; details?: string }) {
    super(shortMessage, parameters)
    this.exitCode = parameters.exitCode
  }
}

/** How a setting is set, for a hint: `--server, TESSERA_SERVER_URL or "server" in --config`. */
function howToSet(name: SettingName): string {
  const setting = settings[name] as SettingInfo
  return [setting.flag?.split(' ')[0], setting.env, `"${name}" in --config`].filter(Boolean).join(', ')
}

/** The deepest reason under `error`: a system error's code (ECONNREFUSED, ENOTFOUND) or the last message. */
function rootReason(error: unknown): string {
  let reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
  for (let e: unknown = error, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
    if (e instanceof Error && e.message) reason = e.message.split('\n')[0]
  }
  return reason
}

/** Whether `error` or a cause of it failed to reach a host, the URL when known, and whether it was the Tessera server. */
function unreachable(error: unknown): { url?: string; server: boolean; reason: string } | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as Error).name
    if (name === 'HttpRequestError' || (name === 'TimeoutError' && (e as { url?: string }).url))
      return { url: (e as { url?: string }).url, server: false, reason: rootReason(e) }
    if (e instanceof ServerRequestError && e.status === undefined) return { server: true, reason: rootReason(e) }
    if (e instanceof TypeError && e.message === 'fetch failed') return { server: false, reason: rootReason(e) }
  }
  return undefined
}

/**
 * What the CLI prints for an error, and its exit code: the message, then hints and details. A host that can't be
 * reached is named with its URL and the flag, variable and config key that set it.
 */
export function explainError(error: unknown): { lines: string[]; exitCode: number } {
  const exitCode = error instanceof CommandExit ? error.exitCode : 1
  const down = unreachable(error)
  if (down) {
    const matches = (name: 'server' | 'rpc') => {
      const endpoint = endpoints[name]
      return endpoint !== undefined && (down.url === undefined ? down.server === (name === 'server') : sameOrigin(down.url, endpoint.url))
    }
    const target = matches('rpc') ? 'rpc' : matches('server') ? 'server' : undefined
    if (!target) return { lines: [`tessera: cannot reach ${down.url ?? 'a host'}: ${down.reason}`], exitCode }
    const endpoint = endpoints[target]
    const what = target === 'rpc' ? 'the chain RPC' : 'the Tessera server'
    return {
      lines: [
        `tessera: cannot reach ${what} at ${endpoint?.url}: ${down.reason}`,
        `  set it with ${howToSet(target)} (now from ${endpoint ? fromOf(target, endpoint.source) : 'nowhere'}); is \`tessera dev\` running?`,
      ],
      exitCode,
    }
  }
  const revert = decodeRevert(error)
  const short = (error as { shortMessage?: unknown }).shortMessage
  const message =
    typeof short === 'string'
      ? short
      : error instanceof Error
        ? error.message.split('\n')[0]
        : (JSON.stringify(error) ?? 'failed without a reason')
  const lines = [`tessera: ${message}`]
  if (revert && !(error instanceof TesseraError)) lines.push(`  the contract refused it: ${formatRevert(revert)}`)
  if (error instanceof TesseraError)
    for (const line of [...(error.metaMessages ?? []), ...(error.details ? [error.details] : [])]) lines.push(`  ${line}`)
  return { lines, exitCode }
}

function sameOrigin(a: string, b: string): boolean {
  return URL.parse(a)?.origin === URL.parse(b)?.origin
}

/** Progress for a person, on stderr, so stdout stays the one JSON line. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`)
}

/** Prints the command's result: one JSON line on stdout, bigints as decimal strings. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`)
}

/**
 * A logger for a one-shot command: JSON lines on stderr, written at once (no worker thread to wait for), at
 * `--log-level` when one is set and `warn` otherwise, so stdout stays the result.
 */
export function oneShotLogger(command: Command): Logger {
  const level = rawSetting(command, 'logLevel')
  const chosen = level.source.kind === 'default' ? 'warn' : settings.logLevel.parse(level.text ?? 'warn', fromOf('logLevel', level.source))
  return pino({ level: chosen, serializers: logSerializers }, pino.destination({ dest: 2, sync: true }))
}

/** Exits once the logger's transport (a worker thread for pretty output) has written every line. */
export async function exitAfterFlush(log: { flush: (cb?: (err?: Error) => void) => void }, code = 0): Promise<never> {
  await new Promise<void>((resolve) => log.flush(() => resolve()))
  process.exit(code)
}
