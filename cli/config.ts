import { readFileSync } from 'node:fs'
import pino, { type Logger } from 'pino'

/** One setting the CLI understands: its flag name, the `TESSERA_*` variable and a default. */
export type Setting = { env: string; default?: string | number | boolean; secret?: boolean; description: string }

/** Thrown when a flag, variable or config-file value can't be used. Not retryable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor(
    message: string,
    readonly details?: string,
  ) {
    super(message)
  }
}

/**
 * Merges settings with the precedence flags > `TESSERA_*` env vars > config file > defaults.
 * `flags` keys are the camelCase names commander produces; only keys in `settings` are read.
 */
export function resolveConfig<const T extends Record<string, Setting>>(parameters: {
  settings: T
  flags: Record<string, unknown>
  env?: NodeJS.ProcessEnv
  configPath?: string
}): { [K in keyof T]: string | undefined } {
  const { settings, flags, env = process.env } = parameters
  let file: Record<string, unknown> = {}
  const configPath = parameters.configPath ?? env.TESSERA_CONFIG
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8'))
    } catch (error) {
      throw new ConfigError(`cannot read config file ${configPath}: ${(error as Error).message}`)
    }
  }
  const out: Record<string, string | undefined> = {}
  for (const [key, setting] of Object.entries(settings)) {
    const value = flags[key] ?? env[setting.env] ?? file[key] ?? setting.default
    out[key] = value === undefined ? undefined : String(value)
  }
  return out as { [K in keyof T]: string | undefined }
}

/** Reads a secret given either as the value itself or as `@/path/to/file` / an existing file path. */
export function readSecret(value: string): string {
  const trimmed = value.trim()
  if (trimmed.startsWith('0x')) return trimmed
  const file = trimmed.startsWith('@') ? trimmed.slice(1) : trimmed
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    throw new ConfigError(`secret is neither a 0x value nor a readable file: ${file}`)
  }
}

/** The effective configuration with secrets replaced, for printing at start-up. */
export function describeConfig(settings: Record<string, Setting>, config: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, settings[k]?.secret && v ? '***' : v]))
}

/** A pino logger honouring `--log-level` and `--log-format pretty|json`. */
export function createLogger(parameters: { level?: string; format?: string; name?: string }): Logger {
  const level = parameters.level ?? 'info'
  if (parameters.format === 'json') return pino({ level, name: parameters.name })
  return pino({
    level,
    name: parameters.name,
    transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' } },
  })
}
