import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import pino, { type Logger } from 'pino'
import { TesseraError } from '../protocol/errors.ts'

/**
 * One setting the CLI understands: its flag (commander syntax, e.g. `--data-dir <dir>`; none for settings without
 * one), the `TESSERA_*` variable, a default, and whether it is a secret (hidden when the config is printed).
 */
export type Setting = { flag?: string; env: string; default?: string | number | boolean; secret?: boolean; description: string }

/** A resolved configuration: settings with a default always have a value. */
export type ResolvedConfig<T extends Record<string, Setting>> = {
  [K in keyof T]: T[K] extends { default: string | number | boolean } ? string : string | undefined
}

/** Thrown when a flag, variable or config-file value can't be used. Not retryable. */
export class ConfigError extends TesseraError {
  override name = 'ConfigError'
}

/** Adds an option to `command` for every setting that has a flag. */
export function addSettingOptions(command: Command, settings: Record<string, Setting>): Command {
  for (const setting of Object.values(settings)) if (setting.flag) command.option(setting.flag, setting.description)
  return command
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
}): ResolvedConfig<T> {
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
  return out as ResolvedConfig<T>
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
