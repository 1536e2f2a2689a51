import type { Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { buildMlp, makeInput } from '../../agent/models/buildMlp.ts'
import { jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { JobSpecArgs, TestSystem } from '../../devnet/testSystem.ts'
import { heartbeatMessage } from '../../protocol/heartbeat.ts'
import { encodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { TSR } from '../../protocol/units.ts'
import { type Fetch, gqlData } from './graphql.ts'

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

/** Signs a heartbeat of `account` for now and sends it to the server at `graphqlUrl`; throws on a GraphQL error. */
export async function sendHeartbeat(graphqlUrl: string, account: PrivateKeyAccount, fetchFn?: Fetch): Promise<void> {
  const timestamp = Math.floor(Date.now() / 1000)
  const signature = await account.signMessage({ message: heartbeatMessage(account.address, timestamp) })
  await gqlData(
    graphqlUrl,
    'mutation($p: Address!, $t: Int!, $s: String!) { heartbeat(provider: $p, timestamp: $t, signature: $s) }',
    { p: account.address, t: timestamp, s: signature },
    fetchFn,
  )
}

/**
 * Uploads a job the matcher will assign: a small MLP and an input of `rows` rows that fits it (the default 4 matches
 * {@link approveAndSubmitJob}'s units). Returns their hashes.
 */
export async function uploadRunnableJob(serverUrl: string, rows = 4): Promise<{ modelHash: Hex; inputHash: Hex }> {
  const put = async (bytes: Uint8Array) =>
    (
      (await (await fetch(new URL('/blobs', serverUrl), { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer> })).json()) as {
        sha256: Hex
      }
    ).sha256
  const modelHash = await put(buildMlp({ seed: 11, inputSize: 16, hiddenSize: 16, outputSize: 4 }))
  const inputHash = await put(encodeTensorBlob({ dims: [rows, 16], data: makeInput({ seed: rows, rows, inputSize: 16 }) }))
  return { modelHash, inputHash }
}
