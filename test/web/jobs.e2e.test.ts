import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { noBrowserReason, screenshot, startWebStack, type WebStack } from '../support/browser.ts'
import { gqlData, waitFor } from '../support/graphql.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's jobs tests: ${noBrowserReason}`)

type ApiJob = {
  id: string
  status: string
  assignments: { provider: string; outcome: string }[]
  payments: { kind: string; account: string; amount: string }[]
  output: { outputHash: string } | null
}

const jobFields = 'id status assignments { provider outcome } payments { kind account amount } output { outputHash }'

/** The job ids the explorer's table shows now. */
const rowIds = (page: Page) => page.getByTestId('job-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-job-id'))))

describe.skipIf(noBrowserReason)('jobs explorer and job page', () => {
  let web: WebStack
  let graphqlUrl: string
  let stopDemo: () => void = () => {}
  const api = <T>(query: string, variables?: Record<string, unknown>) => gqlData<T>(graphqlUrl, query, variables)
  const completedCount = async () =>
    (await api<{ jobs: { totalCount: number } }>('{ jobs(where: { status: COMPLETED }) { totalCount } }')).jobs.totalCount

  beforeAll(async () => {
    web = await startWebStack()
    graphqlUrl = `${web.stack.serverUrl}/graphql`
    stopDemo = web.startDemo(500)
    // Enough jobs for two pages of ten, some of them done.
    await waitFor(
      'the demo to submit 25 jobs and complete 3',
      async () => {
        const { jobs } = await api<{ jobs: { totalCount: number } }>('{ jobs { totalCount } }')
        return jobs.totalCount >= 25 && (await completedCount()) >= 3 ? true : undefined
      },
      { timeoutMs: 120_000 },
    )
  }, 240_000)
  afterAll(async () => {
    stopDemo()
    await web?.stop()
  }, 60_000)

  test('filters by status with the count the API gives, pages forward and back, and keeps the view in the URL', async () => {
    const { page, errors } = await web.open('/jobs')
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor()
    await page.getByTestId('job-row').first().waitFor()

    // A malformed address is named, not sent.
    await page.getByLabel('Requester').fill('0x1234')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    expect(await page.getByTestId('requester-error').textContent()).toMatch(/^Requester: "0x1234" is not an address/)
    expect(new URL(page.url()).search).toBe('')
    await page.getByLabel('Requester').fill('')

    await page.getByRole('checkbox', { name: 'COMPLETED' }).check()
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.waitForURL((url) => url.searchParams.get('status') === 'COMPLETED')
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="job-row"]')]
      return rows.length > 0 && rows.every((r) => r.getAttribute('data-status') === 'COMPLETED')
    })
    for (const badge of await page.locator('[data-testid="job-row"] .status').allTextContents()) expect(badge).toBe('COMPLETED')
    // Jobs keep completing: the page's count must catch up with the API's, live.
    await waitFor(
      "the page's COMPLETED count to match the API's",
      async () =>
        Number((await page.getByTestId('jobs-total').textContent())?.replace(/,/g, '')) === (await completedCount()) ? true : undefined,
      { timeoutMs: 20_000, intervalMs: 250 },
    )
    await screenshot(page, 'jobs')

    // Ten a page, unfiltered: the next page holds older ids, the previous one the newer again; the URL follows.
    await page.goto(new URL('/jobs?first=10', web.stack.serverUrl).toString())
    await page.getByTestId('job-row').nth(9).waitFor()
    const first = await rowIds(page)
    await page.getByRole('button', { name: 'Next page →' }).click()
    await page.waitForURL((url) => url.searchParams.getAll('after').length === 1)
    await page.waitForFunction(
      (newest) => {
        const ids = [...document.querySelectorAll('[data-testid="job-row"]')].map((r) => Number(r.getAttribute('data-job-id')))
        return ids.length > 0 && ids.every((id) => id < newest)
      },
      Math.min(...first),
    )
    const second = await rowIds(page)
    expect(second.filter((id) => first.includes(id))).toEqual([])
    await page.goBack()
    await page.waitForURL((url) => url.searchParams.getAll('after').length === 0)
    await page.waitForFunction(
      (oldest) => {
        const ids = [...document.querySelectorAll('[data-testid="job-row"]')].map((r) => Number(r.getAttribute('data-job-id')))
        return ids.length > 0 && ids.every((id) => id > oldest)
      },
      Math.max(...second),
    )
    await page.goForward()
    await page.waitForURL((url) => url.searchParams.getAll('after').length === 1)
    await page.getByRole('button', { name: '← Previous page' }).click()
    await page.waitForURL((url) => url.searchParams.getAll('after').length === 0 && url.searchParams.get('first') === '10')
    await page.waitForFunction(
      (oldest) => {
        const ids = [...document.querySelectorAll('[data-testid="job-row"]')].map((r) => Number(r.getAttribute('data-job-id')))
        return ids.length > 0 && ids.every((id) => id > oldest)
      },
      Math.max(...second),
    )
    expect(await page.getByRole('button', { name: '← Previous page' }).isDisabled()).toBe(true)
    expect(errors).toEqual([])
  }, 120_000)

  test('a job opened in flight shows its completed timeline, outcomes, payments and output without a reload', async () => {
    // Opened before the job exists: the page says so, then follows it in. The next two ids, since the demo mixes in
    // OPTIMISTIC jobs (which wait out a challenge window) and the test wants a REDUNDANT one.
    let opened: { page: Page; errors: string[]; id: string } | undefined
    for (let attempt = 0; attempt < 4 && !opened; attempt++) {
      const { jobs } = await api<{ jobs: { edges: { node: { id: string } }[] } }>('{ jobs(first: 1) { edges { node { id } } } }')
      const ids = [1, 2].map((n) => String(Number(jobs.edges[0].node.id) + n))
      const pages = await Promise.all(ids.map(async (id) => ({ id, ...(await web.open(`/jobs/${id}`)) })))
      const verifications = await waitFor(
        `jobs ${ids.join(' and ')} to be submitted`,
        async () => {
          const { jobs } = await api<{ jobs: { edges: { node: { id: string; verification: string } }[] } }>(
            'query ($ids: [BigInt!]) { jobs(where: { id_in: $ids }) { edges { node { id verification } } } }',
            { ids },
          )
          return jobs.edges.length === ids.length ? new Map(jobs.edges.map((e) => [e.node.id, e.node.verification])) : undefined
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      )
      opened = pages.find((p) => verifications.get(p.id) === 'REDUNDANT')
      for (const p of pages) if (p !== opened) await p.page.close()
    }
    if (!opened) throw new Error('the demo submitted no REDUNDANT job')
    const { page, errors, id } = opened
    await page.getByTestId('job-status').waitFor()

    await page.waitForFunction(() => document.querySelector('[data-testid="job-status"]')?.textContent === 'COMPLETED', undefined, {
      timeout: 60_000,
    })
    const { job } = await api<{ job: ApiJob }>(`query ($id: BigInt!) { job(id: $id) { ${jobFields} } }`, { id })
    expect(job.status).toBe('COMPLETED')

    const timeline = page.getByTestId('job-timeline')
    for (const step of ['submitted', 'assigned', 'committed', 'revealed', 'finalized'])
      expect(await timeline.locator(`li[data-step="${step}"]`).getAttribute('data-state')).toBe('done')
    expect(await timeline.locator('li[data-state="pending"], li[data-state="skipped"]').count()).toBe(0)
    expect(await timeline.locator('li[data-step="finalized"] .step').textContent()).toBe('Completed')

    expect(job.assignments.length).toBe(2)
    expect(job.assignments.map((a) => a.outcome)).toEqual(['AGREED', 'AGREED'])
    await page.waitForFunction(
      (n) =>
        [...document.querySelectorAll('[data-testid="assignment-row"] [data-testid="outcome"]')].filter((o) => o.textContent === 'AGREED')
          .length === n,
      job.assignments.length,
    )
    const providers = await page.getByTestId('assignment-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-provider')))
    expect(providers.sort()).toEqual(job.assignments.map((a) => a.provider).sort())
    expect(await page.locator('[data-testid="assignment-row"] a[href^="/providers/0x"]').count()).toBe(job.assignments.length)

    const key = (p: { kind: string | null; account: string | null; amount: string | null }) =>
      `${p.kind} ${p.account?.toLowerCase()} ${p.amount}`
    expect(job.payments.map((p) => p.kind)).toContain('FEE')
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="payment-row"]').length === n, job.payments.length)
    const shown = await page.getByTestId('payment-row').evaluateAll((rows) =>
      rows.map((r) => ({
        kind: r.getAttribute('data-kind'),
        account: r.getAttribute('data-account'),
        amount: r.getAttribute('data-amount'),
      })),
    )
    expect(shown.map(key)).toEqual(job.payments.map(key))

    // The output: its hash, and its bytes read by an assigned provider (dev key 2) that signs the request.
    expect(job.output).not.toBeNull()
    expect(await page.getByTestId('output-hash').textContent()).toBe(job.output?.outputHash)
    await screenshot(page, 'job')
    await page.getByRole('button', { name: 'Use dev account' }).click()
    const downloading = page.waitForEvent('download')
    await page.getByRole('button', { name: /^Sign and download as / }).click()
    const file = await (await downloading).path()
    const sha256 = `0x${createHash('sha256')
      .update(await readFile(file))
      .digest('hex')}`
    expect(sha256).toBe(job.output?.outputHash)
    await page.getByTestId('output-saved').waitFor()
    expect(errors).toEqual([])
  }, 120_000)

  test('a missing job and an invalid id each say so', async () => {
    const { page, errors } = await web.open('/jobs/987654321')
    await page.getByRole('heading', { name: 'No job 987654321', level: 1 }).waitFor()
    const invalid = await web.open('/jobs/abc')
    await invalid.page.getByRole('heading', { name: 'Invalid job id', level: 1 }).waitFor()
    expect(await invalid.page.getByRole('alert').textContent()).toContain('"abc" is not a job id')
    expect(errors).toEqual([])
    expect(invalid.errors).toEqual([])
  }, 60_000)
})
