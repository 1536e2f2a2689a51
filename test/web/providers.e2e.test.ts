import type { Page } from 'playwright-core'
import { type Address, createPublicClient, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { gpuModelName } from '../../protocol/hardware.ts'
import { formatTsr } from '../../web/src/format.ts'
import { noBrowserReason, screenshot, startWebStack, tsrWeiOf, type WebStack } from '../support/browser.ts'
import { gqlData, waitFor } from '../support/graphql.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's provider tests: ${noBrowserReason}`)

type ProviderRow = {
  address: Address
  gpuModel: string
  gpuCount: number
  vramMiB: string
  benchmarkScore: string
  pricePerUnit: string
  reputation: number
  attestedCapacity: string
  challengesPassed: number
  challengesFailed: number
  stake: string
  earnings: { earnedTotal: string }
  jobsCompleted: number
  live: boolean
  paused: boolean
}

/** Short epochs, so the epochs the agents earned fees in close (and their rewards become claimable) within the test. */
const EPOCH_SECONDS = 5

/** Dev key 2 runs the cheaper agent (0.001 TSR/unit), dev key 3 the dearer (0.002). */
const cheap = privateKeyToAccount(devKeys[2]).address
const dear = privateKeyToAccount(devKeys[3]).address

describe.skipIf(noBrowserReason)('providers, provider page and provider console', () => {
  let web: WebStack
  let graphqlUrl: string
  const query = <T>(text: string, variables?: Record<string, unknown>) => gqlData<T>(graphqlUrl, text, variables)
  const balanceOf = (address: Address) =>
    createPublicClient({ transport: http(web.stack.rpcUrl) }).readContract({
      address: web.stack.deployment.contracts.TesseraToken.address,
      abi: tesseraTokenAbi,
      functionName: 'balanceOf',
      args: [address],
    })

  beforeAll(async () => {
    web = await startWebStack({ epochLength: EPOCH_SECONDS })
    graphqlUrl = web.stack.graphqlUrl
  }, 240_000)
  afterAll(async () => {
    await web?.stop()
  }, 60_000)

  /** Once no job is still running, nothing more is credited: the numbers hold still for the assertions. */
  const waitForSettles = () =>
    waitFor(
      'every job to settle',
      async () => {
        const { jobs } = await query<{ jobs: { totalCount: number } }>(
          '{ jobs(where: { status_in: [OPEN, ASSIGNED, COMMITTED, REVEALED, DISPUTED] }) { totalCount } }',
        )
        return jobs.totalCount === 0 ? true : undefined
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    )

  test('the list shows both agents as the API does, live; the provider page shows what each ran', async () => {
    const { page, errors } = await web.open('/providers')
    await page.getByRole('heading', { name: 'Providers', level: 1 }).waitFor()
    const row = (address: Address) => page.getByTestId(`provider-${address}`)
    await row(cheap).waitFor()
    await row(dear).waitFor()

    // No reload: the completed-jobs column must move through the live feed alone.
    const stopDemo = web.startDemo(500)
    try {
      await page.waitForFunction(
        ([address]) => Number(document.querySelector(`[data-testid="provider-${address}"] td:last-child`)?.textContent) >= 3,
        [cheap],
        { timeout: 90_000 },
      )
      await waitFor('both agents to complete jobs', async () => {
        const { providers } = await query<{ providers: { edges: { node: { jobsCompleted: number } }[] } }>(
          '{ providers { edges { node { jobsCompleted } } } }',
        )
        return providers.edges.every((e) => e.node.jobsCompleted >= 3) ? true : undefined
      })
    } finally {
      stopDemo()
    }
    await waitForSettles()

    const { providers } = await query<{ providers: { edges: { node: ProviderRow }[] } }>(`{
      providers { edges { node {
        address gpuModel gpuCount vramMiB benchmarkScore pricePerUnit reputation attestedCapacity challengesPassed challengesFailed stake
        earnings { earnedTotal } jobsCompleted live paused
      } } }
    }`)
    expect(providers.edges.map((e) => e.node.address).sort()).toEqual([cheap, dear].sort())
    for (const { node: p } of providers.edges) {
      const cells = [
        `${p.gpuCount > 1 ? `${p.gpuCount} × ` : ''}${gpuModelName(BigInt(p.gpuModel))}`,
        `${(Number(p.vramMiB) / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} GiB`,
        Number(p.benchmarkScore).toLocaleString('en-US'),
        p.paused ? 'paused' : p.live ? 'live' : 'offline',
        p.reputation.toFixed(3),
        formatTsr(p.pricePerUnit, 6),
        Number(p.attestedCapacity).toLocaleString('en-US'),
        `${p.challengesPassed} / ${p.challengesFailed}`,
        formatTsr(p.stake, 2),
        formatTsr(p.earnings.earnedTotal, 6),
        p.jobsCompleted.toLocaleString('en-US'),
      ]
      // The page reads again each second; the API's numbers hold still now, so the row comes to show exactly them.
      await expect.poll(() => row(p.address).getByRole('cell').allTextContents()).toEqual(cells)
    }
    expect(await row(cheap).textContent()).toContain('0.001 TSR')
    expect(await row(dear).textContent()).toContain('0.002 TSR')
    expect(await row(cheap).getByRole('link').getAttribute('href')).toBe(`/providers/${cheap}`)

    // Sorting by price through the API: ascending first, then descending.
    const firstRow = () => page.locator('[data-testid="providers-table"] tbody tr').first().getAttribute('data-testid')
    await page.getByRole('button', { name: /Price per unit/ }).click()
    await expect.poll(firstRow).toBe(`provider-${cheap}`)
    await page.getByRole('button', { name: /Price per unit/ }).click()
    await expect.poll(firstRow).toBe(`provider-${dear}`)
    await screenshot(page, 'providers')

    // The address links to the provider's page, whose history lists the jobs the API says it ran.
    await row(cheap).getByRole('link').click()
    await page.getByRole('heading', { name: `Provider ${cheap}`, level: 1 }).waitFor()
    const { provider } = await query<{ provider: { assignments: { jobId: string; outcome: string }[]; jobsCompleted: number } }>(
      'query ($a: Address!) { provider(address: $a) { jobsCompleted assignments(first: 200) { jobId outcome } } }',
      { a: cheap },
    )
    const assignments = page.getByTestId('provider-assignments')
    await assignments.waitFor()
    await expect.poll(() => assignments.locator('tbody tr').count()).toBe(provider.assignments.length)
    for (const a of provider.assignments.slice(0, 5))
      expect(await assignments.getByRole('link', { name: `Job ${a.jobId}`, exact: true }).getAttribute('href')).toBe(`/jobs/${a.jobId}`)
    expect(await page.getByTestId('provider-jobs-completed').textContent()).toBe(provider.jobsCompleted.toLocaleString('en-US'))
    expect(await page.getByTestId('provider-price').textContent()).toBe('0.001 TSR')
    const agreed = provider.assignments.filter((a) => a.outcome === 'AGREED').length
    const historyAgreed = (await page.locator('[data-testid="provider-history-table"] tbody tr td:nth-child(3)').allTextContents())
      .map(Number)
      .reduce((a, b) => a + b, 0)
    expect(historyAgreed).toBe(agreed)
    expect(await page.locator('[data-testid="provider-history-chart"] canvas').count()).toBeGreaterThan(0)
    await screenshot(page, 'provider')
    expect(errors).toEqual([])

    const unknown = await web.open(`/providers/0x${'00'.repeat(19)}01`)
    await unknown.page.getByTestId('provider-missing').waitFor()
    expect(await unknown.page.getByRole('alert').textContent()).toContain('No provider is registered at')
    const malformed = await web.open('/providers/0x1234')
    expect(await malformed.page.getByRole('alert').textContent()).toContain('is not an address')
    expect([...unknown.errors, ...malformed.errors]).toEqual([])
  }, 300_000)

  /** The console connected as dev account #2 (the cheaper agent). */
  async function openConsole(): Promise<{ page: Page; errors: string[] }> {
    const opened = await web.open('/console')
    await opened.page.getByRole('heading', { name: 'Provider console', level: 1 }).waitFor()
    await opened.page.getByRole('button', { name: 'Use dev account' }).click()
    expect(await opened.page.getByTestId('wallet-address').textContent()).toBe(cheap)
    await opened.page.getByTestId('console-provider').waitFor()
    return opened
  }

  test('a provider withdraws what JobMarket owes it', async () => {
    await waitForSettles()
    const { page, errors } = await openConsole()
    const owedText = page.getByTestId('console-owed')
    await expect.poll(async () => tsrWeiOf(await owedText.textContent()), { timeout: 30_000 }).toBeGreaterThan(0n)
    const owed = tsrWeiOf(await owedText.textContent())
    const { account } = await query<{ account: { owed: string } }>('query ($a: Address!) { account(address: $a) { owed } }', { a: cheap })
    expect(owed).toBe(BigInt(account.owed))

    const before = await balanceOf(cheap)
    await page.getByRole('button', { name: 'Withdraw' }).click()
    await page.getByTestId('console-result').waitFor({ timeout: 30_000 })
    expect(await balanceOf(cheap)).toBe(before + owed)
    expect(tsrWeiOf(await page.getByTestId('console-received').textContent())).toBe(owed)
    await expect.poll(async () => tsrWeiOf(await owedText.textContent())).toBe(0n)

    // Nothing left: the API's refusal shows, in its own words.
    await page.getByRole('button', { name: 'Withdraw' }).click()
    const refusal = page.getByTestId('console-error')
    await refusal.waitFor()
    expect(await refusal.textContent()).toContain('is owed nothing by JobMarket')
    expect(await refusal.getAttribute('role')).toBe('alert')
    expect(errors).toEqual([])
  }, 120_000)

  test('a provider claims the rewards of the closed epochs it earned fees in', async () => {
    await waitForSettles()
    // Every epoch it was paid in must have closed, or more would become claimable after the page read it.
    const { provider } = await query<{ provider: { assignments: { settledAt: string | null; paid: string }[] } }>(
      'query ($a: Address!) { provider(address: $a) { assignments(first: 1000) { settledAt paid } } }',
      { a: cheap },
    )
    const { emissionGenesis } = web.stack.deployment
    const paidAt = provider.assignments.filter((a) => a.settledAt && BigInt(a.paid) > 0n).map((a) => Number(a.settledAt))
    expect(paidAt.length).toBeGreaterThan(0)
    const lastPaidEpoch = Math.floor((Math.max(...paidAt) - Number(emissionGenesis)) / EPOCH_SECONDS)
    await waitFor(
      `epoch ${lastPaidEpoch} to close and be indexed`,
      async () => {
        const { epochs } = await query<{ epochs: { edges: { node: { id: string } }[] } }>('{ epochs(first: 1) { edges { node { id } } } }')
        return epochs.edges[0] && Number(epochs.edges[0].node.id) >= lastPaidEpoch ? true : undefined
      },
      { timeoutMs: 60_000 },
    )

    const { page, errors } = await openConsole()
    const claimableText = page.getByTestId('console-claimable')
    await expect.poll(async () => tsrWeiOf(await claimableText.textContent()), { timeout: 30_000 }).toBeGreaterThan(0n)
    const { provider: api } = await query<{ provider: { claimable: string; claimableRewards: { amount: string }[] } }>(
      'query ($a: Address!) { provider(address: $a) { claimable claimableRewards { amount } } }',
      { a: cheap },
    )
    const claimable = tsrWeiOf(await claimableText.textContent())
    expect(claimable).toBe(BigInt(api.claimable))
    expect(await page.getByTestId('console-rewards').locator('tbody tr').count()).toBe(api.claimableRewards.length)

    const before = await balanceOf(cheap)
    await page.getByRole('button', { name: 'Claim rewards' }).click()
    await page.getByTestId('console-result').waitFor({ timeout: 60_000 })
    expect(await balanceOf(cheap)).toBe(before + claimable)
    expect(tsrWeiOf(await page.getByTestId('console-received').textContent())).toBe(claimable)
    await expect.poll(async () => tsrWeiOf(await claimableText.textContent())).toBe(0n)
    await screenshot(page, 'console')
    expect(errors).toEqual([])
  }, 120_000)

  test('an account that is no provider is told so, and can claim nothing', async () => {
    const { page, errors } = await web.open('/console')
    await page.getByLabel('or dev account').selectOption('6')
    await page.getByRole('button', { name: 'Use dev account' }).click()
    const notice = page.getByTestId('console-not-provider')
    await notice.waitFor()
    expect(await notice.textContent()).toContain('is not a registered provider')
    expect(await page.getByRole('button', { name: 'Claim rewards' }).count()).toBe(0)
    await page.getByRole('button', { name: 'Withdraw' }).click()
    expect(await page.getByTestId('console-error').textContent()).toContain('is owed nothing by JobMarket')
    expect(errors).toEqual([])
  }, 60_000)
})
