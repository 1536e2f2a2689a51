import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Address, createPublicClient, createWalletClient, type Hex, http, parseEther } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { Stack } from '../../devnet/startStack.ts'
import { defaultHardware } from '../../devnet/testSystem.ts'
import { encodeRegion } from '../../protocol/region.ts'
import type { ChallengeIssuerOptions } from '../../server/leader/challengeIssuer.ts'
import { createTestDatabase } from './database.ts'
import { gqlData, waitFor } from './graphql.ts'
import { sendHeartbeat } from './market.ts'
import { startTestStack } from './stack.ts'

/**
 * A provider with no agent: registered and staked (twice the minimum) like any provider, live by heartbeats every 5 s
 * until `stop()`, and never running anything it is assigned. Its key must hold TSR (a stack's `spareProviders`).
 */
export async function startGhostProvider(
  stack: Stack,
  ghost: PrivateKeyAccount,
  options: { hardware?: Partial<typeof defaultHardware>; pricePerUnit?: bigint } = {},
): Promise<{ stop: () => void }> {
  const client = createPublicClient({ transport: http(stack.rpcUrl) })
  const wallet = createWalletClient({ account: ghost, chain: foundry, transport: http(stack.rpcUrl) })
  const { ProviderRegistry: registry, TesseraToken: token } = stack.deployment.contracts
  const stake = stack.deployment.params.registry.minStake * 2n
  for (const call of [
    {
      address: registry.address,
      abi: providerRegistryAbi,
      functionName: 'register',
      args: [{ ...defaultHardware, ...options.hardware }, options.pricePerUnit ?? parseEther('0.001'), encodeRegion('eu'), '0x01'],
    },
    { address: token.address, abi: tesseraTokenAbi, functionName: 'approve', args: [registry.address, stake] },
    { address: registry.address, abi: providerRegistryAbi, functionName: 'stake', args: [stake] },
  ] as const) {
    const hash = await wallet.writeContract(call as never)
    await client.waitForTransactionReceipt({ hash })
  }
  // The server takes heartbeats only from a provider it has indexed as registered: the first waits for that.
  await waitFor('the ghost provider’s first heartbeat', () => sendHeartbeat(stack.graphqlUrl, ghost).then(() => true), { intervalMs: 250 })
  const beat = () => sendHeartbeat(stack.graphqlUrl, ghost).catch(() => undefined)
  const heartbeats = setInterval(beat, 5_000)
  return { stop: () => clearInterval(heartbeats) }
}

/**
 * A stack for one challenge round with a ghost among its providers: its own database and data directory, honest agents
 * asking 0.001 TSR per unit, and the ghost (a spare provider of the stack) started. `stop` tears it all down.
 */
export async function startGhostStack(parameters: {
  name: string
  agentKeys: readonly Hex[]
  /** The ghost's key: it must be a dev key the stack funds as a spare provider. */
  ghostKey: Hex
  challenges: ChallengeIssuerOptions
  /** How the ghost registers: its declared hardware and its ask (default hardware, 0.001 TSR). */
  ghostOptions?: Parameters<typeof startGhostProvider>[2]
  /** Keys the stack funds as requesters. */
  requesters?: Hex[]
}): Promise<{ stack: Stack; ghost: { stop: () => void }; stop: () => Promise<void> }> {
  const database = await createTestDatabase()
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `tessera-${parameters.name}-`))
  const stack = await startTestStack({
    dataDir,
    databaseUrl: database.url,
    agents: parameters.agentKeys.map((privateKey) => ({ privateKey, pricePerUnit: parseEther('0.001') })),
    spareProviders: [parameters.ghostKey],
    requesters: parameters.requesters,
    challenges: parameters.challenges,
  })
  const ghost = await startGhostProvider(stack, privateKeyToAccount(parameters.ghostKey), parameters.ghostOptions)
  return {
    stack,
    ghost,
    async stop() {
      ghost.stop()
      await stack.stop()
      await database.drop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** A job as the ghost tests follow it: status, each provider's outcome and round, and the payments. */
export type GhostJobRow = {
  id: string
  status: string
  assignments: { provider: Address; outcome: string; round: number; revealedAt: string | null }[]
  payments: { kind: string; account: Address }[]
}

/** The jobs `provider` was assigned (its own and any it audited), as GraphQL serves them. */
export async function jobsOfProvider(graphqlUrl: string, provider: Address): Promise<GhostJobRow[]> {
  const { jobs } = await gqlData<{ jobs: { edges: { node: GhostJobRow }[] } }>(
    graphqlUrl,
    'query($p: Address!) { jobs(where: { provider: $p }) { edges { node { id status assignments { provider outcome round revealedAt } payments { kind account } } } } }',
    { p: provider },
  )
  return jobs.edges.map((e) => e.node)
}

/**
 * Waits until nothing of `honest` providers is in flight, so a jump in chain time can't pass one of their commit
 * windows: each one's own challenge (its round-1 assignment) revealed by it, its spot check decided (block
 * revealBlock + 1 mined) and, when chosen, its auditor assigned and, unless the auditor is the ghost (whose abandoned
 * audit is its own fault), revealed; and no other assignment of theirs waiting for a commit or reveal.
 *
 * Its own reveal, not the job's status: a spot-checked job audited by the ghost shows ASSIGNED for the ghost's whole
 * commit window (two minutes), and DISPUTED only between the ghost's expiry and the next auditor's assignment.
 */
export async function untilHonestSettled(stack: Stack, honest: readonly Address[], ghost: Address): Promise<void> {
  const client = createPublicClient({ transport: http(stack.rpcUrl) })
  const market = stack.deployment.contracts.JobMarket.address
  const is = (a: { provider: Address }, p: Address) => a.provider.toLowerCase() === p.toLowerCase()
  const jobOf = async (p: Address, id?: string) =>
    id ? (await jobsOfProvider(stack.graphqlUrl, p)).find((j) => j.id === id) : ownChallengeOf(stack.graphqlUrl, p)
  for (const p of honest) {
    // Seconds on a quiet machine; a CI machine running two challenge stacks at once has taken over a minute.
    const own = await waitFor(
      `${p}'s challenge revealed`,
      async () => {
        const job = await jobOf(p)
        return job?.assignments.some((a) => is(a, p) && a.round === 1 && a.revealedAt !== null) ? job : undefined
      },
      { timeoutMs: 120_000 },
    )
    const { revealBlock } = (await client.readContract({
      address: market,
      abi: jobMarketAbi,
      functionName: 'getAudit',
      args: [BigInt(own.id)],
    })) as {
      revealBlock: bigint
    }
    await waitFor('the spot check decided', async () => ((await client.getBlockNumber()) > revealBlock + 1n ? true : undefined))
    const kind = await client.readContract({ address: market, abi: jobMarketAbi, functionName: 'spotCheckOf', args: [BigInt(own.id)] })
    if (kind === 0) continue
    const auditor = await waitFor(`${p}'s spot check assigned`, async () => (await jobOf(p, own.id))?.assignments.find((a) => !is(a, p)))
    if (is(auditor, ghost)) continue
    await waitFor(`${p}'s spot check run`, async () =>
      (await jobOf(p, own.id))?.assignments.some((a) => is(a, auditor.provider) && a.revealedAt !== null) ? true : undefined,
    )
  }
  // Nor anything else they were handed meanwhile: an audit the ghost abandoned that expired on its own (a slow run
  // outlasting a commit window) goes to an honest provider, whose commit a jump in time would then shut out.
  await untilNoHonestInFlight(stack, honest)
}

/**
 * Waits until no assignment of `honest` providers waits for their commit or reveal (a jump in time would shut it out),
 * as of an index caught up with the chain: the answer holds for every block mined so far, and the chain has mined none
 * since (an assignment mined after the jump gets its whole commit window from the jumped clock). Without that, an
 * assignment mined but not yet indexed (the next auditor of a job whose ghost audit just expired) would be missed.
 */
export async function untilNoHonestInFlight(stack: Stack, honest: readonly Address[]): Promise<void> {
  const client = createPublicClient({ transport: http(stack.rpcUrl) })
  const is = (a: { provider: Address }, p: Address) => a.provider.toLowerCase() === p.toLowerCase()
  const inFlight = async () => {
    for (const p of honest)
      for (const job of await jobsOfProvider(stack.graphqlUrl, p)) {
        if (!['ASSIGNED', 'COMMITTED'].includes(job.status)) continue
        const round = Math.max(...job.assignments.map((a) => a.round))
        if (job.assignments.some((a) => is(a, p) && a.round === round && a.revealedAt === null)) return true
      }
    return false
  }
  await waitFor('no honest assignment in flight, indexed to the chain head', async () => {
    const head = await client.getBlockNumber()
    const { _meta } = await gqlData<{ _meta: { block: string | null } }>(stack.graphqlUrl, '{ _meta { block } }')
    if (_meta.block === null || BigInt(_meta.block) < head) return undefined
    if (await inFlight()) return undefined
    return (await client.getBlockNumber()) === head ? true : undefined
  })
}

/** `provider`'s own challenge: the job it was first assigned (an audit it was given of another's is a later round). */
export async function ownChallengeOf(graphqlUrl: string, provider: Address): Promise<GhostJobRow | undefined> {
  const mine = (a: { provider: Address }) => a.provider.toLowerCase() === provider.toLowerCase()
  return (await jobsOfProvider(graphqlUrl, provider)).find((j) => j.assignments.some((a) => mine(a) && a.round === 1))
}

/**
 * The no-shows the index holds for `provider` across every job it was given, once the slashes match them: a ghost is
 * slashed for each assignment it abandons, its own challenge and any audit it was handed before it went silent.
 */
export async function settledNoShows(graphqlUrl: string, provider: Address): Promise<{ noShows: number; slashCount: number }> {
  return waitFor(`${provider}'s no-shows slashed`, async () => {
    const noShows = (await jobsOfProvider(graphqlUrl, provider))
      .flatMap((j) => j.assignments)
      .filter((a) => a.provider.toLowerCase() === provider.toLowerCase() && a.outcome === 'NO_SHOW').length
    const { provider: row } = await gqlData<{ provider: { slashCount: number } }>(
      graphqlUrl,
      'query($a: Address!) { provider(address: $a) { slashCount } }',
      {
        a: provider,
      },
    )
    return noShows > 0 && row.slashCount === noShows ? { noShows, slashCount: row.slashCount } : undefined
  })
}
