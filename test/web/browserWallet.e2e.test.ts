import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Address, createPublicClient, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildMlp } from '../../agent/models/buildMlp.ts'
import { tesseraTokenAbi } from '../../contracts/generated/index.ts'
import { devKeys } from '../../devnet/devAccounts.ts'
import { injectedWalletScript, noBrowserReason, screenshot, startWebStack, tsrWeiOf, type WebStack } from '../support/browser.ts'
import { gqlData } from '../support/graphql.ts'

if (noBrowserReason) console.warn(`skipping the dashboard's browser-wallet tests: ${noBrowserReason}`)

// Dev key 6: a requester funded by the stack that the other dashboard tests don't sign with; dev key 2: an agent.
const requester = privateKeyToAccount(devKeys[6]).address
const provider = privateKeyToAccount(devKeys[2]).address

describe.skipIf(noBrowserReason)('signing with a browser wallet (EIP-1193)', () => {
  let web: WebStack
  let dir: string
  beforeAll(async () => {
    web = await startWebStack()
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-wallet-'))
  }, 240_000)
  afterAll(async () => {
    await web?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  }, 60_000)

  const graphqlUrl = () => new URL('/graphql', web.stack.serverUrl).toString()
  const openWith = async (pathname: string, address: Address) => {
    const opened = await web.open(pathname, { initScript: injectedWalletScript(web.stack.rpcUrl, address) })
    await opened.page.getByRole('button', { name: 'Connect browser wallet' }).click()
    await expect.poll(() => opened.page.getByTestId('wallet-address').textContent(), { timeout: 20_000 }).toBe(address)
    return opened
  }
  const walletRequests = (page: import('playwright-core').Page) =>
    page.evaluate(() => (window as unknown as { __walletRequests: string[] }).__walletRequests)

  test('a requester submits a job from the page, the wallet signing its uploads and transactions; then a provider withdraws', async () => {
    const modelFile = path.join(dir, 'model.onnx')
    await writeFile(modelFile, buildMlp({ seed: 21, inputSize: 16, hiddenSize: 16, outputSize: 4 }))
    const submit = await openWith('/submit', requester)
    const { page } = submit
    await page.getByLabel('ONNX model file').setInputFiles(modelFile)
    const rows = Array.from({ length: 3 }, (_, r) => Array.from({ length: 16 }, (_, c) => ((r + c) % 8) / 4 - 1))
    await page.getByLabel('Input rows (JSON)').fill(JSON.stringify(rows))
    await expect.poll(() => page.getByTestId('quote-eligible').textContent(), { timeout: 30_000 }).toBe('2')
    await page.getByTestId('submit-job').click()
    await page.getByTestId('job-status').getByText('COMPLETED').waitFor({ timeout: 90_000 })
    const jobId = (await page.locator('#follow-heading a').textContent())?.replace('#', '') ?? ''
    const { job } = await gqlData<{ job: { status: string; requester: string } }>(
      graphqlUrl(),
      'query($id: BigInt!) { job(id: $id) { status requester } }',
      { id: jobId },
    )
    expect(job).toEqual({ status: 'COMPLETED', requester })
    // The wallet, not a key in the page, signed: two uploads (personal_sign), an approve and the submit.
    const requests = await walletRequests(page)
    expect(requests.filter((m) => m === 'personal_sign').length).toBeGreaterThanOrEqual(2)
    expect(requests.filter((m) => m === 'eth_sendTransaction')).toHaveLength(2)
    expect(submit.errors).toEqual([])

    // The job paid both agents; no other job runs on this stack, so what dev key 2 is owed stays put.
    const consolePage = await openWith('/console', provider)
    const owedText = consolePage.page.getByTestId('console-owed')
    await expect.poll(async () => tsrWeiOf(await owedText.textContent()), { timeout: 30_000 }).toBeGreaterThan(0n)
    const owed = tsrWeiOf(await owedText.textContent())
    const chain = createPublicClient({ transport: http(web.stack.rpcUrl) })
    const balance = () =>
      chain.readContract({
        address: web.stack.deployment.contracts.TesseraToken.address as Address,
        abi: tesseraTokenAbi,
        functionName: 'balanceOf',
        args: [provider],
      })
    const before = await balance()
    await consolePage.page.getByRole('button', { name: 'Withdraw' }).click()
    await consolePage.page.getByTestId('console-result').waitFor({ timeout: 30_000 })
    expect(await balance()).toBe(before + owed)
    expect((await walletRequests(consolePage.page)).filter((m) => m === 'eth_sendTransaction')).toHaveLength(1)
    await screenshot(consolePage.page, 'console-browser-wallet')
    expect(consolePage.errors).toEqual([])
  }, 240_000)

  test('without a wallet in the browser, connecting one says so and offers the dev accounts', async () => {
    const { page, errors } = await web.open('/console')
    const button = page.getByRole('button', { name: 'Connect browser wallet' })
    await button.waitFor()
    expect(await button.isDisabled()).toBe(true)
    expect(await button.getAttribute('title')).toBe('No browser wallet found')
    await page.getByRole('button', { name: 'Use dev account' }).waitFor()
    expect(errors).toEqual([])
  }, 60_000)
})
