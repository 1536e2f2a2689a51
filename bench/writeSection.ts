import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

/** BENCHMARKS.md at the repository root. */
export const benchmarksFile = path.join(root, 'BENCHMARKS.md')

/**
 * Replaces the section of `file` that `lines` starts with (its `## ` heading, up to the next `## `), or appends it, and
 * formats the file as committed files are (Biome pads the tables), so one bench can refresh its own section alone.
 */
export function writeSection(file: string, lines: string[]): void {
  const heading = lines[0]
  if (!heading?.startsWith('## ')) throw new Error('a section starts with its "## " heading')
  const text = readFileSync(file, 'utf8')
  const start = text.indexOf(`${heading}\n`)
  if (start === -1) writeFileSync(file, `${text.trimEnd()}\n\n${lines.join('\n')}`)
  else {
    const next = text.indexOf('\n## ', start + 1)
    writeFileSync(file, `${text.slice(0, start)}${lines.join('\n')}${next === -1 ? '' : `\n${text.slice(next + 1)}`}`)
  }
  execFileSync(path.join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', file], { stdio: 'ignore' })
}
