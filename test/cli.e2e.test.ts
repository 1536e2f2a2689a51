import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import ort from 'onnxruntime-node'
import { createPublicClient, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { writeModelCatalogue } from '../agent/models/writeModelCatalogue.ts'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import type { Stack } from '../devnet/startStack.ts'
import { fingerprintOutput } from '../protocol/fingerprint.ts'
import { decodeTensorBlob } from '../protocol/tensorBlob.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { gqlData, waitFor } from './support/graphql.ts'
import { startTestStack } from './support/stack.ts'
import { jsonOf, runTessera } from './support/tessera.ts'

// Issue 10: every role through the real `tessera` binary against one running marketplace. The requester (the default
// key, dev account 7) deposits, submits, follows, fetches and cancels; a provider reads its account, withdraws its
// earnings and claims its rewards; a fresh one registers, stakes and starts unbonding.

const agentKey = devKeys[2]
const agent = privateKeyToAccount(agentKey).address
const spareKey = devKeys[4]
const epochLength = 10

let stack: Stack
let database: TestDatabase
let dir: string
let env: Record<string, string>
let model: string
let input: string

/** `tessera …` against the stack. */
const tessera = (...args: string[]) => runTessera(args, { env })

beforeAll(async () => {
  database = await createTestDatabase()
  dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-cli-e2e-'))
  stack = await startTestStack({
    dataDir: path.join(dir, 'stack'),
    databaseUrl: database.url,
    agents: [
      { privateKey: agentKey, pricePerUnit: parseEther('0.001') },
      { privateKey: devKeys[3], pricePerUnit: parseEther('0.001') },
    ],
    requesters: [devKeys[7]],
    spareProviders: [spareKey],
    epochLength,
  })
  env = { TESSERA_SERVER_URL: stack.serverUrl, TESSERA_RPC_URL: stack.rpcUrl }
  await writeModelCatalogue({ outDir: path.join(dir, 'models') })
  model = path.join(dir, 'models', 'small.onnx')
  input = path.join(dir, 'models', 'small.input.json')
  for (const [name, key] of [
    ['agent.key', agentKey],
    ['spare.key', spareKey],
  ]) {
    await writeFile(path.join(dir, name), `${key}\n`)
    await chmod(path.join(dir, name), 0o600)
  }
}, 240_000)

afterAll(async () => {
  await stack?.stop()
  await database?.drop()
  if (dir) await rm(dir, { recursive: true, force: true })
}, 60_000)

describe('a requester, with the default key', () => {
  let jobId: string

  test('deposits to the gateway and submits a job', async () => {
    const deposit = jsonOf<{ balance: string }>(await tessera('gateway', 'deposit', '--amount', '10'))
    expect(BigInt(deposit.balance)).toBe(parseEther('10'))
    const submitted = jsonOf<{ jobId: string; verification: string; redundancy: number }>(
      await tessera('job', 'submit', '--model', model, '--input', input),
    )
    expect(submitted).toMatchObject({ verification: 'REDUNDANT', redundancy: 2 })
    jobId = submitted.jobId
  }, 60_000)

  test('follows it to COMPLETED, showing each status', async () => {
    const status = jsonOf<{ id: string; status: string }>(await tessera('job', 'status', jobId))
    expect(status.id).toBe(jobId)
    const wait = await tessera('job', 'wait', jobId, '--timeout', '120', '--poll-interval', '0.5')
    const done = jsonOf<{ status: string; providers: { outcome: string }[] }>(wait)
    expect(done.status).toBe('COMPLETED')
    expect(done.providers.map((p) => p.outcome)).toEqual(['AGREED', 'AGREED'])
    expect(wait.stderr).toMatch(new RegExp(`job ${jobId} COMPLETED`))
  }, 150_000)

  test('fetches the result as a tensor blob and as NPY: the same bytes as onnxruntime run directly on the model and input', async () => {
    const jsonFile = path.join(dir, 'result.json')
    const npyFile = path.join(dir, 'result.npy')
    const asJson = jsonOf<{ format: string; dims: number[] }>(await tessera('job', 'result', jobId, '--out', jsonFile))
    expect(asJson).toMatchObject({ format: 'json', dims: [4, 4] })
    const tensor = decodeTensorBlob(await readFile(jsonFile))
    expect(tensor.dims).toEqual([4, 4])
    const job = jsonOf<{ fingerprint: string; outputTolerance: number }>(await tessera('job', 'status', jobId))
    expect(fingerprintOutput(tensor.data, job.outputTolerance)).toBe(job.fingerprint)
    // The very bytes onnxruntime gives for the same model and input run here, directly.
    const session = await ort.InferenceSession.create(await readFile(model), { intraOpNumThreads: 1, interOpNumThreads: 1 })
    try {
      const given = decodeTensorBlob(await readFile(input))
      const direct = await session.run({ [session.inputNames[0] as string]: new ort.Tensor('float32', given.data, given.dims) })
      const expected = direct[session.outputNames[0] as string]
      if (!expected) throw new Error('the model gave no output')
      const values = expected.data as Float32Array
      expect(expected.dims).toEqual(tensor.dims)
      const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
      expect(bytes(tensor.data)).toEqual(bytes(values))
    } finally {
      await session.release()
    }

    expect(jsonOf(await tessera('job', 'result', jobId, '--out', npyFile))).toMatchObject({ format: 'npy', dims: [4, 4] })
    const npy = await readFile(npyFile)
    expect(npy.subarray(0, 8)).toEqual(Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]))
    const headerLength = npy.readUInt16LE(8)
    expect(npy.subarray(10, 10 + headerLength).toString('latin1')).toMatch(
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(4, 4\), \} *\n$/,
    )
    const values = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLength, npy.byteOffset + npy.length))
    expect(values).toEqual(tensor.data)
  }, 60_000)

  test('cancels unassigned jobs, its own and a gateway one, and `job wait` says they ended without a result (exit 2)', async () => {
    // Below every provider's ask: never matched, so still OPEN when cancelled.
    const cheap = ['--model', model, '--input', input, '--max-price', '0.0001']
    const direct = jsonOf<{ jobId: string }>(await tessera('job', 'submit', ...cheap, '--direct'))
    const viaGateway = jsonOf<{ jobId: string }>(await tessera('job', 'submit', ...cheap))
    for (const id of [direct.jobId, viaGateway.jobId])
      await waitFor(`job ${id} indexed`, async () => ((await tessera('job', 'status', id)).code === 0 ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 500,
      })
    expect(jsonOf(await tessera('job', 'cancel', direct.jobId))).toMatchObject({ via: 'direct' })
    expect(jsonOf(await tessera('job', 'cancel', viaGateway.jobId))).toMatchObject({ via: 'gateway' })
    for (const id of [direct.jobId, viaGateway.jobId]) {
      const wait = await tessera('job', 'wait', id, '--timeout', '30', '--poll-interval', '0.5')
      expect(wait.code).toBe(2)
      expect(wait.stderr).toContain(`job ${id} ended CANCELLED`)
    }
    const again = await tessera('job', 'cancel', direct.jobId)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`job ${direct.jobId} is CANCELLED: only an OPEN job (no provider assigned yet) can be cancelled`)

    const listed = jsonOf<{ jobs: { id: string; status: string; via: string }[] }>(await tessera('job', 'list'))
    expect(listed.jobs.map((j) => [j.id, j.status, j.via])).toEqual(
      expect.arrayContaining([
        [jobId, 'COMPLETED', 'gateway'],
        [direct.jobId, 'CANCELLED', 'direct'],
        [viaGateway.jobId, 'CANCELLED', 'gateway'],
      ]),
    )
    const timedOut = await tessera('job', 'wait', '999', '--timeout', '1', '--poll-interval', '0.5')
    expect(timedOut.code).toBe(3)
    expect(timedOut.stderr).toContain('job 999 did not finish within 1 s')
  }, 120_000)
})

describe('a provider', () => {
  const asAgent = (...args: string[]) => tessera(...args, '--key-file', path.join(dir, 'agent.key'))

  /** The agent's TSR balance, on chain. */
  const balance = () =>
    createPublicClient({ transport: http(stack.rpcUrl) }).readContract({
      address: stack.deployment.contracts.TesseraToken.address,
      abi: tesseraTokenAbi,
      functionName: 'balanceOf',
      args: [agent],
    })
  type ApiProvider = { owed: string; claimable: string; claimableRewards: { epoch: string; amount: string }[] }
  /** What the API says JobMarket owes the agent and what its rewards would mint. */
  const fromApi = async () =>
    (
      await gqlData<{ provider: ApiProvider }>(
        new URL('/graphql', stack.serverUrl).href,
        'query ($a: Address!) { provider(address: $a) { owed claimable claimableRewards { epoch amount } } }',
        { a: agent },
      )
    ).provider

  test('reads its account, withdraws what JobMarket owes it (its balance rises by what the API said), then has nothing left to withdraw', async () => {
    const status = jsonOf<{ registered: boolean; jobsCompleted: number; owed: string }>(
      await tessera('provider', 'status', '--address', agent),
    )
    expect(status.registered).toBe(true)
    expect(status.jobsCompleted).toBeGreaterThanOrEqual(1)
    const api = await fromApi()
    expect(BigInt(api.owed)).toBeGreaterThan(0n)
    expect(status.owed).toBe(api.owed)
    const before = await balance()
    const withdrawn = jsonOf<{ owed: string; withdrawn: string }>(await asAgent('provider', 'withdraw'))
    expect(withdrawn.withdrawn).toBe(api.owed)
    expect((await balance()) - before).toBe(BigInt(api.owed))
    expect((await fromApi()).owed).toBe('0')
    const twice = await asAgent('provider', 'withdraw')
    expect(jsonOf(twice)).toMatchObject({ owed: '0', withdrawn: '0' })
    expect(twice.stderr).toContain('JobMarket owes this account nothing')
  }, 60_000)

  test('claims its emission reward once its epoch has closed: each epoch the API listed, for exactly what it said', async () => {
    const api = await waitFor(
      'a closed epoch with a reward for the agent',
      async () => {
        const read = await fromApi()
        return BigInt(read.claimable) > 0n ? read : undefined
      },
      { timeoutMs: 6 * epochLength * 1000, intervalMs: 1000 },
    )
    expect(api.claimableRewards.reduce((sum, r) => sum + BigInt(r.amount), 0n)).toBe(BigInt(api.claimable))
    const before = await balance()
    const claimed = jsonOf<{ total: string; claimed: { epoch: string; amount: string }[] }>(await asAgent('provider', 'claim'))
    // Every epoch the API listed is claimed for its amount; an epoch that closed since may come too.
    for (const reward of api.claimableRewards)
      expect(claimed.claimed).toContainEqual(expect.objectContaining({ epoch: reward.epoch, amount: reward.amount }))
    expect((await balance()) - before).toBe(BigInt(claimed.total))
    expect(jsonOf(await asAgent('provider', 'claim'))).toMatchObject({ claimed: [] })
  }, 120_000)

  test('a fresh one registers, stakes and starts unbonding', async () => {
    const asSpare = (...args: string[]) => tessera(...args, '--key-file', path.join(dir, 'spare.key'))
    const registered = jsonOf(await asSpare('provider', 'register', '--price', '0.002', '--benchmark-score', '1000', '--data-dir', dir))
    expect(registered).toMatchObject({ registered: 'new', stake: '0' })
    expect(jsonOf(await asSpare('provider', 'stake', '--amount', '200'))).toMatchObject({ staked: parseEther('200').toString() })
    expect(jsonOf(await asSpare('provider', 'unstake', '--amount', '50'))).toMatchObject({ pendingUnstake: parseEther('50').toString() })
    const early = await asSpare('provider', 'unstake', '--complete')
    expect(early.code).toBe(1)
    expect(early.stderr).toContain('UnbondingNotElapsed')
    // As the server indexed it, a block or two later.
    const status = await waitFor(
      'the stake indexed',
      async () => {
        const read = jsonOf<{ stake?: string; pendingUnstake?: string }>(await asSpare('provider', 'status'))
        return read.pendingUnstake === parseEther('50').toString() ? read : undefined
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    )
    expect(status).toMatchObject({ registered: true, stake: parseEther('200').toString(), freeStake: parseEther('150').toString() })
  }, 90_000)
})
