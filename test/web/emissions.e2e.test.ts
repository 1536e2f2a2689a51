import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { emissionsCsvColumns } from '../../economics/emissionsCsv.ts'
import { formatTsr } from '../../web/src/format.ts'
import { noBrowserReason, screenshot, startWebStack, type WebStack } from '../support/browser.ts'
import { gqlData, waitFor } from '../support/graphql.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's emissions tests: ${noBrowserReason}`)

type Interval = 'EPOCH' | 'D7' | 'D30'
type Point = { epoch: string; fromEpoch: string; grossFees: string; verifiedFees: string; coverageTargetRatio: number | null }
type Report = { from: string; to: string; interval: Interval; points: Point[] }

/** The table's cell of `field` in the row of `epoch`, as the page shows it. */
const cell = (page: Page, epoch: string, field: string) =>
  page.locator(`[data-testid="emissions-table"] tr[data-epoch="${epoch}"] td[data-field="${field}"]`).textContent()
const tableRows = (page: Page) => page.locator('[data-testid="emissions-table"] tbody tr').count()

describe.skipIf(noBrowserReason)('emissions page', () => {
  let web: WebStack
  let stopDemo: () => void
  /** The last closed epoch once three epochs had fees: the fixed range [0, last] the first tests draw. */
  let last: string
  let page: Page
  let errors: string[]

  const report = async (args: { from?: string; to?: string; interval: Interval }): Promise<Report> =>
    (
      await gqlData<{ emissionsVsUsage: Report }>(
        new URL('/graphql', web.stack.serverUrl).toString(),
        `query ($from: BigInt, $to: BigInt, $interval: EmissionsInterval) {
          emissionsVsUsage(from: $from, to: $to, interval: $interval) {
            from to interval points { epoch fromEpoch grossFees verifiedFees coverageTargetRatio }
          }
        }`,
        args,
      )
    ).emissionsVsUsage

  beforeAll(async () => {
    // Five-second epochs, which the leader closes on its own (advanceEpoch), and demo jobs so they carry fees.
    web = await startWebStack({ epochLength: 5 })
    stopDemo = web.startDemo(500)
    last = await waitFor(
      'three closed epochs with fees',
      async () => {
        const r = await report({ interval: 'EPOCH' })
        return r.points.filter((p) => BigInt(p.grossFees) > 0n).length >= 3 ? r.to : undefined
      },
      { timeoutMs: 120_000 },
    )
  }, 240_000)
  afterAll(async () => {
    stopDemo?.()
    await web?.stop()
  }, 60_000)

  test('draws the API’s epochs as charts, with a table of the same rows and coverage against its target', async () => {
    ;({ page, errors } = await web.open(`/emissions?from=0&to=${last}`))
    await page.getByRole('heading', { name: 'Emissions vs usage', level: 1 }).waitFor()
    const api = await report({ from: '0', to: last, interval: 'EPOCH' })
    expect(api.points.length).toBeGreaterThanOrEqual(3)
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="emissions-table"] tbody tr').length === n,
      api.points.length,
      { timeout: 30_000 },
    )
    expect(await tableRows(page)).toBe(api.points.length)

    for (const chart of ['fees-chart', 'coverage-chart', 'subsidy-chart', 'issuance-chart', 'utilisation-chart', 'budget-chart'])
      expect(await page.locator(`[data-testid="${chart}"] canvas`).count(), chart).toBeGreaterThan(0)
    // The coverage chart's second series is the τ/κ target, drawn from the API's value.
    const legend = await page.locator('[data-testid="coverage-chart"] .u-legend').textContent()
    expect(legend).toContain('coverage')
    expect(legend).toContain('τ/κ target')
    expect(api.points[0].coverageTargetRatio).not.toBeNull()

    const paid = api.points.filter((p) => BigInt(p.grossFees) > 0n)
    for (const p of paid) {
      expect(await cell(page, p.epoch, 'grossFees')).toBe(formatTsr(p.grossFees, 6, false))
      expect(await cell(page, p.epoch, 'verifiedFees')).toBe(formatTsr(p.verifiedFees, 6, false))
    }

    await page.getByText('The numbers drawn, as a table').click()
    await screenshot(page, 'emissions')
    expect(errors).toEqual([])
  }, 90_000)

  test('the 7-day roll-up, chosen with the keyboard, redraws from the API’s D7 answer and goes into the URL', async () => {
    const epochs = await report({ from: '0', to: last, interval: 'EPOCH' })
    const weeks = await report({ from: '0', to: last, interval: 'D7' })
    await page.getByRole('radio', { name: 'Per epoch' }).focus()
    await page.keyboard.press('ArrowRight')
    expect(await page.getByRole('radio', { name: '7 days' }).isChecked()).toBe(true)
    await page.waitForURL(/[?&]interval=D7(&|$)/)
    // The link is built from the answer the page drew, so it names D7 once the 7-day numbers are in.
    await page.waitForFunction(() => document.querySelector('[data-testid="emissions-csv"]')?.getAttribute('href')?.includes('interval=D7'))
    expect(await tableRows(page)).toBe(weeks.points.length)

    // A window that sums fees from more than its own epoch: the 7-day value differs from the single epoch's.
    const summed = weeks.points.find((w, i) => w.grossFees !== epochs.points[i].grossFees)
    if (!summed) throw new Error(`no 7-day window differs from its epoch in 0–${last}`)
    const single = epochs.points.find((p) => p.epoch === summed.epoch)
    expect(await cell(page, summed.epoch, 'grossFees')).toBe(formatTsr(summed.grossFees, 6, false))
    expect(await cell(page, summed.epoch, 'grossFees')).not.toBe(formatTsr(single?.grossFees ?? '0', 6, false))
    expect(await page.locator(`[data-testid="emissions-table"] tr[data-epoch="${summed.epoch}"] th`).textContent()).toBe(
      summed.fromEpoch === summed.epoch ? summed.epoch : `${summed.fromEpoch}–${summed.epoch}`,
    )
    await screenshot(page, 'emissions-7d')
    expect(errors).toEqual([])
  }, 60_000)

  test('the CSV link downloads the drawn range and roll-up: the same header and rows', async () => {
    const link = page.getByRole('link', { name: 'Download these numbers as CSV' })
    expect(await link.getAttribute('download')).toMatch(/\.csv$/)
    const href = new URL((await link.getAttribute('href')) ?? '', web.stack.serverUrl)
    expect(href.pathname).toBe('/analytics/emissions.csv')
    expect(Object.fromEntries(href.searchParams)).toEqual({ from: '0', to: last, interval: 'D7' })

    const response = await fetch(href)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/)
    const [header, ...rows] = (await response.text()).trimEnd().split('\r\n')
    expect(header).toBe(Object.values(emissionsCsvColumns).join(','))
    expect(rows.length).toBe(await tableRows(page))
    const weeks = await report({ from: '0', to: last, interval: 'D7' })
    expect(rows.map((r) => r.split(',')[0])).toEqual(weeks.points.map((p) => p.epoch))
    expect(errors).toEqual([])
  }, 60_000)

  test('the default view (the last 30 epochs) shows a newly closed epoch without a reload', async () => {
    const live = await web.open('/emissions')
    await live.page.locator('[data-testid="emissions-table"] tbody tr').first().waitFor({ state: 'attached', timeout: 30_000 })
    const before = await tableRows(live.page)
    const newest = await live.page.locator('[data-testid="emissions-table"] tbody tr').last().getAttribute('data-epoch')
    await live.page.waitForFunction(
      (epoch) => {
        const rows = document.querySelectorAll('[data-testid="emissions-table"] tbody tr')
        return Number(rows[rows.length - 1]?.getAttribute('data-epoch')) > Number(epoch)
      },
      newest,
      { timeout: 30_000 },
    )
    expect(await tableRows(live.page)).toBeGreaterThanOrEqual(Math.min(before + 1, 30))
    expect(live.page.url()).not.toContain('interval')
    expect(live.errors).toEqual([])
  }, 60_000)

  test('a bad address or range says what is wrong; a range not closed yet says it will fill in live', async () => {
    const bad = await web.open('/emissions?interval=weekly&from=9&to=3')
    const warning = bad.page.getByRole('alert').first()
    await warning.waitFor()
    expect(await warning.textContent()).toContain('interval must be one of EPOCH, D7, D30, got “WEEKLY”')
    expect(await warning.textContent()).toContain('from (9) is after to (3)')
    // It falls back to the last 30 epochs per epoch rather than a blank page.
    await bad.page.locator('[data-testid="emissions-table"] tbody tr').first().waitFor({ state: 'attached' })

    await bad.page.getByLabel('From epoch').fill('5')
    await bad.page.getByLabel('To epoch (empty: the latest closed)').fill('2')
    await bad.page.getByRole('button', { name: 'Show' }).click()
    await bad.page.getByRole('alert').filter({ hasText: 'from (5) is after to (2)' }).waitFor()
    expect(bad.page.url()).toContain('from=9')

    await bad.page.getByLabel('From epoch').fill('100000')
    await bad.page.getByLabel('To epoch (empty: the latest closed)').fill('100004')
    await bad.page.getByRole('button', { name: 'Show' }).click()
    await bad.page.waitForURL(/from=100000&to=100004/)
    expect(await bad.page.getByTestId('emissions-empty').textContent()).toContain('No epoch in 100000–100004 has closed yet')
    expect(bad.errors).toEqual([])
  }, 60_000)
})
