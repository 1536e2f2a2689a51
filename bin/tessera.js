#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so the published bin needs no build step.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const tsx = path.join(root, 'node_modules', '.bin', 'tsx')
const result = spawnSync(tsx, [path.join(root, 'cli', 'tessera.ts'), ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(result.status ?? 1)
