import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { type Browser, chromium, type Page } from 'playwright-core'
import { type Hex, parseEther } from 'viem'
import { runDemoWorkload } from '../../devnet/demoWorkload.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import type { Stack, StackAgent } from '../../devnet/startStack.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'
import { startTestStack } from './stack.ts'

/** Debian's Chromium, which `.ci/run` installs (`TESSERA_CHROMIUM` names another). */
export const chromiumPath = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium'

/** Why the browser tests can't run here, or undefined when they can (printed by the tests that skip). */
export const noBrowserReason: string | undefined = existsSync(chromiumPath)
  ? undefined
  : `no Chromium at ${chromiumPath}: install Debian's (apt-get install -y chromium) or set TESSERA_CHROMIUM`

/** Where the pages' screenshots go (`test-results/`, beside the repository's root). */
export const screenshotDir = path.resolve(import.meta.dirname, '..', '..', 'test-results')

/** A TSR amount as the dashboard prints it (`1,234.5 TSR`), in wei. */
export const tsrWeiOf = (text: string | null) => parseEther((text ?? '').replace(/ TSR$/, '').replace(/,/g, ''))

/** Headless Chromium as a user has it, minus what a test machine can't do (GPU, sandbox as root) or shouldn't (network calls home). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Saves a full-page screenshot as `test-results/<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true })
  const file = path.join(screenshotDir, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

/**
 * Fails the test with what the page logged when it threw or logged an error: a page that breaks in the console but
 * still shows something must not pass. Returns the list the page's errors collect in.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  return errors
}

/** A stack for the dashboard's tests: the whole marketplace, serving the built app at `/`, and a Chromium to drive it. */
export type WebStack = {
  stack: Stack
  browser: Browser
  /**
   * A new page (own context: own storage) at `path` of the server, its errors collected; `initScript` runs in it before
   * any of the page's own (an injected wallet).
   */
  open: (path: string, options?: { initScript?: string }) => Promise<{ page: Page; errors: string[] }>
  /** Starts the demo workload (a job every `intervalMs` from dev key 5, through the gateway); returns its stop. */
  startDemo: (intervalMs?: number) => () => void
  stop: () => Promise<void>
}

/**
 * Starts a test stack (two agents on dev keys 2 and 3 unless `agents` says otherwise; dev keys 5–7 funded as requesters)
 * and Chromium. The app must be built (`npm test` builds it first; `npm run web:build` by hand).
 */
export async function startWebStack(
  parameters: { agents?: StackAgent[]; requesters?: Hex[]; epochLength?: number; proofWindow?: number } = {},
): Promise<WebStack> {
  const database: TestDatabase = await createTestDatabase()
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-web-'))
  const cleanup: (() => Promise<unknown>)[] = [() => database.drop(), () => rm(dataDir, { recursive: true, force: true })]
  const stopAll = async () => {
    for (const stop of cleanup.reverse()) await stop().catch(() => {})
  }
  try {
    const stack = await startTestStack({
      dataDir,
      databaseUrl: database.url,
      agents: parameters.agents ?? [
        { privateKey: devKeys[2], pricePerUnit: 10n ** 15n },
        { privateKey: devKeys[3], pricePerUnit: 2n * 10n ** 15n },
      ],
      requesters: parameters.requesters ?? [devKeys[5], devKeys[6], devKeys[7]],
      epochLength: parameters.epochLength,
      proofWindow: parameters.proofWindow,
    })
    cleanup.push(() => stack.stop())
    const browser = await launchChromium()
    cleanup.push(() => browser.close())
    const demos: AbortController[] = []
    return {
      stack,
      browser,
      async open(pathname, options = {}) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
        const page = await context.newPage()
        if (options.initScript) await page.addInitScript({ content: options.initScript })
        const errors = collectPageErrors(page)
        await page.goto(new URL(pathname, stack.serverUrl).toString())
        return { page, errors }
      },
      startDemo(intervalMs = 500) {
        const controller = new AbortController()
        demos.push(controller)
        void runDemoWorkload({
          serverUrl: stack.serverUrl,
          rpcUrl: stack.rpcUrl,
          deployment: stack.deployment,
          requesterKey: devKeys[5],
          intervalMs,
          log: pino({ level: 'silent' }),
          signal: controller.signal,
        }).catch(() => {})
        return () => controller.abort()
      },
      async stop() {
        for (const d of demos) d.abort()
        await stopAll()
      },
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}

/** One accessibility rule a page breaks, as axe-core reports it, with the elements that break it. */
export type AccessibilityViolation = { id: string; impact: string | null; help: string; targets: string[] }

/**
 * Runs axe-core (the WCAG 2.1 A and AA rules, contrast included) on the page as it is now; returns the violations of
 * `serious` or `critical` impact.
 */
export async function accessibilityViolations(page: Page): Promise<AccessibilityViolation[]> {
  const { source } = await import('axe-core')
  await page.evaluate(source)
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: typeof import('axe-core') }).axe
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }))
  })
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

/**
 * A script that gives the page an EIP-1193 wallet (`window.ethereum`) holding one of anvil's unlocked accounts: it
 * shares `address` when asked for accounts and hands every other request (`eth_sendTransaction`, `personal_sign`,
 * reads) to the node at `rpcUrl`, which signs for its dev accounts, as a wallet extension forwards to its node. What
 * the page does with it is what it does with MetaMask: the JSON-RPC requests of EIP-1193, nothing Tessera-specific.
 */
export function injectedWalletScript(rpcUrl: string, address: string): string {
  return `(() => {
    let id = 0;
    const rpc = async (method, params) => {
      const response = await fetch(${JSON.stringify(rpcUrl)}, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params: params ?? [] }),
      });
      const body = await response.json();
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    };
    window.__walletRequests = [];
    window.ethereum = {
      request: async ({ method, params }) => {
        window.__walletRequests.push(method);
        if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [${JSON.stringify(address)}];
        return rpc(method, params);
      },
      on() {},
      removeListener() {},
    };
  })();`
}
