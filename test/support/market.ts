import { type Hex, keccak256, parseEventLogs, type TransactionReceipt, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { buildMlp, makeInput } from '../../agent/models/buildMlp.ts'
import { fetchDeployment, uploadBlob } from '../../client/serverClient.ts'
import { jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { type JobSpecArgs, sampleJobSpec, type TestSystem } from '../../devnet/testSystem.ts'
import { parseDeployment } from '../../protocol/deployment.ts'
import { commitmentOf } from '../../protocol/fingerprint.ts'
import { heartbeatDomain, heartbeatMessage, nextHeartbeatSecond } from '../../protocol/heartbeat.ts'
import { encodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { TSR } from '../../protocol/units.ts'
import { type Fetch, gqlData } from './graphql.ts'
import { fingerprintOfLabel } from './labelledOutputs.ts'

/** JobMarket calls on a test system: views, and transactions sent from one of its accounts. */
export function jobMarketOf(system: Pick<TestSystem, 'read' | 'write' | 'market'>) {
  return {
    read: <T>(functionName: string, args: readonly unknown[] = []) =>
      system.read<T>({ address: system.market, abi: jobMarketAbi, functionName, args }),
    write: (account: PrivateKeyAccount, functionName: string, args: readonly unknown[] = []) =>
      system.write(account, { address: system.market, abi: jobMarketAbi, functionName, args }),
  }
}

/** The arguments of the JobMarket events named `eventName` in `receipt`, in log order. */
export function marketEvents(receipt: TransactionReceipt, eventName: string): { args: Record<string, unknown> }[] {
  return parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: eventName as never }) as unknown as {
    args: Record<string, unknown>
  }[]
}

/** A revealed result: the fingerprint committed to and the hash of the output blob. */
export type RoundResult = { fingerprint: Hex; outputHash: Hex }

/** A labelled output's result (test/support/labelledOutputs.ts), with a stand-in output hash. */
export function labelledResult(label: string): RoundResult {
  return { fingerprint: fingerprintOfLabel(label), outputHash: keccak256(toHex(`output:${label}`)) }
}

/**
 * One round as the matcher and agents play it: the matcher assigns `who`, each commits to `results[i]` and then
 * reveals it (`undefined`: commits, never reveals). Returns the last reveal's receipt, if any.
 */
export async function runMarketRound(
  system: Pick<TestSystem, 'read' | 'write' | 'market' | 'accounts'>,
  jobId: bigint,
  who: readonly PrivateKeyAccount[],
  results: readonly (RoundResult | undefined)[],
): Promise<TransactionReceipt | undefined> {
  const market = jobMarketOf(system)
  const salt = (provider: Hex) => keccak256(toHex(`salt:${jobId}:${provider}`))
  const committed = (i: number) => results[i] ?? labelledResult('silent')
  await market.write(system.accounts.matcher, 'assign', [jobId, who.map((p) => p.address)])
  const { spec } = await market.read<{ spec: { inputHash: Hex } }>('getJob', [jobId])
  for (const [i, p] of who.entries())
    await market.write(p, 'commitResult', [
      jobId,
      spec.inputHash,
      commitmentOf({ jobId, provider: p.address, ...committed(i), salt: salt(p.address) }),
    ])
  let receipt: TransactionReceipt | undefined
  for (const [i, p] of who.entries()) {
    const result = results[i]
    if (result) receipt = await market.write(p, 'revealResult', [jobId, result.fingerprint, result.outputHash, salt(p.address)])
  }
  return receipt
}

/** `count` fresh jobs of the sample spec, submitted by `requester` (escrow approved) and each assigned to `who`. */
export async function submitAndAssignJobs(
  system: TestSystem,
  requester: PrivateKeyAccount,
  count: number,
  who: readonly PrivateKeyAccount[],
): Promise<bigint[]> {
  const market = jobMarketOf(system)
  const ids: bigint[] = []
  for (let i = 0; i < count; i++) {
    const receipt = await market.write(requester, 'submitJob', [await sampleJobSpec(system)])
    const jobId = marketEvents(receipt, 'JobSubmitted')[0]?.args.jobId as bigint
    await market.write(system.accounts.matcher, 'assign', [jobId, who.map((p) => p.address)])
    ids.push(jobId)
  }
  return ids
}

/** `requester` submits an optimistic job (k = 1) of the sample spec with `overrides`; it must have approved the escrow. */
export async function submitOptimisticJob(
  system: TestSystem,
  requester: PrivateKeyAccount,
  overrides: Partial<JobSpecArgs> = {},
): Promise<{ jobId: bigint; spec: JobSpecArgs }> {
  const spec = await sampleJobSpec(system, { redundancy: 1, verification: 1, ...overrides })
  const receipt = await jobMarketOf(system).write(requester, 'submitJob', [spec])
  return { jobId: marketEvents(receipt, 'JobSubmitted')[0].args.jobId as bigint, spec }
}

/**
 * `requester` approves the escrow JobMarket quotes for the job and submits it. The spec's fields other than the blobs
 * default to 4 units at up to 0.1 TSR a unit, redundancy 2, any hardware and region, no verification, a deadline an
 * hour from the chain's clock and an output tolerance of 10. Returns the new job's id (read from `nextJobId` just
 * before) and the escrow approved.
 */
export async function approveAndSubmitJob(
  system: TestSystem,
  requester: PrivateKeyAccount,
  fields: Pick<JobSpecArgs, 'modelHash' | 'inputHash'> & Partial<JobSpecArgs>,
): Promise<{ jobId: bigint; escrow: bigint }> {
  const spec: JobSpecArgs = {
    units: 4n,
    maxPricePerUnit: TSR / 10n,
    minVramMiB: 0,
    gpuModel: 0,
    regions: [],
    redundancy: 2,
    verification: 0,
    outputTolerance: 10,
    ...fields,
    // After the spread: a `deadline: undefined` field means the default too.
    deadline: fields.deadline ?? (await system.now()) + 3600n,
  }
  const escrow = await system.read<bigint>({
    address: system.market,
    abi: jobMarketAbi,
    functionName: 'quoteEscrow',
    // An optimistic job escrows as k = 2 would: its second run is held for an audit.
    args: [spec.maxPricePerUnit, spec.units, spec.verification === 1 ? 2 : spec.redundancy],
  })
  await system.write(requester, { address: system.token, abi: tesseraTokenAbi, functionName: 'approve', args: [system.market, escrow] })
  const jobId = await system.read<bigint>({ address: system.market, abi: jobMarketAbi, functionName: 'nextJobId' })
  await system.write(requester, { address: system.market, abi: jobMarketAbi, functionName: 'submitJob', args: [spec] })
  return { jobId, escrow }
}

/** The last second each address heartbeated in (lower-case), so {@link sendHeartbeat} never sends two in one. */
const lastHeartbeatSecond = new Map<string, number>()

/**
 * Signs a heartbeat of `account` for now, the server's chain (read from its `/deployment`) and the host of `graphqlUrl`,
 * and sends it there; throws on a GraphQL error. A second heartbeat of the same account waits for the clock's next
 * second, as the server refuses a timestamp not after the last it accepted.
 */
export async function sendHeartbeat(graphqlUrl: string, account: PrivateKeyAccount, fetchFn: Fetch = fetch): Promise<void> {
  const { chainId } = parseDeployment(await (await fetchFn(new URL('/deployment', graphqlUrl).href, {})).json())
  const key = account.address.toLowerCase()
  const timestamp = await nextHeartbeatSecond(lastHeartbeatSecond.get(key) ?? 0)
  lastHeartbeatSecond.set(key, timestamp)
  const message = heartbeatMessage({ chainId, domain: heartbeatDomain(graphqlUrl), provider: account.address, timestamp })
  const signature = await account.signMessage({ message })
  await gqlData(
    graphqlUrl,
    'mutation($p: Address!, $t: Int!, $s: String!) { heartbeat(provider: $p, timestamp: $t, signature: $s) }',
    { p: account.address, t: timestamp, s: signature },
    fetchFn,
  )
}

/**
 * Uploads a job the matcher will assign: a small MLP and an input of `rows` rows that fits it (the default 4 matches
 * {@link approveAndSubmitJob}'s units), its values drawn from `seed` (a different seed, a different input hash), signed
 * by `uploader` (a funded account: the server refuses others; the job's providers may read them whoever uploaded them).
 * Returns their hashes.
 */
export async function uploadRunnableJob(
  serverUrl: string,
  uploader: PrivateKeyAccount,
  rows = 4,
  seed = rows,
): Promise<{ modelHash: Hex; inputHash: Hex }> {
  const { chainId } = await fetchDeployment({ serverUrl })
  const credentials = { account: uploader, chainId }
  const put = async (bytes: Uint8Array) => (await uploadBlob({ serverUrl, bytes, credentials })).sha256
  const modelHash = await put(buildMlp({ seed: 11, inputSize: 16, hiddenSize: 16, outputSize: 4 }))
  const inputHash = await put(encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed, rows, inputSize: 16 }) }))
  return { modelHash, inputHash }
}
