import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = path.join(repoRoot, 'bin', 'tessera.js')

/** The environment without the machine's TESSERA_* and database variables, so only what a test gives counts. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_') && name !== 'DATABASE_URL' && name !== 'REDIS_URL'),
)

/** How a run of the binary ended. */
export type TesseraRun = { code: number | null; stdout: string; stderr: string }

/**
 * Runs the real `tessera` binary (bin/tessera.js, as `npx tessera` does) with `args` in the repository root, `env`
 * added to a clean environment, and resolves with its exit code and output once it exits.
 */
export function runTessera(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<TesseraRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...cleanEnv, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The one JSON line a command printed on success, or an error carrying its output. */
export function jsonOf<T = Record<string, unknown>>(run: TesseraRun): T {
  if (run.code !== 0) throw new Error(`tessera exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`)
  return JSON.parse(run.stdout) as T
}
