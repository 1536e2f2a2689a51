/**
 * Builds the dashboard into `web/dist`: regenerates `graphql-env.d.ts` from `schema.graphql` (the types the pages'
 * queries are checked against), then runs Vite. `--if-stale` skips both when nothing they read changed since the last
 * build (what `npm run dev` and `npm test` do before starting).
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'

const webDir = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(webDir)
const outDir = path.join(webDir, 'dist')
const stampFile = path.join(outDir, '.source-hash')

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  return (await Promise.all(entries.map((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)])))).flat()
}

/** A hash of everything the build reads: the app's sources, its config, the schema, the protocol modules it imports. */
async function sourceHash(): Promise<string> {
  const inputs = [
    ...(await files(path.join(webDir, 'src'))),
    ...(await files(path.join(root, 'protocol'))),
    path.join(webDir, 'index.html'),
    path.join(webDir, 'vite.config.ts'),
    path.join(root, 'schema.graphql'),
    path.join(root, 'devnet', 'devAccounts.ts'),
    path.join(root, 'package-lock.json'),
  ].sort()
  const hash = createHash('sha256')
  for (const f of inputs) hash.update(f).update(await readFile(f))
  return hash.digest('hex')
}

/** Regenerates the introspection types gql.tada reads from `schema.graphql`. */
export function generateGraphQLTypes(): void {
  execFileSync(path.join(root, 'node_modules', '.bin', 'gql.tada'), ['generate-output', '-c', path.join(webDir, 'tsconfig.json')], {
    cwd: webDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

export async function buildWeb(options: { ifStale?: boolean; quiet?: boolean } = {}): Promise<{ built: boolean }> {
  const before = await sourceHash()
  if (options.ifStale && (await readFile(stampFile, 'utf8').catch(() => '')) === before) return { built: false }
  generateGraphQLTypes()
  await build({ configFile: path.join(webDir, 'vite.config.ts'), logLevel: options.quiet ? 'warn' : 'info' })
  // Hashed after generating: the generated types are among the sources.
  await writeFile(stampFile, await sourceHash())
  return { built: true }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale')
  const { built } = await buildWeb({ ifStale, quiet: process.argv.includes('--quiet') })
  if (!built) console.log('web: dist is up to date')
}
