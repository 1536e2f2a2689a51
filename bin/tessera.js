#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so the published bin needs no build step. The wrapper stays up
// until the CLI exits. A terminal's Ctrl-C already reaches every process of the group, and tsx takes a
// second SIGINT as "kill now", so SIGINT is not passed on (only ignored here); SIGTERM is.
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const tsx = path.join(root, 'node_modules', '.bin', 'tsx')
const child = spawn(tsx, [path.join(root, 'cli', 'tessera.ts'), ...process.argv.slice(2)], { stdio: 'inherit' })
process.on('SIGINT', () => {})
process.on('SIGTERM', () => child.kill('SIGTERM'))
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)))
