import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, expect, test } from 'vitest'
import { buildMlp, makeInput } from '../agent/models/buildMlp.ts'
import { uploadBlob } from '../client/serverClient.ts'
import { submitJob } from '../client/submitJob.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { encodeTensorBlob } from '../protocol/tensorBlob.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { startTestStack } from './support/stack.ts'

// `tessera dev` run twice on the same data directory and database: the second run is a fresh chain
// that redeploys to the same addresses, and must work as promptly as the first.
let database: TestDatabase
let dataDir: string
let stack: Stack | undefined

afterAll(async () => {
  await stack?.stop()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}, 60_000)

async function runOnce(seed: number, parameters: { mineBlocksFirst?: number; timeoutMs?: number } = {}) {
  stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: [devKeys[2], devKeys[3]].map((privateKey) => ({ privateKey, pricePerUnit: parseEther('0.001') })),
    requesters: [devKeys[5]],
  })
  const s = stack
  const credentials = { account: privateKeyToAccount(devKeys[5]), chainId: s.deployment.chainId }
  const model = await uploadBlob({
    serverUrl: s.serverUrl,
    bytes: buildMlp({ seed, inputSize: 16, hiddenSize: 8, outputSize: 4 }),
    credentials,
  })
  const input = await uploadBlob({
    serverUrl: s.serverUrl,
    credentials,
    bytes: encodeTensorBlob({ dims: [3, 16], data: makeInput({ seed, rows: 3, inputSize: 16 }) }),
  })
  if (parameters.mineBlocksFirst) {
    await fetch(s.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_mine', params: [`0x${parameters.mineBlocksFirst.toString(16)}`] }),
    })
  }
  const submitted = Date.now()
  const { jobId } = await submitJob({
    rpcUrl: s.rpcUrl,
    deployment: s.deployment,
    privateKey: devKeys[5],
    serverUrl: s.serverUrl,
    modelHash: model.sha256,
    inputHash: input.sha256,
    units: 3n,
    maxPricePerUnit: parseEther('0.01'),
    redundancy: 2,
  })
  await waitFor(
    `job ${jobId} to complete`,
    async () => {
      const { job } = await gqlData(s.graphqlUrl, 'query ($id: BigInt!) { job(id: $id) { status } }', { id: jobId.toString() })
      return job?.status === 'COMPLETED' ? job : undefined
    },
    { timeoutMs: parameters.timeoutMs ?? 25_000 },
  )
  const seconds = (Date.now() - submitted) / 1000
  await s.stop()
  stack = undefined
  return { jobId, seconds }
}

test('a second run on the same database and data directory completes jobs as promptly as the first', async () => {
  database = await createTestDatabase()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-restart-'))
  // The first chain's assignment lands 60 blocks up (the indexer needs a while to catch up on them): a
  // change-feed cursor carried over to the second chain would hide that chain's assignments until it
  // grew as tall, about 60 s at a block a second.
  const first = await runOnce(1, { mineBlocksFirst: 60, timeoutMs: 60_000 })
  const second = await runOnce(2)
  expect(second.jobId).toBe(first.jobId)
  expect(second.seconds).toBeLessThan(25)
}, 180_000)
