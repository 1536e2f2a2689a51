import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { noBrowserReason, screenshot, startWebStack, type WebStack } from '../support/browser.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's market tests: ${noBrowserReason}`)

describe.skipIf(noBrowserReason)('market page', () => {
  let web: WebStack
  beforeAll(async () => {
    web = await startWebStack()
  }, 240_000)
  afterAll(async () => {
    await web?.stop()
  }, 60_000)

  test('shows the job count rising live as jobs come in, with the indexer head moving', async () => {
    const { page, errors } = await web.open('/')
    // Offline-complete: every request the page makes goes to the server that served it (no CDN, font or analytics).
    const origins = new Set<string>()
    page.on('request', (request) => origins.add(new URL(request.url()).origin))
    page.on('websocket', (socket) => origins.add(new URL(socket.url()).origin.replace(/^ws/, 'http')))
    await page.reload()
    await expect(page.getByRole('heading', { name: 'Market', level: 1 })).toBeDefined()
    const count = page.getByTestId('job-count')
    await count.waitFor()
    const first = Number((await count.textContent())?.replace(/,/g, ''))
    const head = Number(await page.getByTestId('indexer-head').textContent())
    const stopDemo = web.startDemo(400)
    try {
      // No reload: the count must move through the live feed alone.
      await page.waitForFunction(
        ([before]) => Number(document.querySelector('[data-testid="job-count"]')?.textContent?.replace(/,/g, '')) >= before + 3,
        [first],
        { timeout: 60_000 },
      )
    } finally {
      stopDemo()
    }
    expect(Number(await page.getByTestId('indexer-head').textContent())).toBeGreaterThan(head)
    expect(await page.getByTestId('providers-online').textContent()).toMatch(/^2 of 2/)
    // The charts drew (uPlot's canvas) and the status table lists the jobs the demo submitted.
    expect(await page.locator('[data-testid="jobs-rate-chart"] canvas').count()).toBeGreaterThan(0)
    await page
      .getByTestId('jobs-by-status')
      .getByRole('cell', { name: /OPEN|ASSIGNED|COMMITTED|REVEALED|COMPLETED/ })
      .first()
      .waitFor()
    // Both agents' GPU class, with their asks as its range.
    const prices = await page.getByTestId('price-table').textContent()
    expect(prices).toContain('0.001 TSR')
    expect(prices).toContain('0.002 TSR')
    await screenshot(page, 'market')
    expect([...origins]).toEqual([new URL(web.stack.serverUrl).origin])
    expect(errors).toEqual([])
  }, 120_000)

  test('a path the app routes in the page loads it; the API keeps its own paths', async () => {
    const { page } = await web.open('/no/such/page')
    await page.getByRole('heading', { name: 'Not found' }).waitFor()
    const api = await fetch(new URL('/graphql', web.stack.serverUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ marketStats { jobs } }' }),
    })
    expect(api.status).toBe(200)
    const missingAsset = await fetch(new URL('/assets/missing.js', web.stack.serverUrl), { headers: { accept: 'text/html' } })
    expect(missingAsset.status).toBe(404)
    const config = await (await fetch(new URL('/app-config.json', web.stack.serverUrl))).json()
    expect(config).toEqual({ chainId: web.stack.deployment.chainId, rpcUrl: web.stack.rpcUrl, devnet: true })
  }, 60_000)
})
