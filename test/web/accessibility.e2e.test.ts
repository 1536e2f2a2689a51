import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { devKeys } from '../../devnet/devAccounts.ts'
import { accessibilityViolations, noBrowserReason, startWebStack, type WebStack } from '../support/browser.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's accessibility tests: ${noBrowserReason}`)

/** Every page, with what shows once it has loaded its data. */
const pages = [
  { path: '/', ready: 'Market' },
  { path: '/jobs', ready: 'Jobs' },
  { path: '/jobs/1', ready: /Job #1/ },
  { path: '/providers', ready: 'Providers' },
  { path: `/providers/${privateKeyToAccount(devKeys[2]).address}`, ready: /Provider/ },
  { path: '/emissions', ready: /Emissions/ },
  { path: '/submit', ready: /Submit a job/ },
  { path: '/console', ready: /Provider console/ },
] as const

describe.skipIf(noBrowserReason)('dashboard accessibility', () => {
  let web: WebStack
  beforeAll(async () => {
    web = await startWebStack()
    web.startDemo(500)
  }, 240_000)
  afterAll(async () => {
    await web?.stop()
  }, 60_000)

  test('no page breaks a serious or critical WCAG 2.1 AA rule (labels, contrast, names, structure)', async () => {
    const found: Record<string, unknown> = {}
    for (const { path, ready } of pages) {
      const { page, errors } = await web.open(path)
      const shown = await page
        .getByRole('heading', { level: 1, name: ready })
        .waitFor({ timeout: 30_000 })
        .then(
          () => true,
          () => false,
        )
      if (!shown) {
        found[path] = `no h1 "${ready}" within 30 s`
        await page.context().close()
        continue
      }
      // Let the live data arrive: an empty page has little to break.
      await page.waitForTimeout(1_000)
      const violations = await accessibilityViolations(page)
      if (violations.length || errors.length) found[path] = { violations, errors }
      await page.context().close()
    }
    expect(found).toEqual({})
  }, 180_000)

  test('the check finds what it looks for: an unlabelled field and grey-on-grey text fail it', async () => {
    const page = await web.browser.newPage()
    await page.setContent(
      '<!doctype html><html lang="en"><title>t</title><main><h1>t</h1><input type="text"><p style="color:#aaa;background:#bbb">faint</p></main></html>',
    )
    expect((await accessibilityViolations(page)).map((v) => v.id).sort()).toEqual(['color-contrast', 'label'])
    await page.close()
  })

  test('the keyboard reaches everything: skip link first, then every page through the navigation', async () => {
    const { page } = await web.open('/')
    await page.getByTestId('job-count').waitFor()
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
    await page.keyboard.press('Enter')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main')
    // Tab from the top to the Jobs link and follow it with Enter.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
    await page.goto(new URL('/', web.stack.serverUrl).toString())
    let reached = false
    for (let i = 0; i < 6 && !reached; i++) {
      await page.keyboard.press('Tab')
      reached = (await page.evaluate(() => document.activeElement?.textContent)) === 'Jobs'
    }
    expect(reached).toBe(true)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/jobs')
    expect(await page.getByRole('link', { name: 'Jobs' }).first().getAttribute('aria-current')).toBe('page')
  }, 60_000)
})
