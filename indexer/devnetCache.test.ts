import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freePort } from '../devnet/startAnvil.ts'
import { registerProvider, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { startIndexer } from './startIndexer.ts'

// Two devnets, one after the other, in one database, as `tessera dev` restarts do. A fresh anvil reuses chain id 31337
// and the deployer's nonces, so the second devnet has the same addresses and puts the same transactions in the same
// blocks, with different data. Blocks older than Ponder's finality depth (30 on this chain) are backfilled through
// Ponder's sync store (`ponder_sync`), which keys rows by (chain id, block number, …) and keeps the first row it got:
// without clearing it, the second devnet's indexer would index the first devnet's logs.

const viewsSchema = 'chain_cache_test'
let database: TestDatabase
let tmpDir: string
const systems: TestSystem[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-devnet-cache-'))
})

afterAll(async () => {
  for (const system of systems) await system.stop()
  await database?.drop()
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true })
})

/** A devnet whose first provider registered with `benchmarkScore`, buried under enough blocks to be backfilled. */
async function devnet(name: string, benchmarkScore: number) {
  const deploymentPath = path.join(tmpDir, `${name}.json`)
  const system = await startTestSystem({ out: deploymentPath })
  systems.push(system)
  const provider = system.accounts.providers[0]
  await registerProvider(system, provider, { hardware: { benchmarkScore }, stake: 0n })
  await system.testClient.mine({ blocks: 40 })
  return { system, deploymentPath, provider: provider.address.toLowerCase() }
}

/** Indexes `deploymentPath` as the dev stack does and returns the provider's indexed benchmark score. */
async function indexedScore(system: TestSystem, deploymentPath: string, provider: string) {
  const indexer = await startIndexer({
    databaseUrl: database.url,
    rpcUrl: system.rpcUrl,
    deploymentPath,
    viewsSchema,
    port: await freePort(),
    pruneOtherSchemas: true,
    log: process.env.TESSERA_TEST_VERBOSE ? (line) => console.log(`[ponder] ${line}`) : undefined,
  })
  const sql = new pg.Client({ connectionString: database.url })
  await sql.connect()
  try {
    const { rows } = await sql.query<{ benchmark_score: string }>(
      `select benchmark_score from ${viewsSchema}.provider where address = $1`,
      [provider],
    )
    return { score: rows[0]?.benchmark_score, registeredBlock: await registeredBlock(sql, provider) }
  } finally {
    await sql.end()
    await indexer.stop()
  }
}

async function registeredBlock(sql: pg.Client, provider: string) {
  const { rows } = await sql.query<{ registered_block: string }>(
    `select registered_block from ${viewsSchema}.provider where address = $1`,
    [provider],
  )
  return rows[0]?.registered_block
}

test("a second devnet in the same database never reads the first one's cached blocks", async () => {
  const first = await devnet('first', 111)
  const a = await indexedScore(first.system, first.deploymentPath, first.provider)
  expect(a.score).toBe('111')
  await first.system.stop()

  const second = await devnet('second', 222)
  const b = await indexedScore(second.system, second.deploymentPath, second.provider)
  // The same transaction in the same block on both devnets: only the data differs.
  expect(b.registeredBlock).toBe(a.registeredBlock)
  expect(b.score).toBe('222')

  // A restart on the same devnet resumes its schema; the cleared store is simply fetched again.
  await second.system.testClient.mine({ blocks: 5 })
  expect(await indexedScore(second.system, second.deploymentPath, second.provider)).toEqual(b)
}, 180_000)
