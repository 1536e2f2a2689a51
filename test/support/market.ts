import type { PrivateKeyAccount } from 'viem/accounts'
import { jobMarketAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { JobSpecArgs, TestSystem } from '../../devnet/testSystem.ts'
import { heartbeatMessage } from '../../protocol/heartbeat.ts'
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
    deadline: fields.deadline ?? (await system.now()) + 3600n,
    outputTolerance: 10,
    ...fields,
  }
  const escrow = await system.read<bigint>({
    address: system.market,
    abi: jobMarketAbi,
    functionName: 'quoteEscrow',
    args: [spec.maxPricePerUnit, spec.units, spec.redundancy],
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
