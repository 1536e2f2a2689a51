import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const indexerDir = path.dirname(fileURLToPath(import.meta.url))

/**
 * Every file Ponder builds from: its config, schema and handlers, and protocol/, whose enums the handlers import
 * (Ponder's own build id doesn't cover files outside its root, so a change there must still give a fresh schema).
 */
function indexerSources(): string[] {
  const files = ['ponder.config.ts', 'ponder.schema.ts'].map((f) => path.join(indexerDir, f))
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (/\.(ts|js|mts|mjs)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) files.push(full)
    }
  }
  walk(path.join(indexerDir, 'src'))
  walk(path.join(indexerDir, '..', 'protocol'))
  return files
}

/**
 * A Ponder schema name for this chain, deployment and indexer code: `ponder_<16 hex>`.
 *
 * Ponder 0.16 refuses to start on a schema a different build wrote, and resumes from the checkpoint of a schema the
 * same build wrote, even when the chain behind it is new (a fresh anvil has the same chain id and contract
 * addresses). Hashing the genesis block hash, the deployment file and the indexer sources gives one name per
 * (chain instance, deployment, code): a restart resumes, a code change or a new devnet indexes into a fresh schema.
 */
export async function ponderSchemaName(parameters: { rpcUrl: string; deploymentPath: string }): Promise<string> {
  const response = await fetch(parameters.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x0', false] }),
  })
  const { result } = (await response.json()) as { result: { hash: string } | null }
  if (!result) throw new Error(`${parameters.rpcUrl} has no genesis block`)
  const hash = createHash('sha256').update(result.hash).update(readFileSync(parameters.deploymentPath))
  for (const file of indexerSources()) hash.update(file).update(readFileSync(file))
  return `ponder_${hash.digest('hex').slice(0, 16)}`
}
